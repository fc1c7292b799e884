package netio

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type handlerFunc func(rw *ResponseWriter, req *Request)

func (f handlerFunc) ServeHTTP(rw *ResponseWriter, req *Request) { f(rw, req) }

var big64K = func() []byte {
	b := make([]byte, 64<<10)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}()

// testRouter is the handler most tests use.
func testRouter(rw *ResponseWriter, req *Request) {
	switch req.Path {
	case "/hello":
		rw.SetHeader("X-Test", "1")
		rw.Write(200, "text/plain", []byte("hello "), []byte("world"))
	case "/big":
		rw.Write(200, "application/octet-stream", big64K)
	case "/json":
		rw.WriteJSON(200, map[string]int{"a": 1})
	case "/echo":
		rw.Write(200, "application/octet-stream", req.Body)
	case "/redirect":
		rw.Redirect(302, "/hello")
	case "/held":
		ms, _ := strconv.Atoi(strings.TrimPrefix(req.RawQuery, "ms="))
		rw.Hold()
		go func() {
			time.Sleep(time.Duration(ms) * time.Millisecond)
			rw.Write(200, "text/plain", []byte("held-"+strconv.Itoa(ms)))
		}()
	case "/panic":
		panic("test panic")
	default:
		rw.Error(404, "not_found", "no such resource: "+req.Path)
	}
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func startServer(t *testing.T, cfg Config, h Handler) (*Server, string) {
	t.Helper()
	return startServerWith(t, cfg, h, nil)
}

// startServerWith starts a server whose test hooks setup sets (nil: none).
func startServerWith(t *testing.T, cfg Config, h Handler, setup func(*Server)) (*Server, string) {
	t.Helper()
	if cfg.Listen == nil {
		cfg.Listen = []string{"127.0.0.1:0"}
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	s := NewServer(cfg, h)
	if setup != nil {
		setup(s)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return s, s.Addrs()[0].String()
}

// guard is the failure deadline of every network read in the tests.
const guard = 10 * time.Second

type client struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, guard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(guard))
	return &client{t: t, c: c, br: bufio.NewReader(c)}
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, s); err != nil {
		c.t.Fatal(err)
	}
}

// read reads one response to a request of the given method, body included.
func (c *client) read(method string) (*http.Response, string) {
	c.t.Helper()
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		c.t.Fatalf("read response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("read body: %v", err)
	}
	return resp, string(body)
}

// expectClosed checks that the server closes the connection.
func (c *client) expectClosed() {
	c.t.Helper()
	b, err := c.br.ReadByte()
	if err == nil {
		c.t.Fatalf("connection open: read %q", b)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatal("connection not closed within the guard")
	}
}

