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

// Request is one parsed HTTP/1.x request. It and its strings stay valid after
// ServeHTTP returns (a held response may keep using them).
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
type Feed interface {
	// Start is called once, before the first Next, with the waker the feed's
	// publisher calls (from any goroutine) when new buffers are ready.
	Start(w Waker)
	// Next appends to dst the buffers due to this viewer now and returns it.
	// The buffers must stay unchanged for as long as the connection may be
	// writing them (they are shared with other viewers and never modified).
	Next(dst [][]byte) [][]byte
	// Lagging is called instead of Next when the bytes queued for this viewer
	// exceed the connection's limit. The feed either skips ahead (returns
	// true: the connection continues) or gives up (false: it is closed).
	Lagging(queued int) bool
	// Close is called once when the response ends, for any reason.
	Close()
}

// Waker asks the event loop to call the feed's Next soon. Wake is safe from
// any goroutine and cheap to call often: calls coalesce.
type Waker interface {
	Wake()
}
