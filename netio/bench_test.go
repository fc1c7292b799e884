package netio

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"testing"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// fakeConn stands in for a gnet connection whose socket takes everything:
// its descriptor is /dev/null, so the writev system calls are made (and
// cost what they cost) but no bytes are copied: the benchmarks measure our
// side of the response and streaming paths.
type fakeConn struct {
	gnet.Conn // methods the benchmarks do not reach panic
	fd        int
	in        []byte
	written   int // bytes written through gnet (Write, Writev)
}

func (c *fakeConn) Writev(bs [][]byte) (int, error) {
	n, err := unix.Writev(c.fd, bs)
	c.written += n
	return n, err
}
func (c *fakeConn) Write(b []byte) (int, error) {
	n, err := unix.Write(c.fd, b)
	c.written += n
	return n, err
}
func (c *fakeConn) Fd() int                                     { return c.fd }
func (c *fakeConn) OutboundBuffered() int                       { return 0 }
func (c *fakeConn) InboundBuffered() int                        { return len(c.in) }
func (c *fakeConn) Peek(int) ([]byte, error)                    { return c.in, nil }
func (c *fakeConn) Discard(n int) (int, error)                  { c.in = c.in[n:]; return n, nil }
func (c *fakeConn) RemoteAddr() net.Addr                        { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (c *fakeConn) Context() any                                { return nil }
func (c *fakeConn) EventLoop() gnet.EventLoop                   { return nil }
func (c *fakeConn) SetContext(any)                              {}
func (c *fakeConn) LocalAddr() net.Addr                         { return nil }
func (c *fakeConn) AsyncWrite([]byte, gnet.AsyncCallback) error { return nil }

func benchConn(b *testing.B, h Handler) (*connState, *fakeConn) {
	s := NewServer(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, h)
	fd, err := unix.Open(os.DevNull, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { unix.Close(fd) })
	fc := &fakeConn{fd: fd}
	ip := netip.MustParseAddr("127.0.0.1")
	return newConnState(s, newLoopState(s, nil), fc, ip, ipKey(ip)), fc
}

// BenchmarkResponseWrite is the keep-alive response path: Write of a 64 KiB
// shared body, headers formatted into the connection's buffer, one writev.
func BenchmarkResponseWrite(b *testing.B) {
	cs, _ := benchConn(b, nil)
	ex := &exchange{req: Request{Method: "GET", Path: "/demo/seg1.ts", Proto: "HTTP/1.1", KeepAlive: true}}
	rw := &ex.rw
	rw.cs, rw.req = cs, &ex.req
	b.ReportAllocs()
	b.SetBytes(int64(len(big64K)))
	for b.Loop() {
		rw.state.Store(rwOpen)
		rw.extra = rw.extraBuf[:0]
		cs.current = rw
		rw.SetHeader("Cache-Control", "max-age=60")
		rw.Write(200, "video/mp2t", big64K)
	}
	if cs.state != stIdle || cs.closed {
		b.Fatalf("state %d", cs.state)
	}
}

// BenchmarkResponseWriteShared is BenchmarkResponseWrite with WriteShared
// of an HLS-like segment (ten shared chunks) on a socket that takes it
// all: the head and chunks go out in one writev from the connection's own
// list, and release runs at once.
func BenchmarkResponseWriteShared(b *testing.B) {
	cs, fc := benchConn(b, nil)
	ex := &exchange{req: Request{Method: "GET", Path: "/demo/seg1.ts", Proto: "HTTP/1.1", KeepAlive: true}}
	rw := &ex.rw
	rw.cs, rw.req = cs, &ex.req
	var segment [][]byte
	for off, size := 0, (len(big64K)+9)/10; off < len(big64K); off += size {
		segment = append(segment, big64K[off:min(off+size, len(big64K))])
	}
	released := 0
	release := func() { released++ }
	b.ReportAllocs()
	b.SetBytes(int64(len(big64K)))
	for b.Loop() {
		rw.state.Store(rwOpen)
		rw.extra = rw.extraBuf[:0]
		cs.current = rw
		rw.SetHeader("Cache-Control", "max-age=60")
		rw.WriteShared(200, "video/mp2t", release, segment...)
	}
	if cs.state != stIdle || cs.closed || cs.shared.active || released != b.N || fc.written != 0 {
		b.Fatalf("state %d, released %d of %d, %d bytes through gnet", cs.state, released, b.N, fc.written)
	}
}

// BenchmarkServeRequest is a whole keep-alive request on the loop: parse,
// route, a 64 KiB response. The request's strings cost one allocation (they
// must outlive the connection's buffers: handlers may keep them); the rest
// of the request and the response none.
func BenchmarkServeRequest(b *testing.B) {
	reqs := []struct{ name, req string }{
		{"short", "GET /demo/seg1.ts HTTP/1.1\r\nHost: example.com\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n"},
		{"player", "GET /demo/2026/11/23/12/00/00-06000.ts?token=abc123 HTTP/1.1\r\nHost: edge1.example.com\r\n" +
			"Connection: keep-alive\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36\r\n" +
			"Accept: */*\r\nOrigin: https://player.example.com\r\nReferer: https://player.example.com/\r\n" +
			"Accept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.9\r\n\r\n"},
	}
	// An HLS segment is a list of the stream's shared chunks.
	var segment [][]byte
	for off, size := 0, (len(big64K)+9)/10; off < len(big64K); off += size {
		segment = append(segment, big64K[off:min(off+size, len(big64K))])
	}
	reqs = append(reqs, struct{ name, req string }{"player-10chunks", reqs[1].req})
	for _, tc := range reqs {
		body := [][]byte{big64K}
		if tc.name == "player-10chunks" {
			body = segment
		}
		b.Run(tc.name, func(b *testing.B) {
			cs, _ := benchConn(b, handlerFunc(func(rw *ResponseWriter, req *Request) {
				rw.SetHeader("Cache-Control", "max-age=60")
				rw.SetHeader("Access-Control-Allow-Origin", "*")
				rw.Write(200, "video/mp2t", body...)
			}))
			req := []byte(tc.req)
			b.ReportAllocs()
			b.SetBytes(int64(len(big64K)))
			for b.Loop() {
				cs.gc.(*fakeConn).in = req
				cs.process()
			}
			if cs.state != stIdle || cs.wantClose || cs.closed {
				b.Fatalf("state %d", cs.state)
			}
		})
	}
}

// benchFeed yields the same shared buffers on every Next, like a viewer
// keeping up with a live stream.
type benchFeed struct{ bufs [][]byte }

func (f *benchFeed) Start(Waker)                { panic("not started in benchmarks") }
func (f *benchFeed) Next(dst [][]byte) [][]byte { return append(dst, f.bufs...) }
func (f *benchFeed) Lagging(int) bool           { return true }
func (f *benchFeed) Close()                     {}

// BenchmarkStreamPump is the HTTP MPEG-TS hot path on the loop: Next into
// the connection's reused list and writev of the shared buffers. 12
// buffers of 7 TS packets is more than x/sys's stack iovec array holds.
func BenchmarkStreamPump(b *testing.B) {
	for _, n := range []int{2, 12} {
		b.Run(strconv.Itoa(n)+"bufs", func(b *testing.B) {
			cs, _ := benchConn(b, nil)
			f := &benchFeed{}
			for i := 0; i < n; i++ {
				f.bufs = append(f.bufs, bytes.Repeat([]byte{0x47}, 7*188))
			}
			cs.state, cs.feed = stStreaming, f
			b.ReportAllocs()
			b.SetBytes(int64(n * 7 * 188))
			for b.Loop() {
				cs.pump()
			}
			if cs.closed || cs.queued() != 0 {
				b.Fatalf("closed %v, queued %d", cs.closed, cs.queued())
			}
		})
	}
}

// BenchmarkStreamPumpBlocked is a feed's wake while its viewer's socket is
// full: what a stalled viewer costs its loop per published chunk.
func BenchmarkStreamPumpBlocked(b *testing.B) {
	cs, _ := benchConn(b, nil)
	f := &benchFeed{bufs: [][]byte{bytes.Repeat([]byte{0x47}, 7*188)}}
	cs.state, cs.feed = stStreaming, f
	cs.iov = append(cs.iov[:0], f.bufs...)
	cs.pend, cs.pendBytes = cs.iov, len(f.bufs[0])
	cs.wpArmed.Store(true)
	b.ReportAllocs()
	for b.Loop() {
		cs.pump()
	}
	if cs.closed || cs.pendBytes != len(f.bufs[0]) {
		b.Fatalf("closed %v, pending %d", cs.closed, cs.pendBytes)
	}
}

// BenchmarkTCPKeepAlive64K is the response path end to end over loopback:
// one keep-alive client, 64 KiB bodies. Allocations include the client's.
func BenchmarkTCPKeepAlive64K(b *testing.B) {
	s := NewServer(Config{Listen: []string{"127.0.0.1:0"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
		handlerFunc(func(rw *ResponseWriter, req *Request) { rw.Write(200, "video/mp2t", big64K) }))
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	defer s.Stop(b.Context())
	c, err := net.Dial("tcp", s.Addrs()[0].String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReaderSize(c, 128<<10)
	req := []byte("GET /seg.ts HTTP/1.1\r\nHost: b\r\n\r\n")
	body := make([]byte, len(big64K))
	b.ReportAllocs()
	b.SetBytes(int64(len(big64K)))
	for b.Loop() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		for { // headers
			line, err := br.ReadSlice('\n')
			if err != nil {
				b.Fatal(err)
			}
			if len(line) == 2 {
				break
			}
		}
		if _, err := io.ReadFull(br, body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTCPStreamWake is the streaming path end to end over loopback:
// per op the publisher adds one 16 KiB buffer and wakes the viewer, whose
// loop pumps it with writev, and the client reads it. Allocations include
// gnet's task for each wake batch.
func BenchmarkTCPStreamWake(b *testing.B) {
	pub := newTestPub()
	s := NewServer(Config{Listen: []string{"127.0.0.1:0"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
		handlerFunc(func(rw *ResponseWriter, req *Request) { rw.Stream(200, "video/mp2t", pub.newFeed(lagKeep)) }))
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	defer s.Stop(b.Context())
	c, err := net.Dial("tcp", s.Addrs()[0].String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReaderSize(c, 64<<10)
	if _, err := c.Write([]byte("GET /live HTTP/1.1\r\nHost: b\r\n\r\n")); err != nil {
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
	for {
		pub.mu.Lock()
		n := len(pub.viewers)
		pub.mu.Unlock()
		if n == 1 {
			break
		}
	}
	chunk := make([]byte, len(pub.pool[0]))
	var w Waker
	for f := range pub.viewers {
		w = f.w
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(chunk)))
	for b.Loop() {
		pub.mu.Lock()
		pub.count++
		pub.mu.Unlock()
		w.Wake()
		if _, err := io.ReadFull(br, chunk); err != nil {
			b.Fatal(err)
		}
	}
}