func get(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n" }

func TestKeepAliveGET(t *testing.T) {
	s, addr := startServer(t, Config{}, handlerFunc(testRouter))
	c := dial(t, addr)
	for i := 0; i < 3; i++ {
		c.send(get("/hello"))
		resp, body := c.read("GET")
		if resp.StatusCode != 200 || body != "hello world" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
		h := resp.Header
		if h.Get("Server") != "livedge" || h.Get("Date") == "" || h.Get("Content-Length") != "11" ||
			h.Get("Content-Type") != "text/plain" || h.Get("Connection") != "keep-alive" || h.Get("X-Test") != "1" {
			t.Fatalf("headers: %v", h)
		}
	}
	c.send(get("/json"))
	if resp, body := c.read("GET"); resp.StatusCode != 200 || body != `{"a":1}` || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("json: %d %q", resp.StatusCode, body)
	}
	c.send(get("/redirect"))
	if resp, _ := c.read("GET"); resp.StatusCode != 302 || resp.Header.Get("Location") != "/hello" {
		t.Fatalf("redirect: %d %v", resp.StatusCode, resp.Header)
	}
	c.send(get("/big"))
	if resp, body := c.read("GET"); resp.StatusCode != 200 || body != string(big64K) {
		t.Fatalf("big: %d, %d bytes", resp.StatusCode, len(body))
	}
	c.send("GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
	if resp, _ := c.read("GET"); !resp.Close { // net/http drops "Connection: close" into Close
		t.Fatalf("no Connection: close: %v", resp.Header)
	}
	c.expectClosed()

	// HTTP/1.0 closes unless asked to keep alive.
	c10 := dial(t, addr)
	c10.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
	if resp, _ := c10.read("GET"); resp.Header.Get("Connection") != "keep-alive" {
		t.Fatalf("1.0 keep-alive: %v", resp.Header)
	}
	c10.send("GET /hello HTTP/1.0\r\n\r\n")
	c10.read("GET")
	c10.expectClosed()

	if st := s.Stats(); st.Requests != 9 || st.Accepted != 2 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestPipelinedInOrder(t *testing.T) {
	_, addr := startServer(t, Config{}, handlerFunc(testRouter))
	c := dial(t, addr)
	// A slow held response first: the ones after it must wait for it.
	c.send(get("/held?ms=100") + get("/hello") + get("/held?ms=5") + "HEAD /big HTTP/1.1\r\nHost: t\r\n\r\n" + get("/json"))
	want := []string{"held-100", "hello world", "held-5", "", `{"a":1}`}
	methods := []string{"GET", "GET", "GET", "HEAD", "GET"}
	for i, w := range want {
		resp, body := c.read(methods[i])
		if resp.StatusCode != 200 || body != w {
			t.Fatalf("response %d: %d %q, want %q", i, resp.StatusCode, body, w)
		}
	}
}

func TestHEAD(t *testing.T) {
	_, addr := startServer(t, Config{}, handlerFunc(testRouter))
	c := dial(t, addr)
	c.send("HEAD /big HTTP/1.1\r\nHost: t\r\n\r\n")
	resp, body := c.read("HEAD")
	if resp.StatusCode != 200 || body != "" || resp.Header.Get("Content-Length") != "65536" {
		t.Fatalf("HEAD: %d %v %d body bytes", resp.StatusCode, resp.Header, len(body))
	}
	// Nothing of the body may follow: the next response parses cleanly.
	c.send(get("/hello"))
	if _, body := c.read("GET"); body != "hello world" {
		t.Fatalf("after HEAD: %q", body)
	}
}

type errorBody struct {
	Errors []struct {
		Status, Code, Title string
	}
}

func TestErrorsAndClosing(t *testing.T) {
	s, addr := startServer(t, Config{MaxHeaderBytes: 1024, MaxBodyBytes: 100}, handlerFunc(testRouter))
	tests := []struct {
		name   string
		req    string
		status int
		code   string
		closes bool
	}{
		{"not found", get("/nope"), 404, "not_found", false},
		{"method not allowed", "PATCH /hello HTTP/1.1\r\nHost: t\r\n\r\n", 405, "method_not_allowed", false},
		{"panic", get("/panic"), 500, "internal_error", true},
		{"malformed", "GET /hello HTTP/1.1 junk\r\nHost: t\r\n\r\n", 400, "bad_request", true},
		{"garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400, "bad_request", true},
		{"traversal", get("/a/%2e%2e/b"), 400, "bad_request", true},
		{"header too large", "GET / HTTP/1.1\r\nHost: t\r\nX: " + strings.Repeat("a", 2000) + "\r\n\r\n", 431, "request_header_fields_too_large", true},
		{"body too large", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n", 413, "payload_too_large", true},
		{"chunked", "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411, "length_required", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, addr)
			c.send(tt.req)
			resp, body := c.read("GET")
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tt.status, body)
			}
			var eb errorBody
			if err := json.Unmarshal([]byte(body), &eb); err != nil || len(eb.Errors) != 1 ||
				eb.Errors[0].Status != strconv.Itoa(tt.status) || eb.Errors[0].Code != tt.code || eb.Errors[0].Title == "" {
				t.Fatalf("error body %q (%v)", body, err)
			}
			if tt.status == 405 && resp.Header.Get("Allow") == "" {
				t.Fatal("405 without Allow")
			}
			if tt.closes {
				c.expectClosed()
				return
			}
			c.send(get("/hello"))
			if _, body := c.read("GET"); body != "hello world" {
				t.Fatalf("keep-alive after error: %q", body)
			}
		})
	}

	t.Run("options", func(t *testing.T) {
		c := dial(t, addr)
		c.send("OPTIONS /x HTTP/1.1\r\nHost: t\r\nAccess-Control-Request-Headers: content-type\r\n\r\n")
		resp, _ := c.read("OPTIONS")
		if resp.StatusCode != 204 || resp.Header.Get("Allow") != allowedMethods ||
			resp.Header.Get("Access-Control-Allow-Headers") != "content-type" || resp.Header.Get("Content-Length") != "" {
			t.Fatalf("OPTIONS: %d %v", resp.StatusCode, resp.Header)
		}
	})
	t.Run("expect continue", func(t *testing.T) {
		c := dial(t, addr)
		c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
		line, err := c.br.ReadString('\n')
		if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
			t.Fatalf("interim: %q %v", line, err)
		}
		if blank, _ := c.br.ReadString('\n'); blank != "\r\n" {
			t.Fatalf("interim end: %q", blank)
		}
		c.send("hello")
		if _, body := c.read("POST"); body != "hello" {
			t.Fatalf("echo: %q", body)
		}
	})
	if st := s.Stats(); st.Closed["bad_request"] < 6 || st.Closed["internal_error"] != 1 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestHeldResponse(t *testing.T) {
	held := make(chan *ResponseWriter, 1)
	_, addr := startServer(t, Config{}, handlerFunc(func(rw *ResponseWriter, req *Request) {
		if req.Path == "/hold" {
			rw.Hold()
			held <- rw
			return
		}
		testRouter(rw, req)
	}))

	t.Run("completed from a goroutine", func(t *testing.T) {
		c := dial(t, addr)
		c.send(get("/hold") + get("/hello"))
		rw := <-held
		time.Sleep(20 * time.Millisecond) // the pipelined request waits meanwhile
		rw.SetHeader("X-Held", "yes")
		rw.Write(201, "text/plain", []byte("done"))
		rw.Write(200, "text/plain", []byte("twice")) // ignored
		resp, body := c.read("GET")
		if resp.StatusCode != 201 || body != "done" || resp.Header.Get("X-Held") != "yes" {
			t.Fatalf("held: %d %q %v", resp.StatusCode, body, resp.Header)
		}
		if _, body := c.read("GET"); body != "hello world" {
			t.Fatalf("after held: %q", body)
		}
	})

	t.Run("client gone first", func(t *testing.T) {
		c := dial(t, addr)
		c.send(get("/hold"))
		rw := <-held
		c.c.Close()
		f := &countingFeed{}
		// Completions after the close are no-ops; the feed is closed once.
		waitFor(t, "feed closed", func() bool {
			if rw.state.Load() != rwDead {
				return false
			}
			rw.Stream(200, "video/mp2t", f)
			return true
		})
		rw.Write(200, "text/plain", []byte("late"))
		if f.closed.Load() != 1 || f.started.Load() != 0 {
			t.Fatalf("feed closed %d times, started %d", f.closed.Load(), f.started.Load())
		}
	})

	t.Run("streamed after hold", func(t *testing.T) {
		c := dial(t, addr)
		c.send(get("/hold"))
		rw := <-held
		pub := newTestPub()
		f := pub.newFeed(lagKeep)
		rw.Stream(200, "video/mp2t", f)
		resp, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
		if err != nil || resp.StatusCode != 200 || !resp.Close || resp.ContentLength != -1 {
			t.Fatalf("stream head: %v %+v", err, resp)
		}
		pub.waitViewers(t, 1)
		pub.publish(3)
		pub.end()
		body, err := io.ReadAll(resp.Body)
		if err != nil || len(body) != 3*len(pub.pool[0]) {
			t.Fatalf("stream body: %d bytes, %v", len(body), err)
		}
		waitFor(t, "feed closed", func() bool { return f.closed.Load() == 1 })
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(guard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type countingFeed struct{ started, closed atomic.Int32 }

func (f *countingFeed) Start(Waker)                { f.started.Add(1) }
func (f *countingFeed) Next(dst [][]byte) [][]byte { return dst }
func (f *countingFeed) Lagging(int) bool           { return true }
func (f *countingFeed) Close()                     { f.closed.Add(1) }

func TestSlowloris(t *testing.T) {
	s, addr := startServer(t, Config{HeaderTimeout: time.Second, IdleTimeout: 30 * time.Second}, handlerFunc(testRouter))
	var slow []*client
	for i := 0; i < 3; i++ {
		c := dial(t, addr)
		c.send("GET /hello HT")
		slow = append(slow, c)
	}
	slow = append(slow, dial(t, addr)) // sends nothing at all
	body := dial(t, addr)              // a body that stops arriving
	body.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
	slow = append(slow, body)

	// A normal client is served meanwhile, on a keep-alive connection that
	// stays open past the header timeout.
	c := dial(t, addr)
	c.send(get("/hello"))
	if _, b := c.read("GET"); b != "hello world" {
		t.Fatalf("normal client: %q", b)
	}
	for _, sc := range slow {
		sc.expectClosed()
	}
	c.send(get("/hello"))
	if _, b := c.read("GET"); b != "hello world" {
		t.Fatalf("normal client after the timeout: %q", b)
	}
	if n := s.Stats().Closed["header_timeout"]; n != 5 {
		t.Fatalf("header_timeout closes: %d", n)
	}
}

func TestIdleTimeout(t *testing.T) {
	s, addr := startServer(t, Config{IdleTimeout: time.Second}, handlerFunc(testRouter))
	c := dial(t, addr)
	c.send(get("/hello"))
	c.read("GET")
	c.expectClosed()
	if n := s.Stats().Closed["idle_timeout"]; n != 1 {
		t.Fatalf("idle_timeout closes: %d", n)
	}
}

func TestMaxConns(t *testing.T) {
	s, addr := startServer(t, Config{MaxConns: 2}, handlerFunc(testRouter))
	a, b := dial(t, addr), dial(t, addr)
	a.send(get("/hello"))
	a.read("GET")
	b.send(get("/hello"))
	b.read("GET")
	dial(t, addr).expectBusy("too_many_connections")
	if st := s.Stats(); st.Closed["conn_limit"] != 1 || st.Refused["max_connections"] != 1 || st.Open != 2 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestListenErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().String()
	s := NewServer(Config{Listen: []string{"127.0.0.1:0", taken}, Logger: testLogger(t)}, handlerFunc(testRouter))
	err = s.Start()
	if err == nil || !strings.Contains(err.Error(), taken) {
		t.Fatalf("bind error %v does not name %s", err, taken)
	}
	if err := NewServer(Config{Listen: []string{"127.0.0.1:1", "127.0.0.1:0", "127.0.0.1:1"}}, nil).Start(); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate listen: %v", err)
	}
	for _, bad := range []string{"", "host:port", "example.com:80", "70000"} {
		if _, err := listenAddr(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for in, want := range map[string]string{"8080": ":8080", "127.0.0.1:80": "127.0.0.1:80", "[::1]:80": "[::1]:80"} {
		if got, err := listenAddr(in); err != nil || got != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
}

func TestMultipleListeners(t *testing.T) {
	s, _ := startServer(t, Config{Listen: []string{"127.0.0.1:0", "127.0.0.2:0"}}, handlerFunc(testRouter))
	addrs := s.Addrs()
	if len(addrs) != 2 || !strings.HasPrefix(addrs[1].String(), "127.0.0.2:") {
		t.Fatalf("addrs %v", addrs)
	}
	for _, a := range addrs {
		c := dial(t, a.String())
		c.send(get("/hello"))
		if _, b := c.read("GET"); b != "hello world" {
			t.Fatalf("%s: %q", a, b)
		}
	}
}

func TestStopClosesEverything(t *testing.T) {
	pub := newTestPub()
	feeds := make(chan *testFeed, 1)
	held := make(chan *ResponseWriter, 1)
	s := NewServer(Config{Listen: []string{"127.0.0.1:0"}, Logger: testLogger(t)}, handlerFunc(func(rw *ResponseWriter, req *Request) {
		switch req.Path {
		case "/stream":
			f := pub.newFeed(lagKeep)
			feeds <- f
			rw.Stream(200, "video/mp2t", f)
		case "/hold":
			rw.Hold()
			held <- rw
		default:
			testRouter(rw, req)
		}
	}))
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	addr := s.Addrs()[0].String()
	idle := dial(t, addr)
	idle.send(get("/hello"))
	idle.read("GET")
	viewer := dial(t, addr)
	viewer.send(get("/stream"))
	f := <-feeds
	pub.waitViewers(t, 1)
	pub.publish(2)
	resp, err := http.ReadResponse(viewer.br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	waiting := dial(t, addr)
	waiting.send(get("/hold"))
	rw := <-held

	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	idle.expectClosed()
	waiting.expectClosed()
	if body, _ := io.ReadAll(resp.Body); len(body) != 2*len(pub.pool[0]) {
		t.Fatalf("viewer got %d bytes", len(body))
	}
	if f.closed.Load() != 1 {
		t.Fatalf("feed closed %d times", f.closed.Load())
	}
	late := &countingFeed{}
	rw.Stream(200, "video/mp2t", late)
	if late.closed.Load() != 1 {
		t.Fatal("a feed handed over after Stop was not closed")
	}
	if st := s.Stats(); st.Open != 0 || st.Streaming != 0 || st.Closed["shutdown"] != 3 {
		t.Fatalf("stats after stop: %+v", st)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("listener still open")
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("second stop: %v", err)
	}
}

// testPub is a publisher of shared buffers: a sequence of published
// buffers, where buffer k is pool[k%len(pool)], so the content of the
// stream is known without keeping it.
type testPub struct {
	pool [][]byte

	mu      sync.Mutex
	count   int // buffers published
	ended   bool
	viewers map[*testFeed]bool
}

func newTestPub() *testPub {
	p := &testPub{viewers: make(map[*testFeed]bool)}
	for i := 0; i < 16; i++ {
		b := make([]byte, 16<<10)
		for j := range b {
			b[j] = byte(i)
		}
		p.pool = append(p.pool, b)
	}
	return p
}

// newFeed returns a viewer's feed: onLag says what Lagging does; the feed
// itself decides nothing about lag in Next.
func (p *testPub) newFeed(onLag lagPolicy) *testFeed { return &testFeed{pub: p, onLag: onLag} }

// lagPolicy is what a testFeed does when it lags.
type lagPolicy int

const (
	lagKeep   lagPolicy = iota // go on with every byte, late
	lagSkip                    // skip to the live edge
	lagGiveUp                  // give the viewer up
)

func (p *testPub) waitViewers(t *testing.T, n int) {
	t.Helper()
	waitFor(t, "feeds started", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.viewers) == n
	})
}

func (p *testPub) publish(n int) {
	p.mu.Lock()
	p.count += n
	ws := make([]Waker, 0, len(p.viewers))
	for f := range p.viewers {
		ws = append(ws, f.w)
	}
	p.mu.Unlock()
	for _, w := range ws {
		w.Wake()
	}
}

func (p *testPub) end() {
	p.mu.Lock()
	p.ended = true
	p.mu.Unlock()
	p.publish(0)
}

// testFeed is one viewer's cursor into a testPub.
type testFeed struct {
	pub   *testPub
	onLag lagPolicy // what Lagging does
	// nextLag, when set, makes Next decide lag itself: a viewer more than
	// nextLag buffers behind the live edge lags (onLag) there.
	nextLag int

	w       Waker
	first   int // the first buffer due to this viewer
	next    int
	ended   bool
	dropped atomic.Bool
	// handed counts the buffers Next handed out.
	handed  atomic.Int64
	lagging atomic.Int32 // Lagging calls
	skips   atomic.Int32 // lags in Next that skipped ahead
	closed  atomic.Int32
}

func (f *testFeed) Start(w Waker) {
	f.pub.mu.Lock()
	f.w = w
	f.first = f.pub.count // a viewer starts at the live edge
	f.next = f.first
	f.pub.viewers[f] = true
	f.pub.mu.Unlock()
	w.Wake()
}

func (f *testFeed) Next(dst [][]byte) [][]byte {
	f.pub.mu.Lock()
	if f.nextLag > 0 && f.pub.count-f.next > f.nextLag {
		switch f.onLag {
		case lagSkip:
			f.next = f.pub.count
			f.skips.Add(1)
		case lagGiveUp:
			f.dropped.Store(true)
		}
	}
	n := len(dst)
	for f.next < f.pub.count && len(dst)-n < 16 {
		dst = append(dst, f.pub.pool[f.next%len(f.pub.pool)])
		f.next++
	}
	more := f.next < f.pub.count
	f.ended = f.pub.ended && !more
	f.pub.mu.Unlock()
	f.handed.Add(int64(len(dst) - n))
	if more {
		f.w.Wake()
	}
	return dst
}

func (f *testFeed) Lagging(int) bool {
	f.lagging.Add(1)
	switch f.onLag {
	case lagGiveUp:
		return false
	case lagSkip:
		f.pub.mu.Lock()
		f.next = f.pub.count
		f.pub.mu.Unlock()
	}
	return true
}

func (f *testFeed) Ended() bool   { return f.ended }
func (f *testFeed) Dropped() bool { return f.dropped.Load() }

func (f *testFeed) Close() {
	f.closed.Add(1)
	f.pub.mu.Lock()
	delete(f.pub.viewers, f)
	f.pub.mu.Unlock()
}

func TestMulticore(t *testing.T) {
	s, addr := startServer(t, Config{Multicore: true}, handlerFunc(testRouter))
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		c := dial(t, addr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 5; j++ {
				if _, err := io.WriteString(c.c, get("/held?ms=1")+get("/hello")); err != nil {
					t.Error(err)
					return
				}
				for _, want := range []string{"held-1", "hello world"} {
					resp, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
					if err != nil {
						t.Error(err)
						return
					}
					body, _ := io.ReadAll(resp.Body)
					if string(body) != want {
						t.Errorf("got %q, want %q", body, want)
					}
				}
			}
		}()
	}
	wg.Wait()
	if st := s.Stats(); st.Requests != 80 || st.Open != 8 {
		t.Fatalf("stats: %+v", st)
	}
}

// A client that pipelines faster than it reads: the server stops taking
// requests while the output is over MaxQueuedBytes and resumes as it drains.
func TestPipelineBackPressure(t *testing.T) {
	_, addr := startServer(t, Config{MaxQueuedBytes: 64 << 10, HeaderTimeout: time.Second}, handlerFunc(testRouter))
	c := dialSmallWindow(t, addr)
	c.br = bufio.NewReader(c.c)
	_ = c.c.SetDeadline(time.Now().Add(guard))
	var reqs strings.Builder
	for i := 0; i < 150; i++ {
		reqs.WriteString(get("/big") + get("/hello"))
	}
	c.send(reqs.String())
	time.Sleep(50 * time.Millisecond)
	for i := 0; i < 150; i++ {
		if _, body := c.read("GET"); body != string(big64K) {
			t.Fatalf("response %d: %d bytes", 2*i, len(body))
		}
		if _, body := c.read("GET"); body != "hello world" {
			t.Fatalf("response %d: %q", 2*i+1, body)
		}
	}
}
