package netio

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// sharedServer serves WriteShared bodies cut from the file fixture's bytes:
// /shared?off=N&len=N&chunk=N[&status=N][&later=1 (from a goroutine)]
// [&hold=1 (the writer goes to held)]. Every release it hands out is
// counted by request, so that the tests check each runs exactly once.
type sharedServer struct {
	data []byte
	held chan *ResponseWriter

	mu       sync.Mutex
	releases []int // calls of each request's release, by request number
	// maxQueued is the most bytes gnet held for a connection right after a
	// WriteShared on the loop returned: what it copied of the body, and of
	// earlier responses.
	maxQueued atomic.Int64
}

func newSharedServer(t *testing.T) *sharedServer {
	return &sharedServer{data: sharedFixture(t).data, held: make(chan *ResponseWriter, 1)}
}

// newRelease returns a release that counts its calls.
func (ss *sharedServer) newRelease() func() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	id := len(ss.releases)
	ss.releases = append(ss.releases, 0)
	return func() {
		ss.mu.Lock()
		ss.releases[id]++
		ss.mu.Unlock()
	}
}

// released reports how many releases were handed out and how many ran.
func (ss *sharedServer) released() (issued, calls int) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for _, n := range ss.releases {
		calls += n
	}
	return len(ss.releases), calls
}

// checkReleasedOnce waits for every release handed out to have run, then
// checks that none ran twice.
func (ss *sharedServer) checkReleasedOnce(t *testing.T, s *Server) {
	t.Helper()
	waitFor(t, "every body released", func() bool {
		issued, calls := ss.released()
		return calls >= issued && s.Stats().SharedBodies == 0
	})
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for id, n := range ss.releases {
		if n != 1 {
			t.Errorf("release of request %d called %d times", id, n)
		}
	}
}

func (ss *sharedServer) ServeHTTP(rw *ResponseWriter, req *Request) {
	if req.Path != "/shared" {
		testRouter(rw, req)
		return
	}
	q, _ := url.ParseQuery(req.RawQuery)
	off, _ := strconv.Atoi(q.Get("off"))
	n, _ := strconv.Atoi(q.Get("len"))
	chunk, _ := strconv.Atoi(q.Get("chunk"))
	status := 200
	if st := q.Get("status"); st != "" {
		status, _ = strconv.Atoi(st)
	}
	if off < 0 || n < 0 || off+n > len(ss.data) || chunk <= 0 {
		rw.Error(400, "bad_range", "bad range")
		return
	}
	// A list of shared chunks like an HLS segment's, with an empty one.
	body := [][]byte{{}}
	for p := off; p < off+n; p += chunk {
		body = append(body, ss.data[p:min(p+chunk, off+n)])
	}
	rw.SetHeader("Cache-Control", "max-age=60")
	if q.Get("hold") != "" {
		rw.Hold()
		ss.held <- rw // the test completes it, with its own release
		return
	}
	release := ss.newRelease()
	if q.Get("later") != "" {
		rw.Hold()
		go func() {
			time.Sleep(5 * time.Millisecond)
			rw.WriteShared(status, "video/mp2t", release, body...)
			clear(body) // the outer slice is the caller's again
		}()
		return
	}
	rw.WriteShared(status, "video/mp2t", release, body...)
	clear(body)
	raisePeak(&ss.maxQueued, rw.cs.gc.OutboundBuffered())
}

func sharedReq(method string, off, n, chunk int, extra string) string {
	return fmt.Sprintf("%s /shared?off=%d&len=%d&chunk=%d%s HTTP/1.1\r\nHost: t\r\n\r\n", method, off, n, chunk, extra)
}

// readShared reads a WriteShared response and checks its body byte for byte.
func (ss *sharedServer) readShared(t *testing.T, br *bufio.Reader, method string, off, n int) {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("shared %d+%d: %v", off, n, err)
	}
	if resp.StatusCode != 200 || resp.ContentLength != int64(n) || resp.Header.Get("Content-Type") != "video/mp2t" ||
		resp.Header.Get("Cache-Control") != "max-age=60" {
		t.Fatalf("shared %d+%d: %d %d %v", off, n, resp.StatusCode, resp.ContentLength, resp.Header)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("shared %d+%d: body after %d bytes: %v", off, n, len(body), err)
	}
	want := ss.data[off : off+n]
	if method == "HEAD" {
		want = nil
	}
	if !bytes.Equal(body, want) {
		t.Fatalf("shared %d+%d: body differs (%d bytes)", off, n, len(body))
	}
}

