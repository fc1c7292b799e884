package netio

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// slowClientIP is where slow test clients connect from: the server gives
// their sockets a small send buffer (startSmallSendBuf).
var slowClientIP = netip.MustParseAddr("127.0.0.2")

// dialSmallWindow connects from slowClientIP with a tiny receive buffer, so
// that a client that does not read backs up into the server quickly.
func dialSmallWindow(t *testing.T, addr string) *client {
	t.Helper()
	d := net.Dialer{
		Timeout:   guard,
		LocalAddr: &net.TCPAddr{IP: slowClientIP.AsSlice()},
		Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
			})
			if err != nil {
				return err
			}
			return serr
		},
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c}
}

// startSmallSendBuf starts a server that gives the sockets of clients from
// slowClientIP an 8 KiB send buffer, so that such a viewer that does not
// read fills its socket at once. (Fast clients keep the system's: with a
// send buffer below two loopback segments every write waits for a delayed
// ACK.)
func startSmallSendBuf(t *testing.T, cfg Config, h Handler) (*Server, string) {
	t.Helper()
	cfg.Listen = []string{"127.0.0.1:0"}
	return startServerWith(t, cfg, h, func(s *Server) {
		s.sendBufFor = func(ip netip.Addr) int {
			if ip == slowClientIP {
				return 8 << 10
			}
			return 0
		}
	})
}

// streamHandler streams a feed of pub per request; the query picks the lag
// policy ("skip", "giveup", else keep) and "&nextlag" makes the feed decide
// lag in Next, at 32 buffers behind. Started feeds go to feeds.
func streamHandler(pub *testPub, feeds chan<- *testFeed) handlerFunc {
	return func(rw *ResponseWriter, req *Request) {
		var f *testFeed
		switch q := req.RawQuery; {
		case q == "skip" || q == "skip&nextlag":
			f = pub.newFeed(lagSkip)
		case q == "giveup" || q == "giveup&nextlag":
			f = pub.newFeed(lagGiveUp)
		default:
			f = pub.newFeed(lagKeep)
		}
		if len(req.RawQuery) > 8 && req.RawQuery[len(req.RawQuery)-8:] == "&nextlag" {
			f.nextLag = 32
		}
		feeds <- f
		rw.SetHeader("Cache-Control", "no-cache")
		rw.Stream(200, "video/mp2t", f)
	}
}

// openStream requests path and reads the streaming response's head.
func openStream(t *testing.T, c *client, path string) io.Reader {
	t.Helper()
	if c.br == nil {
		c.br = bufio.NewReader(c.c)
	}
	c.send(get(path))
	resp, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("%s: %v %+v", path, err, resp)
	}
	return resp.Body
}

// streamReader reads a testPub stream in buffer-sized chunks and checks that
// chunk k is buffer first+k: no byte lost, duplicated or reordered.
type streamReader struct {
	pub   *testPub
	first int
	got   atomic.Int64 // buffers received
}

func (r *streamReader) readAll(body io.Reader) error {
	chunk := make([]byte, len(r.pub.pool[0]))
	for k := r.first; ; k++ {
		if _, err := io.ReadFull(body, chunk); err != nil {
			if err == io.EOF {
				return nil
			}
			return fmt.Errorf("after %d buffers: %w", k-r.first, err)
		}
		if !bytes.Equal(chunk, r.pub.pool[k%len(r.pub.pool)]) {
			return fmt.Errorf("buffer %d: wrong bytes (starting %d)", k, chunk[0])
		}
		r.got.Add(1)
	}
}

