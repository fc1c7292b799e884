package testsrc

import "math"

// color is a Y'CbCr colour, limited range, BT.709.
type color struct{ y, cb, cr byte }

// rgb converts 8-bit R'G'B' to limited-range BT.709 Y'CbCr. Every sample is
// within 16..240, never zero, so picture samples can never form a start code
// prefix.
func rgb(r, g, b float64) color {
	const kr, kb = 0.2126, 0.0722
	r, g, b = r/255, g/255, b/255
	y := kr*r + (1-kr-kb)*g + kb*b
	cb := (b - y) / (2 * (1 - kb))
	cr := (r - y) / (2 * (1 - kr))
	clamp := func(v, lo, hi float64) byte { return byte(math.Max(lo, math.Min(hi, math.Round(v)))) }
	return color{clamp(16+219*y, 16, 235), clamp(128+224*cb, 16, 240), clamp(128+224*cr, 16, 240)}
}

// picture is a band of 4:2:0 planes: rows top..top+h of the coded frame,
// full coded width. Drawing takes frame coordinates and clips to the band.
type picture struct {
	w, h, top  int
	y, cb, cr  []byte
	cw, ch     int // chroma plane size
	cTop       int // top/2
	yStride    int
	cStride    int
	lumaRowEnd int // top+h
}

func newPicture(w, top, h int) *picture {
	p := &picture{w: w, h: h, top: top, cw: w / 2, ch: h / 2, cTop: top / 2, lumaRowEnd: top + h}
	p.yStride, p.cStride = w, w/2
	p.y = make([]byte, w*h)
	p.cb = make([]byte, p.cw*p.ch)
	p.cr = make([]byte, p.cw*p.ch)
	return p
}

// fill paints the whole band.
func (p *picture) fill(c color) {
	fillBytes(p.y, c.y)
	fillBytes(p.cb, c.cb)
	fillBytes(p.cr, c.cr)
}

func fillBytes(b []byte, v byte) {
	if len(b) <= 64 {
		for i := range b {
			b[i] = v
		}
		return
	}
	b[0] = v
	for n := 1; n < len(b); n *= 2 {
		copy(b[n:], b[:n])
	}
}

// fillRect paints x0 <= x < x1, y0 <= y < y1 (frame coordinates). A chroma
// sample takes the colour of the top-left luma sample of its 2x2 block.
func (p *picture) fillRect(x0, y0, x1, y1 int, c color) {
	x0, x1 = max(x0, 0), min(x1, p.w)
	y0, y1 = max(y0, p.top), min(y1, p.lumaRowEnd)
	if x0 >= x1 || y0 >= y1 {
		return
	}
	for y := y0; y < y1; y++ {
		fillBytes(p.y[(y-p.top)*p.yStride+x0:(y-p.top)*p.yStride+x1], c.y)
	}
	cx0, cx1 := (x0+1)/2, (x1+1)/2
	cy0, cy1 := (y0+1)/2, (y1+1)/2
	for y := cy0; y < cy1; y++ {
		o := (y - p.cTop) * p.cStride
		if cx0 < cx1 {
			fillBytes(p.cb[o+cx0:o+cx1], c.cb)
			fillBytes(p.cr[o+cx0:o+cx1], c.cr)
		}
	}
}

// drawText draws s with the built-in 5x7 font, each font pixel scale x scale
// samples, the top-left corner at (x, y). Glyphs advance by 6 font pixels.
func (p *picture) drawText(x, y, scale int, s []byte, c color) {
	for _, ch := range s {
		g := glyph(ch)
		for row, bits := range g {
			for col := range 5 {
				if bits&(0x10>>col) != 0 {
					px, py := x+col*scale, y+row*scale
					p.fillRect(px, py, px+scale, py+scale, c)
				}
			}
		}
		x += glyphAdvance * scale
	}
}

// textWidth is the width drawText uses for n characters at scale.
func textWidth(n, scale int) int {
	if n == 0 {
		return 0
	}
	return (n*glyphAdvance - 1) * scale
}
