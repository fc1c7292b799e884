package netio

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"slices"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"
)

// ResponseWriter answers one request. It is valid during ServeHTTP, on the
// event loop. After Hold it may be completed once, by Write, WriteShared,
// WriteJSON, Error, Redirect, Stream or SendFile, from any goroutine;
// SetHeader calls must come before that completion, from the goroutine that
// completes. A ResponseWriter that was not held must be completed inside
// ServeHTTP and not touched after it returns: it is reused, with its
// Request.
type ResponseWriter struct {
	cs       *connState
	req      *Request
	state    atomic.Int32
	extra    []HeaderField
	extraBuf [6]HeaderField
	// pending is the completion queued to the loop by another goroutine.
	pending completion
}

// Life of a ResponseWriter. Ownership of pending passes with the state
// changes, so a queued feed is closed exactly once whoever gets there first:
// the loop running the completion, or the connection closing meanwhile.
const (
	rwOpen    int32 = iota // in ServeHTTP, no response yet
	rwHeld                 // Hold called, not completed yet
	rwFilling              // a goroutine is filling pending
	rwQueued               // pending queued to the loop
	rwDone                 // response written or streaming
	rwDead                 // the connection closed first: completing is a no-op
)

// completion is a response decided off the loop.
type completion struct {
	stream      bool
	status      int
	contentType string
	body        [][]byte
	feed        Feed
	// file, from off for length bytes, is a SendFile body.
	file        *os.File
	off, length int64
	// shared marks a WriteShared body; onRelease is its release.
	shared    bool
	onRelease func()
}

// release drops a completion that will never be written.
func (p *completion) release() {
	if p.feed != nil {
		p.feed.Close()
	}
	if p.onRelease != nil {
		p.onRelease()
	}
	if p.file != nil {
		_ = p.file.Close()
	}
}

// exchange is one request with its response writer, in one allocation.
// Exchanges answered within ServeHTTP are reused by the loop.
type exchange struct {
	rw  ResponseWriter
	req Request
	// fields is the storage of req.Header, kept across reuses.
	fields Header
}

// maxKeptFields bounds the header storage a reused exchange keeps.
const maxKeptFields = 32

// takeExchange returns the loop's spare exchange, or a new one.
func (l *loopState) takeExchange() *exchange {
	if ex := l.spareEx; ex != nil {
		l.spareEx = nil
		return ex
	}
	return &exchange{}
}

// putExchange keeps ex, cleared, for the loop's next request.
func (l *loopState) putExchange(ex *exchange) {
	fields := ex.req.Header
	clear(fields) // the strings of a past request are not kept alive
	if cap(fields) > maxKeptFields {
		fields = nil
	}
	clear(ex.rw.extraBuf[:])
	ex.rw.cs, ex.rw.req, ex.rw.extra = nil, nil, nil
	ex.rw.state.Store(rwOpen)
	ex.req = Request{}
	ex.fields = fields[:0]
	l.spareEx = ex
}

// Request returns the request being answered.
func (rw *ResponseWriter) Request() *Request { return rw.req }

// SetHeader sets an extra response header, replacing an earlier value of
// the same name. Framing headers (Content-Length, Transfer-Encoding,
// Connection) belong to the server and invalid names or values are
// dropped, with a warning.
func (rw *ResponseWriter) SetHeader(name, value string) {
	if !isToken(name) || !validFieldValue(value) ||
		equalFold(name, "Content-Length") || equalFold(name, "Transfer-Encoding") || equalFold(name, "Connection") {
		rw.cs.s.log.Warn("response header dropped", "name", name, "path", rw.req.Path)
		return
	}
	for i := range rw.extra {
		if equalFold(rw.extra[i].Name, name) {
			rw.extra[i].Value = value
			return
		}
	}
	rw.extra = append(rw.extra, HeaderField{Name: name, Value: value})
}

// Hold says the response will be completed later, from another goroutine.
// If the client goes away meanwhile, the completion is a no-op (a Stream's
// feed is closed at once).
func (rw *ResponseWriter) Hold() {
	rw.state.CompareAndSwap(rwOpen, rwHeld)
}

