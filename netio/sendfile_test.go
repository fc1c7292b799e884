package netio

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fileFixture is a temp file of known pseudo-random content and a handler
// serving ranges of it by SendFile:
// /file?off=N&len=N[&status=N][&later=1 (from a goroutine)][&hold=1 (to the test)].
type fileFixture struct {
	path string
	data []byte
	held chan *ResponseWriter // /file?hold=1 hands the writer over here
}

var (
	fixtureOnce sync.Once
	fixture     *fileFixture
	fixtureErr  error
)

// fixtureSize holds the largest body of the tests (64 MiB) from a non-zero offset.
const fixtureSize = 64<<20 + 64

// sharedFixture makes the file once per test binary: 64 MiB is slow to
// write and hash under the race detector.
func sharedFixture(t testing.TB) *fileFixture {
	fixtureOnce.Do(func() {
		dir, err := os.MkdirTemp("", "netio-sendfile")
		if err != nil {
			fixtureErr = err
			return
		}
		f := &fileFixture{path: filepath.Join(dir, "body.bin"), data: make([]byte, fixtureSize)}
		rng := rand.NewChaCha8([32]byte{1, 2, 3})
		_, _ = rng.Read(f.data)
		fixtureErr = os.WriteFile(f.path, f.data, 0o600)
		fixture = f
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return fixture
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixture != nil {
		_ = os.RemoveAll(filepath.Dir(fixture.path))
	}
	os.Exit(code)
}

func (fx *fileFixture) handler(rw *ResponseWriter, req *Request) {
	if req.Path != "/file" {
		testRouter(rw, req)
		return
	}
	q, _ := url.ParseQuery(req.RawQuery)
	off, _ := strconv.ParseInt(q.Get("off"), 10, 64)
	n, _ := strconv.ParseInt(q.Get("len"), 10, 64)
	status := 200
	if s := q.Get("status"); s != "" {
		status, _ = strconv.Atoi(s)
	}
	f, err := os.Open(fx.path)
	if err != nil {
		rw.Error(500, "internal_error", err.Error())
		return
	}
	switch {
	case q.Get("hold") != "":
		_ = f.Close() // the test completes the response with a file of its own
		rw.Hold()
		fx.held <- rw
	case q.Get("later") != "":
		rw.Hold()
		go func() {
			time.Sleep(20 * time.Millisecond)
			rw.SendFile(status, "application/octet-stream", f, off, n)
		}()
	default:
		rw.SetHeader("Cache-Control", "max-age=1")
		rw.SendFile(status, "application/octet-stream", f, off, n)
	}
}

func fileReq(off, n int64, extra string) string {
	return fmt.Sprintf("GET /file?off=%d&len=%d%s HTTP/1.1\r\nHost: t\r\n\r\n", off, n, extra)
}

// readFileResponse reads one response and checks its body against the
// fixture's bytes by sha256.
func (fx *fileFixture) readFileResponse(t *testing.T, br *bufio.Reader, method string, off, n int64) *http.Response {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("file %d+%d: read response: %v", off, n, err)
	}
	if resp.StatusCode != 200 || resp.ContentLength != n {
		t.Fatalf("file %d+%d: status %d, Content-Length %d", off, n, resp.StatusCode, resp.ContentLength)
	}
	h := sha256.New()
	got, err := io.Copy(h, resp.Body)
	if err != nil {
		t.Fatalf("file %d+%d: body after %d bytes: %v", off, n, got, err)
	}
	want := int64(0)
	if method != "HEAD" {
		want = n
	}
	if got != want {
		t.Fatalf("file %d+%d: %d body bytes", off, n, got)
	}
	if method != "HEAD" && [32]byte(h.Sum(nil)) != sha256.Sum256(fx.data[off:off+n]) {
		t.Fatalf("file %d+%d: body differs (sha256)", off, n)
	}
	return resp
}

var sendfileSizes = []int64{0, 1, 4095, 4096, 65536, 1<<20 + 7, 16 << 20, 64 << 20}

func TestSendFileSizes(t *testing.T) {
	fx := sharedFixture(t)
	s, addr := startServer(t, Config{}, handlerFunc(fx.handler))

	t.Run("one by one", func(t *testing.T) {
		c := dial(t, addr)
		_ = c.c.SetDeadline(time.Now().Add(4 * guard))
		for i, n := range sendfileSizes {
			off := int64(i * 3) // unaligned offsets too
			c.send(fileReq(off, n, ""))
			resp := fx.readFileResponse(t, c.br, "GET", off, n)
			if resp.Header.Get("Cache-Control") != "max-age=1" || resp.Header.Get("Content-Type") != "application/octet-stream" {
				t.Fatalf("headers %v", resp.Header)
			}
		}
	})

	t.Run("pipelined", func(t *testing.T) {
		c := dial(t, addr)
		_ = c.c.SetDeadline(time.Now().Add(4 * guard))
		// Every size, with small in-memory responses, a HEAD and held
		// responses in between: all must come back in order.
		var reqs strings.Builder
		for i, n := range sendfileSizes {
			reqs.WriteString(fileReq(int64(i), n, ""))
			reqs.WriteString(get("/hello"))
		}
		reqs.WriteString("HEAD /file?off=0&len=65536 HTTP/1.1\r\nHost: t\r\n\r\n")
		reqs.WriteString(fileReq(5, 1<<20+7, "&later=1"))
		reqs.WriteString(get("/held?ms=5"))
		reqs.WriteString(fileReq(9, 4096, ""))
		c.send(reqs.String())
		for i, n := range sendfileSizes {
			fx.readFileResponse(t, c.br, "GET", int64(i), n)
			if _, body := c.read("GET"); body != "hello world" {
				t.Fatalf("after file %d: %q", n, body)
			}
		}
		fx.readFileResponse(t, c.br, "HEAD", 0, 65536)
		fx.readFileResponse(t, c.br, "GET", 5, 1<<20+7)
		if _, body := c.read("GET"); body != "held-5" {
			t.Fatalf("held after file: %q", body)
		}
		fx.readFileResponse(t, c.br, "GET", 9, 4096)
	})

	t.Run("close after body", func(t *testing.T) {
		c := dial(t, addr)
		c.send("GET /file?off=1&len=100000 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
		if resp := fx.readFileResponse(t, c.br, "GET", 1, 100000); !resp.Close {
			t.Fatal("no Connection: close")
		}
		c.expectClosed()
		c10 := dial(t, addr)
		c10.send("GET /file?off=0&len=70000 HTTP/1.0\r\n\r\n")
		fx.readFileResponse(t, c10.br, "GET", 0, 70000)
		c10.expectClosed()
	})

	t.Run("no body statuses", func(t *testing.T) {
		c := dial(t, addr)
		c.send(fileReq(0, 1000, "&status=304") + get("/hello"))
		resp, body := c.read("GET")
		if resp.StatusCode != 304 || body != "" || resp.Header.Get("Content-Length") != "" {
			t.Fatalf("304: %v %q", resp.Header, body)
		}
		if _, body := c.read("GET"); body != "hello world" {
			t.Fatalf("after 304: %q", body)
		}
	})

	t.Run("file shorter than promised", func(t *testing.T) {
		c := dial(t, addr)
		c.send(fileReq(fixtureSize-100, 1000, ""))
		resp, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
		if err != nil || resp.ContentLength != 1000 {
			t.Fatalf("head: %v %v", err, resp)
		}
		if b, err := io.ReadAll(resp.Body); err == nil || len(b) != 100 {
			t.Fatalf("cut body: %d bytes, %v", len(b), err)
		}
	})

	waitFor(t, "files closed", func() bool { st := s.Stats(); return st.Files == 0 })
	st := s.Stats()
	if st.Closed["internal_error"] != 1 {
		t.Errorf("stats: %+v", st)
	}
	t.Logf("sendfile bytes %d, waits %d", st.SendfileBytes, st.SendfileWaits)
}

// Readers with a tiny window that read slowly, on two loops at once: the
// sockets fill, sendfile meets EAGAIN and partial writes, and the write
// poller resumes the bodies.
func TestSendFileSlowReader(t *testing.T) {
	fx := sharedFixture(t)
	s := NewServer(Config{Listen: []string{"127.0.0.1:0"}, Multicore: true, Logger: testLogger(t)}, handlerFunc(fx.handler))
	s.sendBufFor = func(netip.Addr) int { return 8 << 10 } // many EAGAINs and partial writes, not just one
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.Stop(context.Background())
		st := s.Stats()
		if st.SendfileWaits == 0 || st.Files != 0 {
			t.Errorf("the sockets never filled: %+v", st)
		}
		t.Logf("sendfile waits for the socket: %d", st.SendfileWaits)
	})
	addr := s.Addrs()[0].String()
	for i := range 3 {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			t.Parallel()
			c := dialSmallWindow(t, addr)
			_ = c.c.SetDeadline(time.Now().Add(4 * guard))
			n := int64(2<<20 + 11*i)
			c.send(fileReq(7, n, "") + get("/hello") + fileReq(1, 200000, "&later=1"))
			slow := &slowReader{r: c.c, chunk: 8 << 10, pause: time.Millisecond}
			br := bufio.NewReaderSize(slow, 8<<10)
			fx.readFileResponse(t, br, "GET", 7, n)
			slow.pause = 0
			if resp, _ := http.ReadResponse(br, &http.Request{Method: "GET"}); resp == nil || resp.StatusCode != 200 {
				t.Fatal("no response after the slow body")
			} else if b, _ := io.ReadAll(resp.Body); string(b) != "hello world" {
				t.Fatalf("after the slow body: %q", b)
			}
			fx.readFileResponse(t, br, "GET", 1, 200000)
		})
	}
}

