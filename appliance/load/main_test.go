package load

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runMain runs Main and decodes its -json summary.
func runMain(t *testing.T, args ...string) (int, Summary, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(args, &stdout, &stderr)
	var s Summary
	if strings.Contains(strings.Join(args, " "), "-json") && code != 2 {
		if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
			t.Fatalf("summary is not JSON: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
		}
	}
	return code, s, stderr.String()
}

func TestLiveHLS(t *testing.T) {
	t.Parallel()
	h := &hlsServer{start: time.Now(), extinf: time.Second, every: time.Second, initial: 5, window: 6}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	code, s, stderr := runMain(t, "-c", "20", "-d", "4s", "-json", srv.URL+"/redirect/index.m3u8")
	if code != 0 || s.ViewersUpPeak != 20 || s.ViewersStarted != 20 || s.Stalls != 0 || s.Errors != 0 {
		t.Fatalf("exit %d, summary %+v\nstderr:\n%s", code, s, stderr)
	}
	if s.Mode != "hls" || s.Bytes == 0 || s.TTFB.Count != 20 || !s.OK {
		t.Errorf("summary %+v", s)
	}
	if !regexp.MustCompile(`(?m)^t=\d+s up=\d+/20 rx=\d+\.\d{3}Gbit/s stalls=0 errors=0 ttfb_p50=(-|\d+\.\dms) ttfb_p99=(-|\d+\.\dms)$`).MatchString(stderr) {
		t.Errorf("no well-formed progress line on stderr:\n%s", stderr)
	}
}

func TestLiveTS(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(tsHandler(1, time.Second, 7))
	t.Cleanup(srv.Close)
	code, s, stderr := runMain(t, "-c", "20", "-d", "4s", "-ramp", "500ms", "-json", srv.URL+"/live/mpegts")
	if code != 0 || s.ViewersUpPeak != 20 || s.Stalls != 0 || s.Errors != 0 {
		t.Fatalf("exit %d, summary %+v\nstderr:\n%s", code, s, stderr)
	}
	if s.Mode != "ts" || s.ViewersUpEnd != 20 || s.Bytes == 0 || s.GbpsAvg <= 0 {
		t.Errorf("summary %+v", s)
	}
}

// TestLowBitrateTS plays a stream too thin to fill the 16 KiB receive
// low-water mark within -timeout: the viewer must fall back, not time out.
func TestLowBitrateTS(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(tsHandler(1, time.Second, 0))
	t.Cleanup(srv.Close)
	code, s, stderr := runMain(t, "-c", "2", "-d", "3s", "-timeout", "1s", "-json", srv.URL+"/live/mpegts")
	if code != 0 || s.ViewersUpEnd != 2 || s.Errors != 0 || s.Stalls != 0 {
		t.Fatalf("exit %d, summary %+v\nstderr:\n%s", code, s, stderr)
	}
}

