package netio

import "net/netip"

// Handler serves HTTP requests. ServeHTTP runs on an event loop and must
// never block: work that waits (an on-demand stream starting) calls
// rw.Hold() and completes the response later from another goroutine.
type Handler interface {
	ServeHTTP(rw *ResponseWriter, req *Request)
}

// Header is a list of header fields in arrival order.
type Header []HeaderField

// HeaderField is one "Name: value" line.
type HeaderField struct {
	Name, Value string
}

// Get returns the first value of the named field (case-insensitive).
func (h Header) Get(name string) string {
	for _, f := range h {
		if equalFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// Request is one parsed HTTP/1.x request. Its strings are immutable and may
// be kept for any time. The Request itself (Header and Body included) is
// the server's: when ServeHTTP returns without Hold it is reused for a later
// request, so only a held response (Hold) keeps using it afterwards, until
// its completion.
type Request struct {
	Method   string // "GET", "HEAD", ...
	Target   string // request-target as sent: "/demo/index.m3u8?x=1"
	Path     string // percent-decoded path: "/demo/index.m3u8"
	RawQuery string // "x=1"
	Proto    string // "HTTP/1.1" or "HTTP/1.0"
	Header   Header
	Body     []byte
	// KeepAlive: the connection stays open after this response unless the
	// response itself closes it.
	KeepAlive bool
	RemoteIP  netip.Addr
}

// Feed is the body of a long-lived streaming response (HTTP MPEG-TS): a
// cursor into shared, immutable buffers. All methods except the Waker's Wake
// are called on the connection's event loop.
//
// Back-pressure: the connection asks for more only when the viewer took
// everything it was given. Next is called once per turn of the connection
// (right after Start, then after each Wake, and after the socket drained
// following a full one), and only when everything from the previous Next
// is in the kernel's socket buffer. While the socket is full, wakes are
// coalesced and Next is not called: the feed falls behind its live edge
// instead of the server queueing bytes for a viewer that cannot take them,
// and when asked again it decides what is due (everything it still has, or
// a skip ahead, or FeedDrop).
type Feed interface {
	// Start is called once, before the first Next, with the waker the feed's
	// publisher calls (from any goroutine) when new buffers are ready.
	Start(w Waker)
	// Next appends to dst the buffers due to this viewer now and returns it.
	// The connection writes them from the feed's memory with writev and,
	// while the socket is full, keeps the unsent part by reference (no
	// copy): the buffers must stay unchanged until the connection's next
	// call of Next or Close. From that call on it refers to none of them,
	// so the feed may recycle the batch then. An empty result is fine; the
	// feed wakes the connection when it has more. A feed bounds what one
	// call returns (about 1 MiB): that is what one turn of the loop writes.
	Next(dst [][]byte) [][]byte
	// Lagging is called instead of Next when the feed is woken while the
	// socket is full and the bytes still held for this viewer exceed
	// Config.MaxQueuedBytes; with back-pressure that takes one batch larger
	// than the limit. The feed either skips ahead (returns true: the
	// connection continues and writes what it holds) or gives up (false:
	// the connection is closed, counted as slow_viewer). Feeds with
	// smaller batches decide lag themselves, in Next (see FeedDrop).
	Lagging(queued int) bool
	// Close is called once when the response ends, for any reason. The
	// connection no longer refers to the feed's buffers.
	Close()
}

// Waker asks the event loop to call the feed's Next soon. Wake is safe from
// any goroutine and cheap to call often: calls coalesce.
type Waker interface {
	Wake()
}
