package testsrc

import "math/bits"

// bitWriter appends bits most significant first to a byte slice, as the
// H.264 and AAC syntax is written.
type bitWriter struct {
	buf  []byte
	acc  uint64 // pending bits, right-aligned
	nacc uint   // number of pending bits, < 8 between calls
}

// reset starts writing into buf (its contents are dropped, its capacity kept).
func (w *bitWriter) reset(buf []byte) {
	w.buf, w.acc, w.nacc = buf[:0], 0, 0
}

// u writes the n low bits of v (n <= 56).
func (w *bitWriter) u(n uint, v uint64) {
	if n == 0 {
		return
	}
	w.acc = w.acc<<n | v&(1<<n-1)
	w.nacc += n
	for w.nacc >= 8 {
		w.nacc -= 8
		w.buf = append(w.buf, byte(w.acc>>w.nacc))
	}
	w.acc &= 1<<w.nacc - 1
}

// flag writes one bit.
func (w *bitWriter) flag(b bool) {
	if b {
		w.u(1, 1)
	} else {
		w.u(1, 0)
	}
}

// ue writes v as an unsigned Exp-Golomb code.
func (w *bitWriter) ue(v uint32) {
	x := uint64(v) + 1
	n := uint(bits.Len64(x))
	w.u(n-1, 0)
	w.u(n, x)
}

// se writes v as a signed Exp-Golomb code.
func (w *bitWriter) se(v int32) {
	if v > 0 {
		w.ue(uint32(2*int64(v) - 1))
	} else {
		w.ue(uint32(-2 * int64(v)))
	}
}

// aligned tells whether the next bit starts a byte.
func (w *bitWriter) aligned() bool { return w.nacc == 0 }

// alignZero pads with zero bits to the next byte boundary.
func (w *bitWriter) alignZero() {
	if w.nacc > 0 {
		w.u(8-w.nacc, 0)
	}
}

// trailing writes rbsp_trailing_bits: a one bit, then zero bits to the byte
// boundary.
func (w *bitWriter) trailing() {
	w.u(1, 1)
	w.alignZero()
}

// bytes appends whole bytes; the writer must be aligned.
func (w *bitWriter) bytes(b []byte) {
	if w.nacc != 0 {
		w.alignZero() // never reached by callers, keeps the stream consistent
	}
	w.buf = append(w.buf, b...)
}