// dialSlowIP connects from slowClientIP (an 8 KiB send buffer on the
// server's side) with the given receive buffer (0: the system's, which
// grows).
func dialSlowIP(t *testing.T, addr string, rcvBuf int) *client {
	t.Helper()
	d := net.Dialer{Timeout: guard, LocalAddr: &net.TCPAddr{IP: slowClientIP.AsSlice()}}
	if rcvBuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			if err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvBuf)
			}); err != nil {
				return err
			}
			return serr
		}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c, br: bufio.NewReaderSize(quickAcker{c.(*net.TCPConn)}, 8<<10)}
}

// quickAcker acknowledges at once what it reads: with the server's 8 KiB
// send buffer, delayed ACKs would stall every buffer's worth of the
// transfer (the test would take seconds per 16 MiB, not fail). Linux drops
// TCP_QUICKACK by itself, so it is set before every read.
type quickAcker struct{ c *net.TCPConn }

func (q quickAcker) Read(p []byte) (int, error) {
	if rc, err := q.c.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
		})
	}
	return q.c.Read(p)
}

var sharedSizes = []int{0, 1, 8191, 64 << 10, 1250000, 16 << 20}

// Bodies of every size to a reader whose socket fills at once, pipelined
// with plain, HEAD, held and bodiless responses: all come back in order
// and byte-exact, gnet copies none of the shared bodies, and every release
// runs once.
func TestWriteSharedSlowReader(t *testing.T) {
	ss := newSharedServer(t)
	s, addr := startSmallSendBuf(t, Config{}, ss)
	c := dialSlowIP(t, addr, 0)
	_ = c.c.SetDeadline(time.Now().Add(4 * guard))

	var reqs strings.Builder
	for i, n := range sharedSizes {
		// 1000-byte chunks make the 1.25 MB body more than one writev's
		// worth of buffers (IOV_MAX).
		chunk := 1000
		if n > 2<<20 {
			chunk = 64 << 10
		}
		reqs.WriteString(sharedReq("GET", i*3, n, chunk, ""))
		reqs.WriteString(get("/hello"))
	}
	reqs.WriteString(sharedReq("HEAD", 0, 1250000, 1000, ""))
	reqs.WriteString(sharedReq("GET", 7, 1250000, 1000, "&later=1"))
	reqs.WriteString(sharedReq("GET", 0, 1000, 100, "&status=304"))
	reqs.WriteString(get("/big"))
	c.send(reqs.String())
	// The first large body fills the socket before anything is read.
	waitFor(t, "a body waiting for its socket", func() bool { return s.Stats().BodyWaits > 0 })

	for i, n := range sharedSizes {
		ss.readShared(t, c.br, "GET", i*3, n)
		if _, body := c.read("GET"); body != "hello world" {
			t.Fatalf("after shared %d: %q", n, body)
		}
	}
	ss.readShared(t, c.br, "HEAD", 0, 1250000)
	ss.readShared(t, c.br, "GET", 7, 1250000)
	if resp, body := c.read("GET"); resp.StatusCode != 304 || body != "" || resp.Header.Get("Content-Length") != "" {
		t.Fatalf("304: %v %q", resp.Header, body)
	}
	if _, body := c.read("GET"); body != string(big64K) {
		t.Fatal("plain response after the shared ones differs")
	}
	ss.checkReleasedOnce(t, s)

	st := s.Stats()
	// Write would leave gnet up to 16 MiB copied; WriteShared none, so gnet
	// holds at most the tail of an earlier plain response (a /hello).
	if q := ss.maxQueued.Load(); q > 4<<10 {
		t.Errorf("gnet held %d bytes after a WriteShared", q)
	}
	if st.BodyQueuedPeak > 4<<10 {
		t.Errorf("gnet held %d bytes while a shared body waited", st.BodyQueuedPeak)
	}
	if issued, _ := ss.released(); issued != len(sharedSizes)+3 { // + HEAD, later, 304
		t.Errorf("%d releases handed out", issued)
	}
	t.Logf("body waits %d, queued peak %d", st.BodyWaits, st.BodyQueuedPeak)
}

