package testsrc

// layout places the picture's elements. Colour bars fill the top quarter;
// below, on a dark background, a line of stream parameters (static), the
// clock, the frame counter and a bar that fills over each minute (dynamic).
// The dynamic elements sit in their own macroblock rows, dynRow0..dynRow1-1,
// the only ones coded again at every keyframe.
type layout struct {
	width, height int // display size
	barsH         int // rows of colour bars, a multiple of 16

	info    textLine // stream parameters; static
	clock   textLine // HH:MM:SS
	counter textLine // frame counter

	barX0, barX1, barY0, barY1 int // track of the minute bar

	dynRow0, dynRow1 int // macroblock rows coded at every keyframe
}

type textLine struct {
	x, y, scale int
	visible     bool
}

// Text lengths the layout makes room for.
const (
	clockChars   = len("00:00:00")
	counterChars = len("UTC  frame 0000000")
)

// newLayout fits the elements into a width x height picture (both >= 64),
// with infoLen characters of stream parameters.
func newLayout(width, height, infoLen int) layout {
	margin := max(4, even(width/32))
	barsH := max(16, (height/4+8)/16*16)
	// The largest clock that fits the width, then smaller until the whole
	// stack fits the height.
	for sc := (width - 2*margin) / textWidth(clockChars, 1); sc >= 1; sc-- {
		if sc > 2 && sc%2 != 0 {
			continue // even scales keep glyph edges on the 2x2 chroma grid
		}
		if sc > 16 && sc%16 != 0 {
			continue // see stack
		}
		l, bottom := stack(width, height, margin, barsH, sc, infoLen, 0)
		if bottom > height {
			continue
		}
		// Centre the stack in the space below the bars when it still fits.
		if shift := even((height - bottom) / 2); shift > 0 {
			if l2, b2 := stack(width, height, margin, barsH, sc, infoLen, shift); b2 <= height && l2.dynRow1*16 <= (height+15)/16*16 {
				return l2
			}
		}
		return l
	}
	l, _ := stack(width, height, margin, barsH, 1, 0, 0)
	return l
}

// stack lays the elements out top to bottom with clock scale sc, shift rows
// below the bars, and returns the layout and its bottom edge (including the
// bottom gap).
func stack(width, height, margin, barsH, sc, infoLen, shift int) (layout, int) {
	l := layout{width: width, height: height, barsH: barsH}
	gap := max(2, even(sc/2))
	avail := width - 2*margin
	// Text starts on a macroblock row where it can: rows of macroblocks that
	// text crosses are coded as raw samples, so fewer rows, fewer bytes.
	y := ceil16(barsH + gap + shift)

	si := min(4, max(1, even(sc/4))) // a side note: small text, few bytes
	for si > 1 && textWidth(infoLen, si) > avail {
		si = max(1, even(si-1))
	}
	if infoLen > 0 && textWidth(infoLen, si) <= avail {
		l.info = textLine{x: even((width - textWidth(infoLen, si)) / 2), y: y, scale: si, visible: true}
		y += 7*si + gap
	}

	if !l.info.visible {
		y = barsH + gap + shift
	}
	y = ceil16(y)
	l.dynRow0 = y / 16
	l.clock = textLine{x: even((width - textWidth(clockChars, sc)) / 2), y: y, scale: sc, visible: true}
	if sc%16 == 0 {
		// Font pixels that are whole macroblocks: every macroblock is one
		// colour, and most repeat a neighbour, so few are raw samples.
		l.clock.x &^= 15
	}
	y += 7*sc + gap

	sf := max(1, even(sc*2/5))
	for sf > 1 && textWidth(counterChars, sf) > avail {
		sf = max(1, even(sf-1))
	}
	l.counter = textLine{x: max(margin, l.clock.x), y: y, scale: sf, visible: true}
	y += 7*sf + gap

	bh := max(2, even(sc/2))
	l.barX0, l.barX1, l.barY0, l.barY1 = margin, width-margin, y, y+bh
	y += bh
	l.dynRow1 = ceil16(y) / 16
	return l, y + gap
}

func ceil16(v int) int { return (v + 15) &^ 15 }

// even rounds v down to an even number, keeping 1 as 1.
func even(v int) int {
	if v <= 1 {
		return v
	}
	return v &^ 1
}
