package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// checkPlayback is what every live source must pass: ffprobe finds H.264 and
// AAC over HLS and HTTP MPEG-TS, and ffmpeg decodes 10 s of each cleanly
// with monotonic timestamps.
func checkPlayback(t *testing.T, s *server, name string) {
	t.Helper()
	for _, path := range []string{"/index.m3u8", "/mpegts"} {
		url := s.base + "/" + name + path
		wantCodecs(t, url, "h264", "aac")
		checkMonotonic(t, url, 5)
		decodeClean(t, url, 10)
	}
}

func TestLiveUDPUnicast(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	port := freeUDPPort(t)
	s := startServer(t, fmt.Sprintf("stream uni { input udp://127.0.0.1:%d; static; }\n", port))
	publishUDP(t, fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", port))
	checkPlayback(t, s, "uni")
}

func TestLiveUDPMulticast(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	port := freeUDPPort(t)
	// Sent out of 127.0.0.1 with TTL 0 and joined on 127.0.0.1: it never
	// leaves the machine.
	s := startServer(t, fmt.Sprintf("stream multi { input udp://127.0.0.1@239.1.1.1:%d; static; }\n", port))
	publishUDP(t, fmt.Sprintf("udp://239.1.1.1:%d?localaddr=127.0.0.1&ttl=0&pkt_size=1316", port))
	checkPlayback(t, s, "multi")
}

func TestLiveHTTPPull(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	port := freePort(t)
	// ffmpeg serves the clip over HTTP to each client that connects.
	startFFmpeg(t, "-re", "-stream_loop", "-1", "-i", clipPath, "-c", "copy", "-f", "mpegts",
		"-listen", "1", fmt.Sprintf("http://127.0.0.1:%d/clip.ts", port))
	s := startServer(t, fmt.Sprintf("stream pull { input http://127.0.0.1:%d/clip.ts; static; }\n", port))
	checkPlayback(t, s, "pull")
}

func TestDemoTestsrc(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	s := startServer(t, "stream demo { input testsrc://?bitrate=1000k&gop=2&size=640x360; static; }\n")
	checkPlayback(t, s, "demo")
	code, body, hdr := s.get("/demo/embed.html")
	if code != 200 || hdr.Get("Content-Type") != "text/html; charset=utf-8" || len(body) == 0 {
		t.Fatalf("embed.html: %d %q", code, hdr.Get("Content-Type"))
	}
}

func TestOnDemandStartsOnFirstViewer(t *testing.T) {
	t.Parallel()
	s := startServer(t, "stream od { input testsrc://?bitrate=300k&size=320x176; }\n")
	if st := s.streamStats("od"); st["running"] != false {
		t.Fatalf("on-demand stream runs before any viewer: %v", st)
	}
	// The first request waits for the first segment, then gets a playlist.
	code, body, _ := s.get("/od/index.m3u8")
	if code != 200 || !strings.Contains(string(body), "#EXTINF:") {
		t.Fatalf("first viewer of on-demand stream: %d %s", code, body)
	}
	if st := s.streamStats("od"); st["running"] != true || st["alive"] != true {
		t.Fatalf("on-demand stream not running after a viewer: %v", st)
	}
}