func TestTextSummary(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(tsHandler(1, time.Second, 7))
	t.Cleanup(srv.Close)
	var stdout, stderr bytes.Buffer
	code := Main([]string{srv.URL + "/s/mpegts", "-d", "2500ms", "-c", "2", "-source", "127.0.0.1"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	for _, re := range []string{
		`(?m)^t=\d+s up=\d/2 rx=\d+\.\d{3}Gbit/s stalls=0 errors=0 ttfb_p50=\S+ ttfb_p99=\S+$`,
		`(?m)^summary url=http://127\.0\.0\.1:\d+/s/mpegts mode=ts duration=\d+\.\ds$`,
		`(?m)^viewers target=2 started=2 up_peak=2 up_end=2 no_media=0 sessions=2$`,
		`(?m)^received bytes=\d+ avg=\d+\.\d{3}Gbit/s peak=\d+\.\d{3}Gbit/s$`,
		`(?m)^stalls events=0 viewers=0 at_end=0$`,
		`(?m)^errors total=0 connect=0 status=0 segment=0 closed=0 timeout=0 protocol=0 other=0$`,
		`(?m)^ttfb samples=2 p50=\d+\.\dms p90=\d+\.\dms p99=\d+\.\dms max=\d+\.\dms$`,
		`(?m)^result=ok$`,
	} {
		if !regexp.MustCompile(re).MatchString(stdout.String()) {
			t.Errorf("stdout does not match %s:\n%s", re, stdout.String())
		}
	}
}

// TestHalfSpeedStalls: a stream delivered at half speed makes every protocol
// report stalls, stalled viewers and exit 1, and no errors: slow is not broken.
func TestHalfSpeedStalls(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, duration, path string
		// handler is made when the subtest runs: the HLS server's clock
		// starts with it, not while the subtest waits for a parallel slot.
		handler func() http.Handler
	}{
		{"hls", "4s", "/live/mono.m3u8", func() http.Handler {
			return &hlsServer{start: time.Now(), extinf: time.Second, every: 2 * time.Second, initial: 1, window: 4}
		}},
		{"ts", "7s", "/live/mpegts", func() http.Handler { return tsHandler(0.5, 0, 7) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tc.handler())
			t.Cleanup(srv.Close)
			code, s, stderr := runMain(t, "-c", "5", "-d", tc.duration, "-json", srv.URL+tc.path)
			if code != 1 || s.Stalls == 0 || s.StalledViewers == 0 || s.OK {
				t.Fatalf("exit %d, summary %+v\nstderr:\n%s", code, s, stderr)
			}
			if s.Errors != 0 {
				t.Errorf("slow stream reported errors: %+v\n%s", s, stderr)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	h := &hlsServer{start: time.Now(), extinf: time.Second, every: time.Second, initial: 3, window: 4}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	// A port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	// A TS server that hangs up after a little data.
	short := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var g tsGen
		var b []byte
		for i := range 10 {
			b = g.frame(b, int64(i)*testFrameTicks, 1)
		}
		w.Write(b)
	}))
	t.Cleanup(short.Close)
	for _, tc := range []struct {
		name, url string
		kind      func(ErrorCounts) int64
	}{
		{"hls 404", srv.URL + "/missing.m3u8", func(e ErrorCounts) int64 { return e.Status }},
		{"ts 404", srv.URL + "/missing/mpegts", func(e ErrorCounts) int64 { return e.Status }},
		{"connect refused", closed + "/live/mpegts", func(e ErrorCounts) int64 { return e.Connect }},
		{"ts ends", short.URL + "/live/mpegts", func(e ErrorCounts) int64 { return e.Closed }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, s, stderr := runMain(t, "-c", "3", "-d", "1500ms", "-json", tc.url)
			if code != 1 || s.Errors == 0 || tc.kind(s.ErrorsByKind) == 0 || s.OK {
				t.Fatalf("exit %d, summary %+v\nstderr:\n%s", code, s, stderr)
			}
			if !strings.Contains(stderr, "viewer error") {
				t.Errorf("errors not logged:\n%s", stderr)
			}
		})
	}
}

func TestSegment404(t *testing.T) {
	t.Parallel()
	// A playlist listing a segment the server does not have.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/index.m3u8":
			w.Write([]byte("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:1,\ngone.ts\n#EXTINF:1,\nok.ts\n"))
		case "/ok.ts":
			w.Write(make([]byte, 1000))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	code, s, stderr := runMain(t, "-c", "2", "-d", "2s", "-json", srv.URL+"/index.m3u8")
	if code != 1 || s.ErrorsByKind.Segment != 2 || s.ViewersUpPeak != 2 {
		t.Fatalf("exit %d, summary %+v\nstderr:\n%s", code, s, stderr)
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{},
		{"-c", "x", "http://127.0.0.1:1/a.m3u8"},
		{"-nosuchflag", "http://127.0.0.1:1/a.m3u8"},
		{"-c", "0", "http://127.0.0.1:1/a.m3u8"},
		{"-d", "-1s", "http://127.0.0.1:1/a.m3u8"},
		{"-timeout", "0s", "http://127.0.0.1:1/a.m3u8"},
		{"-ramp", "-1s", "http://127.0.0.1:1/a.m3u8"},
		{"-source", "not-an-ip", "http://127.0.0.1:1/a.m3u8"},
		{"https://127.0.0.1:1/a.m3u8"},
		{"ftp://127.0.0.1/x"},
		{"http://127.0.0.1:1/a", "http://127.0.0.1:1/b"},
	} {
		var stdout, stderr bytes.Buffer
		if code := Main(args, &stdout, &stderr); code != 2 || stderr.Len() == 0 || stdout.Len() != 0 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, stdout.String(), stderr.String())
		}
	}
	if lim.Max < maxViewers+fdReserve {
		var stdout, stderr bytes.Buffer
		code := Main([]string{"-c", "1000000", "http://127.0.0.1:1/a"}, &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), "need 1000064 open files") {
			t.Errorf("too many viewers: exit %d, stderr %q", code, stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"-h"}, &stdout, &stderr); code != 0 || !strings.Contains(stderr.String(), "usage: livedge load") {
		t.Errorf("-h: exit %d, stderr %q", code, stderr.String())
	}
}