// A viewer that does not read while the stream is produced much faster: the
// connection stops asking its feed for more once the socket is full, gnet
// copies none of the stream (StreamQueuedPeak), the other viewers get
// everything meanwhile, and the slow viewer, once it reads, gets every byte
// in order, late.
func TestStreamBackPressure(t *testing.T) {
	pub := newTestPub()
	feeds := make(chan *testFeed, 3)
	s, addr := startSmallSendBuf(t, Config{}, streamHandler(pub, feeds))

	var wg sync.WaitGroup
	errs := make(chan error, 3)
	read := func(r *streamReader, body io.Reader) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.readAll(body); err != nil {
				errs <- err
			}
		}()
	}
	var fast []*streamReader
	for range 2 {
		c := dial(t, addr)
		_ = c.c.SetDeadline(time.Now().Add(4 * guard))
		r := &streamReader{pub: pub}
		read(r, openStream(t, c, "/live"))
		fast = append(fast, r)
		<-feeds
	}
	slow := dialSmallWindow(t, addr)
	_ = slow.c.SetDeadline(time.Now().Add(4 * guard))
	slowBody := openStream(t, slow, "/live")
	slowFeed := <-feeds
	pub.waitViewers(t, 3)

	// Phase 1: 5 MiB published while the slow viewer reads nothing.
	const phase1 = 320
	for pub.count < phase1 {
		pub.publish(4)
		// Keep the fast readers within reach, not on time: no timing here.
		for _, r := range fast {
			for int(r.got.Load()) < pub.count-64 {
				time.Sleep(100 * time.Microsecond)
			}
		}
	}
	waitFor(t, "fast viewers got everything", func() bool {
		return fast[0].got.Load() == phase1 && fast[1].got.Load() == phase1
	})
	st := s.Stats()
	handed := slowFeed.handed.Load()
	// What the slow viewer's socket holds (8 KiB send buffer, 4 KiB receive
	// window: a few buffers at most) plus one batch of 16.
	if handed > 16+8 {
		t.Errorf("the feed handed %d buffers to a viewer that read nothing", handed)
	}
	if st.StreamWaits == 0 {
		t.Errorf("no stream ever waited for its socket: %+v", st)
	}
	if st.StreamQueuedPeak > 1<<10 {
		t.Errorf("gnet held %d bytes of a stream", st.StreamQueuedPeak)
	}

	// Phase 2: the slow viewer reads, through its tiny window, while more is
	// published faster than that.
	slowR := &streamReader{pub: pub}
	read(slowR, &slowReader{r: slowBody, chunk: 4 << 10}) // as fast as its tiny window lets it
	for pub.count < phase1+160 {
		pub.publish(4)
	}
	pub.end()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i, r := range append(fast, slowR) {
		if n := r.got.Load(); n != int64(pub.count) {
			t.Errorf("viewer %d got %d buffers of %d", i, n, pub.count)
		}
	}
	if slowFeed.lagging.Load() != 0 || slowFeed.closed.Load() != 1 {
		t.Errorf("slow feed: lagging %d, closed %d", slowFeed.lagging.Load(), slowFeed.closed.Load())
	}
	t.Logf("slow feed handed %d buffers while blocked; stream waits %d", handed, st.StreamWaits)
}

// Feeds that decide lag in Next: after a stall, one skips to the live edge
// and goes on, one gives its viewer up (FeedDrop), while a third viewer
// gets every byte.
func TestStreamFeedDecidesLag(t *testing.T) {
	pub := newTestPub()
	feeds := make(chan *testFeed, 3)
	s, addr := startSmallSendBuf(t, Config{}, streamHandler(pub, feeds))

	c := dial(t, addr)
	_ = c.c.SetDeadline(time.Now().Add(4 * guard))
	reader := &streamReader{pub: pub}
	readErr := make(chan error, 1)
	readerBody := openStream(t, c, "/live")
	<-feeds
	skipper := dialSmallWindow(t, addr)
	_ = skipper.c.SetDeadline(time.Now().Add(4 * guard))
	skipBody := openStream(t, skipper, "/live?skip&nextlag")
	skipFeed := <-feeds
	dropped := dialSmallWindow(t, addr)
	_ = dropped.c.SetDeadline(time.Now().Add(4 * guard))
	dropBody := openStream(t, dropped, "/live?giveup&nextlag")
	dropFeed := <-feeds
	pub.waitViewers(t, 3)
	go func() { readErr <- reader.readAll(readerBody) }()

	for pub.count < 200 {
		pub.publish(4)
		for int(reader.got.Load()) < pub.count-64 {
			time.Sleep(100 * time.Microsecond)
		}
	}
	waitFor(t, "reader got everything", func() bool { return reader.got.Load() == 200 })

	// The stalled viewers read again: their feeds find them far behind.
	if _, err := io.Copy(io.Discard, dropBody); err != nil && !isReset(err) {
		t.Fatalf("dropped viewer: %v", err)
	}
	waitFor(t, "dropped feed closed", func() bool { return dropFeed.closed.Load() == 1 })
	if !dropFeed.dropped.Load() {
		t.Error("the give-up feed was closed without dropping its viewer")
	}

	skipDone := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(skipBody)
		skipDone <- b
	}()
	waitFor(t, "skipper skipped", func() bool { return skipFeed.skips.Load() > 0 })
	pub.publish(8)
	pub.end()
	if err := <-readErr; err != nil {
		t.Fatal(err)
	}
	got := <-skipDone
	if reader.got.Load() != int64(pub.count) {
		t.Errorf("reader got %d buffers of %d", reader.got.Load(), pub.count)
	}
	// The skipper's bytes are whole buffers, in order but for the skips.
	size := len(pub.pool[0])
	if len(got)%size != 0 || len(got)/size >= pub.count {
		t.Fatalf("skipper got %d bytes (%d buffers published)", len(got), pub.count)
	}
	jumps := 0
	for k := 0; k < len(got)/size; k++ {
		b := got[k*size : (k+1)*size]
		if !bytes.Equal(b, pub.pool[int(b[0])%len(pub.pool)]) {
			t.Fatalf("skipper buffer %d is no published buffer", k)
		}
		if k > 0 && int(b[0]) != (int(got[(k-1)*size])+1)%len(pub.pool) {
			jumps++
		}
	}
	if jumps > int(skipFeed.skips.Load()) {
		t.Errorf("skipper: %d discontinuities, %d skips", jumps, skipFeed.skips.Load())
	}
	st := s.Stats()
	if st.Closed["slow_viewer"] != 1 || st.Closed["stream_end"] != 2 {
		t.Errorf("stats: %+v", st)
	}
}