// A client that stops reading mid-body is closed at the write timeout; a
// body in progress when the server stops is dropped with its file.
func TestSendFileStalled(t *testing.T) {
	fx := sharedFixture(t)
	s, addr := startServer(t, Config{IdleTimeout: time.Second}, handlerFunc(fx.handler))
	before := openFDs(t)
	stalled := dialSmallWindow(t, addr)
	stalled.send(fileReq(0, 64<<20, "")) // and never reads
	waitFor(t, "write timeout", func() bool { st := s.Stats(); return st.Closed["write_timeout"] == 1 && st.Files == 0 })

	c := dialSmallWindow(t, addr)
	c.send(fileReq(0, 64<<20, ""))
	waitFor(t, "body started", func() bool { return s.Stats().Files == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Files != 0 || st.Open != 0 || st.Closed["shutdown"] != 1 {
		t.Fatalf("stats after stop: %+v", st)
	}
	c.c.Close()
	stalled.c.Close()
	waitFor(t, "descriptors released", func() bool { return openFDs(t) <= before })
}

// slowReader reads at most chunk bytes at a time, pausing before each read.
type slowReader struct {
	r     io.Reader
	chunk int
	pause time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	time.Sleep(s.pause)
	return s.r.Read(p[:min(len(p), s.chunk)])
}

// openFDs counts the process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// Clients that leave mid-body, or before a held file body is handed over:
// every file and socket is closed.
func TestSendFileClientGone(t *testing.T) {
	fx := sharedFixture(t)
	fx2 := *fx
	fx2.held = make(chan *ResponseWriter, 1)
	s, addr := startServer(t, Config{}, handlerFunc(fx2.handler))
	before := openFDs(t)

	for i := 0; i < 3; i++ {
		c := dialSmallWindow(t, addr)
		c.send(fileReq(0, 64<<20, ""))
		waitFor(t, "body started", func() bool { return s.Stats().Files == 1 })
		buf := make([]byte, 10000)
		_ = c.c.SetReadDeadline(time.Now().Add(guard))
		if _, err := io.ReadFull(c.c, buf); err != nil {
			t.Fatal(err)
		}
		c.c.Close()
		waitFor(t, "body stopped", func() bool { st := s.Stats(); return st.Files == 0 && st.Open == 0 })
	}

	// A held response whose client leaves before the file is handed over.
	c := dial(t, addr)
	c.send(fileReq(0, 1000, "&hold=1"))
	rw := <-fx2.held
	c.c.Close()
	waitFor(t, "writer dead", func() bool { return rw.state.Load() == rwDead })
	f, err := os.Open(fx.path)
	if err != nil {
		t.Fatal(err)
	}
	rw.SendFile(200, "application/octet-stream", f, 0, 1000)
	if err := f.Close(); err == nil {
		t.Fatal("the dropped response left its file open")
	}
	waitFor(t, "descriptors released", func() bool { return openFDs(t) == before })
	if st := s.Stats(); st.Closed["client"] < 3 {
		t.Fatalf("stats: %+v", st)
	}
}

// BenchmarkTCPFileBody compares file bodies by sendfile with the same bytes
// from memory by writev, over loopback to one keep-alive client that
// discards them. Allocations include the client's.
func BenchmarkTCPFileBody(b *testing.B) {
	fx := sharedFixture(b)
	mem := fx.data
	s := NewServer(Config{Listen: []string{"127.0.0.1:0"}, Logger: testLogger(nil)}, handlerFunc(func(rw *ResponseWriter, req *Request) {
		n, _ := strconv.Atoi(req.RawQuery)
		if req.Path == "/mem" {
			rw.Write(200, "video/mp2t", mem[:n])
			return
		}
		f, err := os.Open(fx.path)
		if err != nil {
			rw.Error(500, "internal_error", err.Error())
			return
		}
		rw.SendFile(200, "video/mp2t", f, 0, int64(n))
	}))
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	defer s.Stop(b.Context())
	for _, kind := range []string{"sendfile", "writev"} {
		for _, size := range []int{64 << 10, 1 << 20, 16 << 20} {
			b.Run(fmt.Sprintf("%s/%dKiB", kind, size>>10), func(b *testing.B) {
				c, err := net.Dial("tcp", s.Addrs()[0].String())
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				path := "/file"
				if kind == "writev" {
					path = "/mem"
				}
				req := []byte("GET " + path + "?" + strconv.Itoa(size) + " HTTP/1.1\r\nHost: b\r\n\r\n")
				br := bufio.NewReaderSize(c, 256<<10)
				buf := make([]byte, 256<<10)
				b.ReportAllocs()
				b.SetBytes(int64(size))
				for b.Loop() {
					if _, err := c.Write(req); err != nil {
						b.Fatal(err)
					}
					for {
						line, err := br.ReadSlice('\n')
						if err != nil {
							b.Fatal(err)
						}
						if len(line) == 2 {
							break
						}
					}
					for left := size; left > 0; {
						m, err := br.Read(buf[:min(left, len(buf))])
						if err != nil {
							b.Fatal(err)
						}
						left -= m
					}
				}
				if kind == "sendfile" {
					st := s.Stats()
					b.ReportMetric(float64(st.SendfileWaits)/float64(b.N), "waits/op")
				}
			})
		}
	}
}
