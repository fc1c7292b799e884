package testsrc

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// bitString renders the written bits as '0'/'1', pending bits included.
func bitString(w *bitWriter) string {
	var sb strings.Builder
	for _, b := range w.buf {
		fmt.Fprintf(&sb, "%08b", b)
	}
	for i := int(w.nacc) - 1; i >= 0; i-- {
		sb.WriteByte('0' + byte(w.acc>>uint(i)&1))
	}
	return sb.String()
}

func TestBitWriterGolomb(t *testing.T) {
	for _, tc := range []struct {
		write func(w *bitWriter)
		want  string
	}{
		{func(w *bitWriter) { w.ue(0) }, "1"},
		{func(w *bitWriter) { w.ue(1) }, "010"},
		{func(w *bitWriter) { w.ue(2) }, "011"},
		{func(w *bitWriter) { w.ue(3) }, "00100"},
		{func(w *bitWriter) { w.ue(7) }, "0001000"},
		{func(w *bitWriter) { w.ue(25) }, "000011010"}, // I_PCM
		{func(w *bitWriter) { w.ue(1<<32 - 2) }, strings.Repeat("0", 31) + "1" + strings.Repeat("1", 31)},
		{func(w *bitWriter) { w.ue(1<<32 - 1) }, strings.Repeat("0", 32) + "1" + strings.Repeat("0", 32)},
		{func(w *bitWriter) { w.se(0) }, "1"},
		{func(w *bitWriter) { w.se(1) }, "010"},
		{func(w *bitWriter) { w.se(-1) }, "011"},
		{func(w *bitWriter) { w.se(2) }, "00100"},
		{func(w *bitWriter) { w.se(-2) }, "00101"},
		{func(w *bitWriter) { w.u(3, 0b101); w.u(32, 0xDEADBEEF) }, "101" + fmt.Sprintf("%032b", 0xDEADBEEF)},
		{func(w *bitWriter) { w.flag(true); w.flag(false); w.trailing() }, "10100000"},
		{func(w *bitWriter) { w.u(8, 0xAB); w.trailing() }, "1010101110000000"},
		{func(w *bitWriter) { w.u(3, 7); w.alignZero(); w.bytes([]byte{0x42}) }, "1110000001000010"},
	} {
		var w bitWriter
		tc.write(&w)
		if got := bitString(&w); got != tc.want {
			t.Errorf("got %s, want %s", got, tc.want)
		}
	}
}

func TestBitWriterAligned(t *testing.T) {
	var w bitWriter
	if !w.aligned() {
		t.Fatal("new writer not aligned")
	}
	w.u(5, 1)
	if w.aligned() {
		t.Fatal("aligned after 5 bits")
	}
	w.alignZero()
	if !w.aligned() || len(w.buf) != 1 || w.buf[0] != 0b00001000 {
		t.Fatalf("after alignZero: %08b", w.buf)
	}
	w.reset(w.buf)
	if len(w.buf) != 0 || !w.aligned() {
		t.Fatal("reset kept data")
	}
}

func TestEscape(t *testing.T) {
	for _, tc := range []struct{ in, want []byte }{
		{[]byte{}, []byte{}},
		{[]byte{1, 2, 3}, []byte{1, 2, 3}},
		{[]byte{0, 0, 0}, []byte{0, 0, 3, 0, 3}},
		{[]byte{0, 0, 1}, []byte{0, 0, 3, 1}},
		{[]byte{0, 0, 2}, []byte{0, 0, 3, 2}},
		{[]byte{0, 0, 3}, []byte{0, 0, 3, 3}},
		{[]byte{0, 0, 4}, []byte{0, 0, 4}},
		{[]byte{0, 0, 0, 0, 0x80}, []byte{0, 0, 3, 0, 0, 0x80}},
		{[]byte{0, 0, 0, 0, 0, 0x80}, []byte{0, 0, 3, 0, 0, 3, 0, 0x80}},
		{[]byte{5, 0, 1, 0, 0, 0xFF, 0, 0, 0, 1}, []byte{5, 0, 1, 0, 0, 0xFF, 0, 0, 3, 0, 1}},
		{[]byte{0x80, 0}, []byte{0x80, 0, 3}}, // a NAL unit never ends in zero
	} {
		got := appendEscaped(nil, tc.in)
		if !bytes.Equal(got, tc.want) {
			t.Errorf("escape % x: got % x, want % x", tc.in, got, tc.want)
		}
	}
}

// badEmulation tells whether b contains 00 00 00, 00 00 01 or 00 00 02 (a
// start code prefix), or 00 00 03 followed by a byte above 3 (which a decoder
// would take for an emulation prevention byte that is not one).
func badEmulation(b []byte) bool {
	for i := 0; i+2 < len(b); i++ {
		if b[i] == 0 && b[i+1] == 0 && (b[i+2] <= 2 || b[i+2] == 3 && i+3 < len(b) && b[i+3] > 3) {
			return true
		}
	}
	return false
}

// FuzzEscape checks that escaped payloads never contain a start code prefix
// and that unescaping restores them.
func FuzzEscape(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0, 0, 2, 0x80})
	f.Add([]byte{0xFF, 0, 0, 3, 0, 0, 0, 0, 0, 0x80})
	f.Add(bytes.Repeat([]byte{0}, 40))
	f.Fuzz(func(t *testing.T, rbsp []byte) {
		nal := appendNAL(nil, nalHeader(3, nalIDR), rbsp)
		if badEmulation(nal) {
			t.Fatalf("start code emulation in % x", nal)
		}
		if len(nal) > 1 && nal[len(nal)-1] == 0 {
			t.Fatalf("NAL unit ends in zero: % x", nal)
		}
		if len(rbsp) > 0 && rbsp[len(rbsp)-1] == 0 {
			return // the appended 0x03 is not undone after a single zero
		}
		if got := unescape(nal[1:]); !bytes.Equal(got, rbsp) {
			t.Fatalf("round trip: % x -> % x -> % x", rbsp, nal, got)
		}
	})
}
