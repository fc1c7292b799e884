package appliance

import (
	"net/netip"
	"testing"
	"time"

	"github.com/livedge/livedge/netio"
)

// fakeFeed hands out one buffer per Next.
type fakeFeed struct {
	buf    []byte
	closed bool
	ended  bool
}

func (f *fakeFeed) Start(netio.Waker)          {}
func (f *fakeFeed) Next(dst [][]byte) [][]byte { return append(dst, f.buf) }
func (f *fakeFeed) Lagging(int) bool           { return true }
func (f *fakeFeed) Close()                     { f.closed = true }
func (f *fakeFeed) Ended() bool                { return f.ended }

func testRequest(ip string, ua string) *netio.Request {
	return &netio.Request{RemoteIP: netip.MustParseAddr(ip), Header: netio.Header{{Name: "User-Agent", Value: ua}}}
}

func TestSessionTable(t *testing.T) {
	tab := newSessionTable()
	inner := &fakeFeed{buf: make([]byte, 188)}
	feed := tab.trackFeed("a", testRequest("127.0.0.1", "vlc"), inner)
	feed.Next(nil)
	feed.Next(nil)
	tab.hlsRequest("a", testRequest("127.0.0.2", "safari"), 1000)
	tab.hlsRequest("a", testRequest("127.0.0.2", "safari"), 500)
	tab.hlsRequest("b", testRequest("127.0.0.2", "safari"), 7)

	list := tab.list()
	if len(list) != 3 {
		t.Fatalf("sessions %+v", list)
	}
	if s := list[0]; s.Name != "a" || s.Proto != protoMPEGTS || s.Bytes != 376 || s.IP != "127.0.0.1" || s.UserAgent != "vlc" {
		t.Fatalf("ts session %+v", s)
	}
	if s := list[1]; s.Proto != protoHLS || s.Bytes != 1500 {
		t.Fatalf("hls session %+v", s)
	}
	if u := tab.usage("a"); u.HLS != 1 || u.MPEGTS != 1 || u.BytesOut != 1876 {
		t.Fatalf("usage of a %+v", u)
	}
	inner.ended = true
	if !feed.(netio.FeedEnd).Ended() {
		t.Fatal("Ended not passed through")
	}
	feed.Close()
	if !inner.closed || tab.usage("a").MPEGTS != 0 || tab.total() != 2 {
		t.Fatalf("closing the feed: closed %v, usage %+v", inner.closed, tab.usage("a"))
	}
	// HLS sessions end when idle; traffic of unconfigured streams is forgotten.
	tab.sweep(time.Now().Add(hlsSessionIdle+time.Second), func(name string) bool { return name == "a" })
	if tab.total() != 0 {
		t.Fatalf("idle HLS sessions left: %+v", tab.list())
	}
	if tab.usage("a").BytesOut != 1876 || tab.usage("b").BytesOut != 0 {
		t.Fatalf("traffic after sweep: a %+v b %+v", tab.usage("a"), tab.usage("b"))
	}
	if tab.bytesOut.Load() != 1883 {
		t.Fatalf("bytes out %d", tab.bytesOut.Load())
	}
}

func BenchmarkSessionFeedNext(b *testing.B) {
	tab := newSessionTable()
	feed := tab.trackFeed("a", testRequest("127.0.0.1", "vlc"), &fakeFeed{buf: make([]byte, 1316)})
	dst := make([][]byte, 0, 4)
	b.ReportAllocs()
	for b.Loop() {
		dst = feed.Next(dst[:0])
	}
}

func BenchmarkHLSRequest(b *testing.B) {
	tab := newSessionTable()
	req := testRequest("127.0.0.1", "Mozilla/5.0")
	tab.hlsRequest("a", req, 1)
	b.ReportAllocs()
	for b.Loop() {
		tab.hlsRequest("a", req, 100_000)
	}
}
