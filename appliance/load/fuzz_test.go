package load

import (
	"bytes"
	"testing"
)

// FuzzRespParser checks that any input, fed whole or in pieces, ends in the
// same result without panics or stalls.
func FuzzRespParser(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x\r\nhello\r\n0\r\nT: 1\r\n\r\n",
		"HTTP/1.0 302 Found\r\nLocation: /x\r\n\r\nbody",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 200 OK\nConnection: close\n\n",
	} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		whole := feedResponse(in, len(in)+1, true)
		split := feedResponse(in, int(step)+1, true)
		if (whole.err == nil) != (split.err == nil) {
			t.Fatalf("whole err %v, split err %v", whole.err, split.err)
		}
		if whole.err != nil {
			return
		}
		if whole.status != split.status || whole.keepAlive != split.keepAlive || whole.location != split.location ||
			!bytes.Equal(whole.body, split.body) || whole.done != split.done || whole.rest != split.rest {
			t.Fatalf("whole %+v, split %+v", whole, split)
		}
		if len(whole.body) > len(in) {
			t.Fatalf("body longer than input")
		}
	})
}

// FuzzTSClock checks that the clock takes any bytes, in any pieces, to the
// same media time.
func FuzzTSClock(f *testing.F) {
	f.Add(testStream(0, 5), uint16(100))
	f.Add(testStream(tsWrap-testFrameTicks, 3), uint16(188))
	f.Add(stripPCR(testStream(0, 3)), uint16(7))
	f.Add([]byte{0x47, 0x40, 0x00, 0x30, 0xff}, uint16(1))
	f.Fuzz(func(t *testing.T, in []byte, step uint16) {
		var whole, split tsClock
		whole.feed(in)
		for p := in; len(p) > 0; {
			n := min(int(step)+1, len(p))
			split.feed(p[:n])
			p = p[n:]
		}
		if whole.ticks != split.ticks || whole.started != split.started || whole.src != split.src {
			t.Fatalf("whole %d/%v/%d, split %d/%v/%d", whole.ticks, whole.started, whole.src, split.ticks, split.started, split.src)
		}
		if whole.ticks < 0 || whole.bufN > len(whole.buf) {
			t.Fatalf("ticks %d buffered %d", whole.ticks, whole.bufN)
		}
	})
}

// FuzzPlaylist checks the m3u8 parser on any input.
func FuzzPlaylist(f *testing.F) {
	f.Add([]byte("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:3\n#EXTINF:2.000,\na.ts\n#EXT-X-ENDLIST\n"))
	f.Add([]byte("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n"))
	f.Add([]byte("#EXTM3U\r\n#EXTINF:1,\r\nx\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var pl playlist
		if err := pl.parse(in); err != nil {
			return
		}
		if len(pl.segments) > maxPlaylistSegments {
			t.Fatalf("%d segments", len(pl.segments))
		}
		for i, s := range pl.segments {
			if s.duration < 0 || len(s.uri) == 0 || s.seq != pl.mediaSeq+int64(i) {
				t.Fatalf("segment %d: %+v", i, s)
			}
		}
	})
}