// A publisher that gives up a viewer whose socket is full (FeedDrop, then
// a wake): the connection closes at once, as a slow viewer, without
// copying what it held.
func TestStreamDropWhileBlocked(t *testing.T) {
	pub := newTestPub()
	feeds := make(chan *testFeed, 1)
	s, addr := startSmallSendBuf(t, Config{}, streamHandler(pub, feeds))
	c := dialSmallWindow(t, addr)
	_ = c.c.SetDeadline(time.Now().Add(guard))
	body := openStream(t, c, "/live")
	f := <-feeds
	pub.waitViewers(t, 1)
	for range 8 {
		pub.publish(8)
	}
	waitFor(t, "the socket filled", func() bool { return s.Stats().StreamWaits > 0 })

	f.dropped.Store(true) // what a publisher's lag check does
	pub.publish(1)
	waitFor(t, "feed closed", func() bool { return f.closed.Load() == 1 })
	if _, err := io.Copy(io.Discard, body); err != nil && !isReset(err) {
		t.Fatalf("dropped viewer: %v", err)
	}
	st := s.Stats()
	if st.Closed["slow_viewer"] != 1 || st.StreamQueuedPeak > 1<<10 {
		t.Errorf("stats: %+v", st)
	}
}

func isReset(err error) bool {
	return err != nil && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF))
}

// TestStreamingViewers covers Lagging: feeds whose batches are larger than
// MaxQueuedBytes, two viewers that read, one that stops reading and whose
// feed gives up when it lags, one that stops reading and whose feed skips
// ahead.
func TestStreamingViewers(t *testing.T) {
	pub := newTestPub()
	feeds := make(chan *testFeed, 4)
	s, addr := startSmallSendBuf(t, Config{MaxQueuedBytes: 32 << 10}, streamHandler(pub, feeds))

	var readers []*streamReader
	var readerFeeds []*testFeed
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		c := dial(t, addr)
		_ = c.c.SetDeadline(time.Now().Add(30 * time.Second))
		r := &streamReader{pub: pub}
		body := openStream(t, c, "/live")
		readers = append(readers, r)
		readerFeeds = append(readerFeeds, <-feeds)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.readAll(body); err != nil {
				errs <- err
			}
		}()
	}
	giveUp := dialSmallWindow(t, addr)
	giveUp.send(get("/live?giveup"))
	giveUpFeed := <-feeds
	skipper := dialSmallWindow(t, addr)
	skipper.send(get("/live?skip"))
	skipFeed := <-feeds
	pub.waitViewers(t, 4)

	// Publish until both stalled viewers lagged, then a little more.
	deadline := time.Now().Add(20 * time.Second)
	for giveUpFeed.closed.Load() == 0 || skipFeed.lagging.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no lagging: giveup closed=%d lagging=%d, skip lagging=%d",
				giveUpFeed.closed.Load(), giveUpFeed.lagging.Load(), skipFeed.lagging.Load())
		}
		pub.publish(16)
		time.Sleep(2 * time.Millisecond)
	}
	for range 50 {
		pub.publish(1)
		time.Sleep(time.Millisecond)
	}
	pub.end() // ends the feeds: FeedEnd
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("reader: %v", err)
	}
	for i, r := range readers {
		if n := r.got.Load(); n != int64(pub.count) {
			t.Errorf("reader %d got %d buffers of %d", i, n, pub.count)
		}
		if readerFeeds[i].closed.Load() != 1 {
			t.Errorf("reader %d: closed %d", i, readerFeeds[i].closed.Load())
		}
	}
	if giveUpFeed.lagging.Load() != 1 || giveUpFeed.closed.Load() != 1 {
		t.Errorf("give-up feed: lagging %d, closed %d", giveUpFeed.lagging.Load(), giveUpFeed.closed.Load())
	}
	st := s.Stats()
	if st.Closed["slow_viewer"] != 1 || st.LaggingSkips == 0 || st.Closed["stream_end"] < 2 {
		t.Errorf("stats: %+v", st)
	}
	t.Logf("published %d KiB; lagging skips %d", pub.count*len(pub.pool[0])>>10, st.LaggingSkips)
}
