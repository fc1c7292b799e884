package source

import (
	"bytes"
	"testing"

	"github.com/livedge/livedge/engine"
)

// FuzzStripRTP: any datagram gives a part of itself, never a panic.
func FuzzStripRTP(f *testing.F) {
	ts := bytes.Repeat([]byte{0x47, 0, 0x11, 0x10}, 47)
	f.Add(ts)
	f.Add(append([]byte{0x80, 33, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}, ts...))
	f.Add(append([]byte{0xb1, 33, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 9, 9, 9, 9, 0xbe, 0xde, 0, 1, 7, 7, 7, 7}, append(ts, 0, 0, 3)...))
	f.Add([]byte{0xa0, 33, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0x47, 200})
	f.Fuzz(func(t *testing.T, d []byte) {
		got := stripRTP(d)
		if len(got) > 0 && !bytes.Contains(d, got) {
			t.Fatalf("payload is not part of the datagram")
		}
		if len(got) != len(d) && (len(got) == 0 || got[0] != 0x47) {
			t.Fatalf("stripped to a payload without sync byte")
		}
	})
}

// FuzzOpen: any input URL is accepted or refused, never a panic.
func FuzzOpen(f *testing.F) {
	for _, u := range []string{
		"udp://127.0.0.1@239.1.1.1:5000", "udp://:5000", "http://127.0.0.1/a", "https://u:p@h/x",
		"file:///a/b.ts", "file://localhost/x", "rtmp://h/a", "udp://[::1]:5", "%zz", "",
	} {
		f.Add(u)
	}
	f.Fuzz(func(t *testing.T, u string) {
		src, err := Open(engine.InputConfig{URL: u})
		if (src == nil) == (err == nil) {
			t.Fatalf("Open(%q) = %v, %v", u, src, err)
		}
	})
}
