package load

import (
	"bytes"
	"testing"
)

// testStream makes frames of 40 ms from pts0 (taken modulo 2^33).
func testStream(pts0 int64, frames int) []byte {
	var g tsGen
	var b []byte
	for i := range frames {
		b = g.frame(b, pts0+int64(i)*testFrameTicks, 3)
	}
	return b
}

// stripPCR clears the PCR flag of every packet, leaving PTS as the clock.
func stripPCR(b []byte) []byte {
	b = bytes.Clone(b)
	for i := 0; i+tsPacketSize <= len(b); i += tsPacketSize {
		if b[i+3]&0x20 != 0 && b[i+4] >= 7 {
			b[i+5] &^= 0x10
		}
	}
	return b
}

func TestTSClock(t *testing.T) {
	across := testStream(tsWrap-2*ticksPerSec, 100) // crosses the 33-bit wrap
	for _, tc := range []struct {
		name string
		in   []byte
		want int64 // ticks
		src  int
	}{
		{"pcr", testStream(0, 50), 49 * testFrameTicks, srcPCR},
		{"pcr across wrap", across, 99 * testFrameTicks, srcPCR},
		{"pts only", stripPCR(testStream(1000, 50)), 49 * testFrameTicks, srcVideoPTS},
		{"pts across wrap", stripPCR(across), 99 * testFrameTicks, srcVideoPTS},
		{"discontinuity", append(testStream(0, 26), testStream(50*ticksPerSec, 26)...), 50 * testFrameTicks, srcPCR},
		{"garbage between", append(append(testStream(0, 10), []byte("\x47garbage\x47\x00")...), testStream(10*testFrameTicks, 10)...), 19 * testFrameTicks, srcPCR},
		{"leading garbage", append([]byte{1, 2, 0x47, 3}, testStream(0, 10)...), 9 * testFrameTicks, srcPCR},
	} {
		for _, step := range []int{1, 100, 188, 189, 1 << 20} {
			var c tsClock
			for in := tc.in; len(in) > 0; {
				n := min(step, len(in))
				c.feed(in[:n])
				in = in[n:]
			}
			if !c.started || c.ticks != tc.want || c.src != tc.src {
				t.Errorf("%s/step %d: started %v ticks %d src %d, want %d src %d", tc.name, step, c.started, c.ticks, c.src, tc.want, tc.src)
			}
		}
	}
}

func TestTSClockPrefersPCR(t *testing.T) {
	var c tsClock
	c.feed(stripPCR(testStream(0, 10)))
	if c.src != srcVideoPTS || c.ticks != 9*testFrameTicks {
		t.Fatalf("pts phase: src %d ticks %d", c.src, c.ticks)
	}
	var g tsGen
	var b []byte
	for i := 10; i < 20; i++ {
		b = g.frame(b, int64(i)*testFrameTicks, 0)
	}
	c.feed(b)
	// The switch to PCR keeps what PTS counted and continues from the PCR.
	if c.src != srcPCR || c.ticks != 18*testFrameTicks {
		t.Errorf("after PCR: src %d ticks %d", c.src, c.ticks)
	}
}

func TestTSClockNoTimestamps(t *testing.T) {
	var c tsClock
	c.feed(bytes.Repeat([]byte{0x47, 0x1f, 0xff, 0x10}, 470))
	if c.started {
		t.Error("clock started on null packets")
	}
}

func BenchmarkTSClockFeed(b *testing.B) {
	in := testStream(0, 250)
	var c tsClock
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		for p := in; len(p) > 0; {
			n := min(16<<10, len(p))
			c.feed(p[:n])
			p = p[n:]
		}
	}
}