// Write sends a complete response with Content-Length. The body buffers
// are shared and immutable: they are written with writev as they are, and
// the caller may reuse nothing of them but the outer slice. A HEAD request
// gets the headers only.
func (rw *ResponseWriter) Write(status int, contentType string, body ...[]byte) {
	contentType = rw.validContentType(contentType)
	if rw.state.Load() == rwOpen {
		rw.state.Store(rwDone)
		rw.cs.respond(rw, status, contentType, body, reasonNone)
		return
	}
	rw.complete(completion{status: status, contentType: contentType, body: slices.Clone(body)})
}

// validContentType is contentType, or "" (logged) when it cannot be a
// header value.
func (rw *ResponseWriter) validContentType(contentType string) string {
	if validFieldValue(contentType) {
		return contentType
	}
	rw.cs.s.log.Warn("invalid Content-Type dropped", "path", rw.req.Path)
	return ""
}

// WriteShared sends a complete response with Content-Length, like Write,
// but never copies the body: what the socket does not take at once is kept
// by reference, and sent as the socket drains (the write poller says when;
// the event loop never waits). Later pipelined requests of the connection
// are answered once the body is whole in the kernel; a client that stops
// reading is closed at the write timeout (IdleTimeout without progress).
//
// The body buffers must stay unchanged until release is called; the outer
// slice is the caller's again when WriteShared returns. release (may be nil)
// is called exactly once: when the socket took every byte, at once when no
// body is sent (HEAD, 204, 304, an empty body), or when the connection
// closes first for any reason (client gone, timeout, server Stop). It runs
// on the connection's event loop, so it must not block; the one exception
// is a held response dropped before it reaches the loop (completed after
// the client left, completed twice, or the server stopping), where release
// runs on the calling goroutine before WriteShared returns.
//
// After Hold it may be called from any goroutine, like Write: the response
// is queued to the loop (the outer slice is copied, the buffers are not)
// and written there as above.
func (rw *ResponseWriter) WriteShared(status int, contentType string, release func(), body ...[]byte) {
	contentType = rw.validContentType(contentType)
	if rw.state.Load() == rwOpen {
		rw.state.Store(rwDone)
		rw.cs.startShared(rw, status, contentType, body, release)
		return
	}
	rw.complete(completion{shared: true, status: status, contentType: contentType, body: slices.Clone(body), onRelease: release})
}

// WriteJSON sends v encoded as JSON.
func (rw *ResponseWriter) WriteJSON(status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		rw.Error(500, "internal_error", "encoding the response: "+err.Error())
		return
	}
	rw.Write(status, "application/json", body)
}

// Error sends {"errors":[{"status":"404","code":code,"title":title}]}.
func (rw *ResponseWriter) Error(status int, code, title string) {
	if rw.state.Load() == rwOpen {
		rw.state.Store(rwDone)
		rw.cs.respondError(rw, status, code, title, reasonNone)
		return
	}
	body := appendErrorJSON(nil, status, code, title)
	rw.complete(completion{status: status, contentType: "application/json", body: [][]byte{body}})
}

// Redirect sends status (a 3xx) with a Location header and no body.
func (rw *ResponseWriter) Redirect(status int, location string) {
	if !validFieldValue(location) || location == "" {
		rw.Error(500, "internal_error", "invalid redirect location")
		return
	}
	rw.SetHeader("Location", location)
	rw.Write(status, "")
}

// Stream starts a long-lived response: the headers now (no Content-Length,
// Connection: close), then whatever feed.Next yields each time the feed's
// waker fires and the viewer took the previous batch (see Feed), until the
// client goes, the feed ends (FeedEnd) or gives the viewer up (FeedDrop,
// Lagging). feed.Close is called exactly once in every case, including
// when the response never starts.
func (rw *ResponseWriter) Stream(status int, contentType string, feed Feed) {
	if feed == nil {
		rw.Error(500, "internal_error", "no stream")
		return
	}
	if !validFieldValue(contentType) {
		contentType = ""
	}
	if rw.state.Load() == rwOpen {
		rw.state.Store(rwDone)
		rw.cs.startStream(rw, status, contentType, feed)
		return
	}
	rw.complete(completion{stream: true, status: status, contentType: contentType, feed: feed})
}

