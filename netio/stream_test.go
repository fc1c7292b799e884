package netio

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"
)

// dialSmallWindow connects with a tiny receive buffer, so that a client that
// does not read backs up into the server quickly.
func dialSmallWindow(t *testing.T, addr string) *client {
	t.Helper()
	d := net.Dialer{Timeout: guard, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c}
}

func TestStreamingViewers(t *testing.T) {
	pub := newTestPub()
	feeds := make(chan *testFeed, 4)
	s, addr := startServer(t, Config{MaxQueuedBytes: 256 << 10}, handlerFunc(func(rw *ResponseWriter, req *Request) {
		f := pub.newFeed(req.RawQuery == "giveup")
		feeds <- f
		rw.SetHeader("Cache-Control", "no-cache")
		rw.Stream(200, "video/mp2t", f)
	}))

	// Two viewers that read, one that stops reading and whose feed gives up
	// when it lags, one that stops reading and whose feed skips ahead.
	var readers []*testFeed
	var wg sync.WaitGroup
	got := make([]int, 2)
	errs := make(chan error, 2)
	for i := 0; i < 2; i++ {
		c := dial(t, addr)
		c.send(get("/live"))
		resp, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
		if err != nil || resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-cache" {
			t.Fatalf("viewer %d: %v %+v", i, err, resp)
		}
		readers = append(readers, <-feeds)
		wg.Add(1)
		go func(i int, body io.Reader) {
			defer wg.Done()
			_ = c.c.SetDeadline(time.Now().Add(30 * time.Second))
			chunk := make([]byte, len(pub.pool[0]))
			for k := 0; ; k++ {
				if _, err := io.ReadFull(body, chunk); err != nil {
					if err != io.EOF {
						errs <- err
					}
					return
				}
				if !bytes.Equal(chunk, pub.pool[k%len(pub.pool)]) {
					errs <- io.ErrUnexpectedEOF
					return
				}
				got[i] += len(chunk)
			}
		}(i, resp.Body)
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
		pub.publish(4)
		time.Sleep(2 * time.Millisecond)
	}
	for i := 0; i < 50; i++ {
		pub.publish(1)
		time.Sleep(time.Millisecond)
	}
	pub.end() // ends the feeds: FeedEnd
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("reader: %v", err)
	}
	pub.mu.Lock()
	total := pub.count * len(pub.pool[0])
	pub.mu.Unlock()
	for i, n := range got {
		if n != total {
			t.Errorf("reader %d got %d bytes of %d", i, n, total)
		}
		if readers[i].lagging.Load() != 0 || readers[i].closed.Load() != 1 {
			t.Errorf("reader %d: lagging %d, closed %d", i, readers[i].lagging.Load(), readers[i].closed.Load())
		}
	}
	if giveUpFeed.lagging.Load() != 1 || giveUpFeed.closed.Load() != 1 {
		t.Errorf("give-up feed: lagging %d, closed %d", giveUpFeed.lagging.Load(), giveUpFeed.closed.Load())
	}
	st := s.Stats()
	if st.Closed["slow_viewer"] != 1 || st.LaggingSkips == 0 || st.Closed["stream_end"] < 2 {
		t.Errorf("stats: %+v", st)
	}
	t.Logf("published %d KiB; lagging skips %d", total>>10, st.LaggingSkips)
}