// On a fast socket every size goes out in order too, one request at a time.
func TestWriteSharedSizes(t *testing.T) {
	ss := newSharedServer(t)
	s, addr := startServer(t, Config{}, ss)
	c := dial(t, addr)
	_ = c.c.SetDeadline(time.Now().Add(4 * guard))
	for i, n := range sharedSizes {
		c.send(sharedReq("GET", i, n, 64<<10, ""))
		ss.readShared(t, c.br, "GET", i, n)
	}
	c.send(sharedReq("GET", 1, 70000, 4096, "") + "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
	ss.readShared(t, c.br, "GET", 1, 70000)
	if _, body := c.read("GET"); body != "hello world" {
		t.Fatalf("after shared: %q", body)
	}
	c.expectClosed()
	c10 := dial(t, addr)
	c10.send("GET /shared?off=0&len=100000&chunk=3000 HTTP/1.0\r\n\r\n")
	ss.readShared(t, c10.br, "GET", 0, 100000)
	c10.expectClosed()
	ss.checkReleasedOnce(t, s)
}

// A client that leaves mid-body, one that leaves before its held response
// is completed, one that stops reading (closed at the write timeout), and
// one still receiving when the server stops: each body's release runs
// once, only then.
func TestWriteSharedClientGone(t *testing.T) {
	ss := newSharedServer(t)
	s, addr := startSmallSendBuf(t, Config{IdleTimeout: time.Second}, ss)

	t.Run("mid-body", func(t *testing.T) {
		c := dialSmallWindow(t, addr)
		c.send(sharedReq("GET", 0, 16<<20, 64<<10, "") + get("/hello"))
		waitFor(t, "body waiting", func() bool { return s.Stats().SharedBodies == 1 })
		buf := make([]byte, 10000)
		_ = c.c.SetReadDeadline(time.Now().Add(guard))
		if _, err := io.ReadFull(c.c, buf); err != nil {
			t.Fatal(err)
		}
		if _, calls := ss.released(); calls != 0 {
			t.Fatal("released before the body was out")
		}
		c.c.Close()
		ss.checkReleasedOnce(t, s)
	})

	t.Run("held, client gone first", func(t *testing.T) {
		c := dial(t, addr)
		c.send(sharedReq("GET", 0, 1000, 100, "&hold=1"))
		rw := <-ss.held
		c.c.Close()
		waitFor(t, "writer dead", func() bool { return rw.state.Load() == rwDead })
		_, before := ss.released()
		rw.WriteShared(200, "video/mp2t", ss.newRelease(), ss.data[:1000])
		if _, calls := ss.released(); calls != before+1 {
			t.Fatal("the dropped response was not released at once")
		}
		ss.checkReleasedOnce(t, s)
	})

	t.Run("write timeout", func(t *testing.T) {
		stalled := dialSmallWindow(t, addr)
		stalled.send(sharedReq("GET", 0, 16<<20, 64<<10, "")) // and never reads
		waitFor(t, "write timeout", func() bool { return s.Stats().Closed["write_timeout"] == 1 })
		ss.checkReleasedOnce(t, s)
	})

	t.Run("server stop", func(t *testing.T) {
		c := dialSmallWindow(t, addr)
		c.send(sharedReq("GET", 0, 16<<20, 64<<10, ""))
		waitFor(t, "body waiting", func() bool { return s.Stats().SharedBodies == 1 })
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		if st := s.Stats(); st.SharedBodies != 0 || st.Open != 0 || st.Closed["shutdown"] != 1 {
			t.Fatalf("stats after stop: %+v", st)
		}
		ss.checkReleasedOnce(t, s)
	})
}