// SendFile sends a complete response with Content-Length whose body is
// length bytes of f from offset: the kernel copies them from the page cache
// to the socket (sendfile), after the headers and in order with the
// connection's other responses; later pipelined requests are answered once
// the body is out. SendFile takes f over: it is closed when the body is
// sent, when the connection dies first, or when the response is dropped
// (completed twice, or after the client left). A HEAD request gets the
// headers only. f is read with pread semantics (its offset is not moved);
// if it turns out shorter than offset+length the connection is closed
// mid-body, as the client must learn the body is incomplete.
func (rw *ResponseWriter) SendFile(status int, contentType string, f *os.File, offset, length int64) {
	if f == nil || offset < 0 || length < 0 || length > math.MaxInt64-offset {
		if f != nil {
			_ = f.Close()
		}
		rw.cs.s.log.Error("SendFile with a bad file range", "path", rw.req.Path, "offset", offset, "length", length)
		rw.Error(500, "internal_error", "bad file body")
		return
	}
	contentType = rw.validContentType(contentType)
	if rw.state.Load() == rwOpen {
		rw.state.Store(rwDone)
		rw.cs.startFile(rw, status, contentType, f, offset, length)
		return
	}
	rw.complete(completion{status: status, contentType: contentType, file: f, off: offset, length: length})
}

// complete queues a held response's completion onto the connection's loop.
func (rw *ResponseWriter) complete(p completion) {
	if !rw.state.CompareAndSwap(rwHeld, rwFilling) {
		if st := rw.state.Load(); st != rwDead {
			rw.cs.s.log.Warn("response completed twice or without Hold", "path", rw.req.Path, "state", st)
		}
		p.release()
		return
	}
	rw.pending = p
	if !rw.state.CompareAndSwap(rwFilling, rwQueued) {
		rw.pending = completion{} // the connection closed meanwhile
		p.release()
		return
	}
	cs := rw.cs
	err := cs.loop.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		cs.runCompletion(rw)
		return nil
	}))
	if err != nil && rw.state.CompareAndSwap(rwQueued, rwDead) {
		p.release() // the engine is stopping and will not run the task
	}
}

// abandon runs on the loop when the connection closed before its response.
func (rw *ResponseWriter) abandon() {
	for {
		switch st := rw.state.Load(); st {
		case rwOpen, rwHeld, rwFilling:
			if rw.state.CompareAndSwap(st, rwDead) {
				return
			}
		case rwQueued:
			if rw.state.CompareAndSwap(rwQueued, rwDead) {
				p := rw.pending
				rw.pending = completion{}
				p.release()
				return
			}
		default:
			return
		}
	}
}

// runCompletion runs on the loop: it writes a held response and goes on
// with requests that arrived meanwhile.
func (cs *connState) runCompletion(rw *ResponseWriter) {
	if !rw.state.CompareAndSwap(rwQueued, rwDone) {
		return
	}
	p := rw.pending
	rw.pending = completion{}
	if cs.closed {
		p.release()
		return
	}
	switch {
	case p.stream:
		cs.startStream(rw, p.status, p.contentType, p.feed)
	case p.file != nil:
		cs.startFile(rw, p.status, p.contentType, p.file, p.off, p.length)
	case p.shared:
		cs.startShared(rw, p.status, p.contentType, p.body, p.onRelease)
	default:
		cs.respond(rw, p.status, p.contentType, p.body, reasonNone)
	}
	cs.process()
	cs.settle()
}

// options answers OPTIONS itself: the methods, and a CORS preflight answer.
func (rw *ResponseWriter) options() {
	rw.SetHeader("Allow", allowedMethods)
	rw.SetHeader("Access-Control-Allow-Origin", "*")
	rw.SetHeader("Access-Control-Allow-Methods", allowedMethods)
	if h := rw.req.Header.Get("Access-Control-Request-Headers"); h != "" && validFieldValue(h) {
		rw.SetHeader("Access-Control-Allow-Headers", h)
	}
	rw.SetHeader("Access-Control-Max-Age", "86400")
	rw.Write(204, "")
}
