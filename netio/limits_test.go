package netio

import (
	"bufio"
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// expectBusy checks a refusal at accept: 503 with the JSON error, then close.
func (c *client) expectBusy(code string) {
	c.t.Helper()
	resp, body := c.read("GET")
	var eb errorBody
	if err := json.Unmarshal([]byte(body), &eb); err != nil || resp.StatusCode != 503 || len(eb.Errors) != 1 ||
		eb.Errors[0].Status != "503" || eb.Errors[0].Code != code || eb.Errors[0].Title == "" {
		c.t.Fatalf("refusal: %d %q", resp.StatusCode, body)
	}
	c.expectClosed()
}

func dialFrom(t *testing.T, local, addr string) *client {
	t.Helper()
	d := net.Dialer{Timeout: guard, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(guard))
	return &client{t: t, c: c, br: bufio.NewReader(c)}
}

func TestMaxConnsPerIP(t *testing.T) {
	s, addr := startServer(t, Config{MaxConnsPerIP: 2}, handlerFunc(testRouter))
	a, b := dial(t, addr), dial(t, addr)
	for _, c := range []*client{a, b} {
		c.send(get("/hello"))
		c.read("GET")
	}
	dial(t, addr).expectBusy("too_many_connections")
	// Another address has its own count.
	other := dialFrom(t, "127.0.0.2", addr)
	other.send(get("/hello"))
	if _, body := other.read("GET"); body != "hello world" {
		t.Fatalf("other address: %q", body)
	}
	// A closed connection frees its place.
	a.c.Close()
	waitFor(t, "close seen", func() bool { return s.Stats().Open == 2 })
	c := dial(t, addr)
	c.send(get("/hello"))
	if _, body := c.read("GET"); body != "hello world" {
		t.Fatalf("after a close: %q", body)
	}
	st := s.Stats()
	if st.Refused["max_connections_per_ip"] != 1 || st.Refused["max_connections"] != 0 || st.Closed["conn_limit"] != 1 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestIPKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":               "192.0.2.1",
		"::ffff:192.0.2.1":        "192.0.2.1",
		"2001:db8:1:2:3:4:5:6":    "2001:db8:1:2::",
		"2001:db8:1:2:ffff::1":    "2001:db8:1:2::",
		"fe80::1%eth0":            "fe80::",
		"2001:db8:1:3::1":         "2001:db8:1:3::",
		"::1":                     "::",
		"0.0.0.0":                 "0.0.0.0",
		"2001:db8:ffff:ffff::abc": "2001:db8:ffff:ffff::",
	} {
		if got := ipKey(netip.MustParseAddr(in)); got.String() != want {
			t.Errorf("ipKey(%s) = %s, want %s", in, got, want)
		}
	}
}

// Loops acquire and release for the same addresses at once: the counts
// stay exact and the limit holds.
func TestIPLimiterConcurrent(t *testing.T) {
	const limit, workers = 5, 8
	l := newIPLimiter(limit)
	addrs := []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), ipKey(netip.MustParseAddr("2001:db8::1"))}
	var held [3]atomic.Int32
	var over atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				k := (i + w) % len(addrs)
				if !l.acquire(addrs[k]) {
					continue
				}
				if held[k].Add(1) > limit {
					over.Store(true)
				}
				held[k].Add(-1)
				l.release(addrs[k])
			}
		}()
	}
	wg.Wait()
	if over.Load() {
		t.Fatal("more than the limit admitted at once")
	}
	for i := range l.shards {
		if n := len(l.shards[i].conns); n != 0 {
			t.Fatalf("shard %d keeps %d addresses after every release", i, n)
		}
	}
	if unlimited := newIPLimiter(NoLimit); !unlimited.acquire(addrs[0]) {
		t.Fatal("NoLimit refused")
	}
}

// A thousand slowloris connections, each dribbling a request byte by byte,
// while normal clients are served; all of them are closed at the header
// timeout. (2,000 descriptors in all: client and server ends.)
func TestSlowlorisThousand(t *testing.T) {
	const n = 1000
	s, addr := startServer(t, Config{HeaderTimeout: time.Second, IdleTimeout: 30 * time.Second, MaxConnsPerIP: NoLimit},
		handlerFunc(testRouter))
	conns := make([]net.Conn, 0, n)
	for i := 0; i < n; i++ {
		c, err := net.DialTimeout("tcp", addr, guard)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		t.Cleanup(func() { c.Close() })
		conns = append(conns, c)
	}
	req := []byte(get("/hello"))
	var wg sync.WaitGroup
	var closed atomic.Int32
	errs := make(chan error, n)
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			deadline := time.Now().Add(guard)
			var b [1]byte
			for i := 0; time.Now().Before(deadline); i++ {
				// A byte every 100 ms; never the request's last line end.
				if i < len(req)-2 {
					if _, err := c.Write(req[i : i+1]); err != nil {
						closed.Add(1)
						return
					}
				}
				_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
				_, err := c.Read(b[:])
				var ne net.Error
				switch {
				case err == nil:
					errs <- errors.New("a slowloris connection got a response")
					return
				case errors.As(err, &ne) && ne.Timeout():
				default: // EOF or reset: closed by the server
					closed.Add(1)
					return
				}
			}
			errs <- errors.New("a slowloris connection outlived the guard")
		}()
	}

	// Normal clients meanwhile: fresh connections and a keep-alive one.
	keep := dial(t, addr)
	for i := 0; i < 20; i++ {
		c := dial(t, addr)
		c.send(get("/hello"))
		if resp, body := c.read("GET"); resp.StatusCode != 200 || body != "hello world" {
			t.Fatalf("normal client %d: %d %q", i, resp.StatusCode, body)
		}
		c.c.Close()
		keep.send(get("/hello"))
		if resp, body := keep.read("GET"); resp.StatusCode != 200 || body != "hello world" {
			t.Fatalf("keep-alive client %d: %d %q", i, resp.StatusCode, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if closed.Load() != n {
		t.Fatalf("%d of %d slowloris connections closed", closed.Load(), n)
	}
	keep.send(get("/hello"))
	if _, body := keep.read("GET"); body != "hello world" {
		t.Fatalf("keep-alive client after the timeouts: %q", body)
	}
	st := s.Stats()
	if st.Closed["header_timeout"] != n || st.Open != 1 {
		t.Fatalf("stats: header_timeout %d, open %d", st.Closed["header_timeout"], st.Open)
	}
}
