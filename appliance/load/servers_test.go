package load

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Test servers: a live-paced HTTP MPEG-TS stream and a live HLS playlist
// whose segments appear over time. Both can run slower than real time.

const (
	testVideoPID   = 0x100
	testPMTPID     = 0x1000
	testFrameTicks = 3600 // 40 ms at 90 kHz
	testFrame      = 40 * time.Millisecond
)

// tsGen writes a minimal MPEG-TS: PAT and PMT, then per frame one video PES
// start packet (PCR in its adaptation field, PTS in its header) followed by
// payload packets.
type tsGen struct {
	cc     [0x2000]byte
	frames int
}

func (g *tsGen) header(b []byte, pid uint16, start bool, afc byte) []byte {
	b0 := byte(pid>>8) & 0x1f
	if start {
		b0 |= 0x40
	}
	cc := g.cc[pid]
	g.cc[pid] = (cc + 1) & 15
	return append(b, tsSync, b0, byte(pid), afc<<4|cc)
}

func testCRC32(b []byte) uint32 {
	crc := uint32(0xffffffff)
	for _, c := range b {
		crc ^= uint32(c) << 24
		for range 8 {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04c11db7
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

func (g *tsGen) psi(b []byte, pid uint16, section []byte) []byte {
	crc := testCRC32(section)
	section = append(section, byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc))
	start := len(b)
	b = g.header(b, pid, true, 1)
	b = append(b, 0)
	b = append(b, section...)
	for len(b)-start < tsPacketSize {
		b = append(b, 0xff)
	}
	return b
}

func (g *tsGen) patPMT(b []byte) []byte {
	b = g.psi(b, 0, []byte{0x00, 0xb0, 13, 0, 1, 0xc1, 0, 0, 0, 1, 0xe0 | testPMTPID>>8, testPMTPID & 0xff})
	return g.psi(b, testPMTPID, []byte{0x02, 0xb0, 18, 0, 1, 0xc1, 0, 0,
		0xe0 | testVideoPID>>8, testVideoPID & 0xff, 0xf0, 0,
		0x1b, 0xe0 | testVideoPID>>8, testVideoPID & 0xff, 0xf0, 0})
}

// frame appends one video frame with PCR and PTS ts (taken modulo 2^33) and
// fill payload packets after it.
func (g *tsGen) frame(b []byte, ts int64, fill int) []byte {
	ts &= tsWrap - 1
	if g.frames%25 == 0 {
		b = g.patPMT(b)
	}
	g.frames++
	start := len(b)
	b = g.header(b, testVideoPID, true, 3)
	b = append(b, 7, 0x10,
		byte(ts>>25), byte(ts>>17), byte(ts>>9), byte(ts>>1), byte(ts&1)<<7|0x7e, 0)
	b = append(b, 0, 0, 1, 0xe0, 0, 0, 0x80, 0x80, 5,
		0x21|byte(ts>>29)&0x0e, byte(ts>>22), byte(ts>>14)|1, byte(ts>>7), byte(ts<<1)|1)
	for len(b)-start < tsPacketSize {
		b = append(b, 0xff)
	}
	for range fill {
		b = g.header(b, testVideoPID, false, 1)
		for range tsPacketSize - 4 {
			b = append(b, 0xa5)
		}
	}
	return b
}

// tsHandler streams TS whose media time advances speed times as fast as
// wall time, after an initial burst of burst media time; each 40 ms frame
// has fill payload packets. The timestamps start 3 s before the 33-bit wrap
// so every test crosses it.
func tsHandler(speed float64, burst time.Duration, fill int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/mp2t")
		w.WriteHeader(http.StatusOK)
		flusher, _ := w.(http.Flusher)
		var g tsGen
		start := time.Now()
		base := tsWrap - 3*ticksPerSec
		sent := 0
		var buf []byte
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			due := int((burst+time.Duration(speed*float64(time.Since(start))))/testFrame) + 1
			buf = buf[:0]
			for ; sent < due; sent++ {
				buf = g.frame(buf, base+int64(sent)*testFrameTicks, fill)
			}
			if len(buf) > 0 {
				if _, err := w.Write(buf); err != nil {
					return
				}
				if flusher != nil {
					flusher.Flush()
				}
			}
			select {
			case <-r.Context().Done():
				return
			case <-tick.C:
			}
		}
	}
}

// hlsServer serves /master.m3u8 (pointing to live/mono.m3u8), the live media
// playlist, its segments, and /redirect/index.m3u8 (302 to the master).
// Segment n appears at start + (n-initial+1)*every and lasts extinf: with
// every > extinf the stream runs slower than real time.
type hlsServer struct {
	start   time.Time
	extinf  time.Duration
	every   time.Duration
	initial int // segments listed at start
	window  int
}

func (h *hlsServer) available() int {
	return h.initial + int(time.Since(h.start)/h.every)
}

func (h *hlsServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case p == "/redirect/index.m3u8":
		http.Redirect(w, r, "/master.m3u8", http.StatusFound)
	case p == "/master.m3u8":
		w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
		fmt.Fprint(w, "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,CODECS=\"avc1.4d401f\"\nlive/mono.m3u8\n"+
			"#EXT-X-STREAM-INF:BANDWIDTH=400000\nlive/low.m3u8\n")
	case p == "/live/mono.m3u8":
		n := h.available()
		first := max(0, n-h.window)
		var b strings.Builder
		fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:%d\n",
			int((h.extinf+time.Second-1)/time.Second), first)
		for i := first; i < n; i++ {
			fmt.Fprintf(&b, "#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:%02d.000Z\n#EXTINF:%.3f,\nseg-%d.ts\n",
				i%60, h.extinf.Seconds(), i)
		}
		w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
		fmt.Fprint(w, b.String())
	case strings.HasPrefix(p, "/live/seg-") && strings.HasSuffix(p, ".ts"):
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(p, "/live/seg-"), ".ts"))
		if err != nil || n < 0 || n >= h.available() {
			http.NotFound(w, r)
			return
		}
		var g tsGen
		var b []byte
		for f := range 25 {
			b = g.frame(b, int64(n*25+f)*testFrameTicks, 4)
		}
		w.Header().Set("Content-Type", "video/mp2t")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.Write(b)
	default:
		http.NotFound(w, r)
	}
}
