package source

import (
	"bytes"
	"strings"
	"testing"

	"github.com/livedge/livedge/engine"
)

func TestOpen(t *testing.T) {
	good := []string{
		"udp://127.0.0.1:5000",
		"udp://0.0.0.0:5000",
		"udp://:5000",
		"udp://239.1.1.1:5000",
		"udp://127.0.0.1@239.1.1.1:5000",
		"udp://eth0@239.1.1.1:5000",
		"http://127.0.0.1:8080/live/mpegts",
		"https://user:secret@example.com/stream.ts",
		"file:///var/media/clip.ts",
		"file://localhost/var/media/clip.ts",
	}
	for _, u := range good {
		if _, err := Open(engine.InputConfig{URL: u}); err != nil {
			t.Errorf("Open(%q): %v", u, err)
		}
	}
	bad := []string{
		"udp://127.0.0.1",
		"udp://127.0.0.1:0",
		"udp://127.0.0.1:70000",
		"udp://[::1]:5000",
		"udp://host.example:5000",
		"udp://127.0.0.1@127.0.0.2:5000",
		"udp://a:b@239.1.1.1:5000",
		"udp://::1@239.1.1.1:5000",
		"udp://239.1.1.1:5000/path",
		"http:///nohost",
		"file://host/clip.ts",
		"file:clip.ts",
		"rtmp://127.0.0.1/live/a",
		"testsrc://",
		"::",
	}
	for _, u := range bad {
		if _, err := Open(engine.InputConfig{URL: u}); err == nil {
			t.Errorf("Open(%q) succeeded", u)
		}
	}
	_, err := Open(engine.InputConfig{URL: "rtmp://user:secret@host/app"})
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("error %v must not show the password", err)
	}
}

func TestStripRTP(t *testing.T) {
	ts := bytes.Repeat([]byte{0x47, 1, 2, 3}, 47)
	rtp := append([]byte{0x80, 33, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}, ts...)
	if got := stripRTP(rtp); !bytes.Equal(got, ts) {
		t.Errorf("plain RTP: got % x", got[:4])
	}
	// CSRC count 1, extension of one word, padding of 3 bytes.
	ext := append([]byte{0xb1, 33, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 9, 9, 9, 9, 0xbe, 0xde, 0, 1, 7, 7, 7, 7}, ts...)
	ext = append(ext, 0, 0, 3)
	if got := stripRTP(ext); !bytes.Equal(got, ts) {
		t.Errorf("RTP with CSRC, extension, padding: got %d bytes", len(got))
	}
	if got := stripRTP(ts); !bytes.Equal(got, ts) {
		t.Error("raw TS changed")
	}
	junk := []byte{0x80, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}
	if got := stripRTP(junk); !bytes.Equal(got, junk) {
		t.Error("RTP-looking junk changed")
	}
	// A header extension length pointing past the datagram.
	if got := stripRTP([]byte{0x90, 33, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0xff, 0xff}); len(got) != 16 {
		t.Error("bad extension length")
	}
	if got := stripRTP([]byte{0xa0, 33, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0x47, 200}); len(got) != 14 {
		t.Error("bad padding length")
	}
}
