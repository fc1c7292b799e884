package netio

import (
	"net"
	"net/netip"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// connPhase is where a connection is in its request/response cycle; it
// decides which timeout applies and what incoming bytes mean.
type connPhase uint8

const (
	stReading   connPhase = iota // awaiting or receiving a request: HeaderTimeout
	stIdle                       // keep-alive between requests: IdleTimeout
	stHeld                       // a held response is pending: requests wait in gnet's buffer
	stStreaming                  // a streaming response runs: incoming bytes are discarded
	stSending                    // a file or shared body is being sent: requests wait in gnet's buffer
	stClosing                    // the last response is queued: close once it is sent
)

// maxDiscard bounds what a client may send on a connection that no longer
// reads requests (streaming or closing).
const maxDiscard = 64 << 10

// maxIovecBatch: x/sys/unix (under gnet's Writev) builds the iovec array on
// the stack up to 8 entries and allocates beyond.
const maxIovecBatch = 8

// maxScratch bounds the error-body scratch buffer kept per connection.
const maxScratch = 4 << 10

var continueLine = []byte("HTTP/1.1 100 Continue\r\n\r\n")

// connState is one connection's state. Every field but wakePending is
// touched only on the connection's event loop.
type connState struct {
	s        *Server
	loop     *loopState
	gc       gnet.Conn
	slot     int
	remoteIP netip.Addr
	ipKey    netip.Addr // what MaxConnsPerIP counts this connection by

	state  connPhase
	since  time.Duration // when the current phase's timeout clock started
	paused bool          // output over MaxQueuedBytes: requests wait
	closed bool          // OnClose ran
	// wantClose asks the caller driving the connection to close it now.
	wantClose bool
	reason    closeReason

	parser       requestParser
	bodySeen     int // buffered bytes when the body last made progress
	continueSent bool

	current   *ResponseWriter // the response in progress (held)
	feed      Feed
	feedEnd   FeedEnd
	feedDrop  FeedDrop
	discarded int
	// pend is what the socket has not taken yet of the feed's last batch or
	// of a shared body: the tail of iov, still the caller's shared buffers
	// (never copied); pendBytes is its length in bytes. Next is not called
	// until it is out.
	pend      [][]byte
	pendBytes int

	lastOut  int           // OutboundBuffered at the last sweep
	outSince time.Duration // when lastOut last changed

	file fileBody // the file body being sent (stSending)
	// shared is the shared body being sent by reference (stSending).
	shared sharedBody
	// wpRegistered: the socket is in the write poller's epoll set.
	wpRegistered bool

	// Reused for every response: header bytes, the iovec list, error bodies.
	hdr     []byte
	iov     [][]byte
	scratch []byte
	one     [1][]byte

	wakePending atomic.Bool
	// wpArmed: the write poller will wake the connection when its socket
	// takes more; set on the loop, cleared by the poller.
	wpArmed atomic.Bool
}

func newConnState(s *Server, l *loopState, c gnet.Conn, ip, key netip.Addr) *connState {
	now := s.now()
	cs := &connState{
		s:        s,
		loop:     l,
		gc:       c,
		remoteIP: ip,
		ipKey:    key,
		state:    stReading, // the first request gets HeaderTimeout from connect
		since:    now,
		outSince: now,
		iov:      make([][]byte, 0, maxIovecBatch),
	}
	cs.parser.lim = parseLimits{maxHeaderBytes: s.cfg.MaxHeaderBytes, maxBodyBytes: s.cfg.MaxBodyBytes}
	cs.parser.fields = &l.fields
	l.add(cs)
	return cs
}

// remoteIP is the client's address, IPv4 unmapped.
func remoteIP(c gnet.Conn) netip.Addr {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			return ip.Unmap()
		}
	}
	return netip.Addr{}
}

// onTraffic handles bytes received.
func (cs *connState) onTraffic() gnet.Action {
	c := cs.gc
	switch cs.state {
	case stStreaming, stClosing:
		n := c.InboundBuffered()
		_, _ = c.Discard(n)
		if cs.discarded += n; cs.discarded > maxDiscard {
			cs.requestClose(reasonOverflow)
		}
	case stHeld, stSending:
		// Pipelined requests wait in gnet's buffer, up to one maximal request.
		if c.InboundBuffered() > cs.s.cfg.MaxHeaderBytes+cs.s.cfg.MaxBodyBytes {
			cs.requestClose(reasonOverflow)
		}
	default:
		cs.process()
	}
	if cs.wantClose && !cs.closed {
		return gnet.Close
	}
	return gnet.None
}

// settle closes the connection if asked to, from loop tasks (outside
// OnTraffic, where returning gnet.Close does it).
func (cs *connState) settle() {
	if cs.wantClose && !cs.closed {
		cs.closeNow()
	}
}

// closeNow closes on the loop, outside OnTraffic; OnClose runs before it
// returns.
func (cs *connState) closeNow() {
	_ = cs.loop.el.Close(cs.gc)
}

func (cs *connState) requestClose(r closeReason) {
	if cs.reason == reasonNone {
		cs.reason = r
	}
	cs.wantClose = true
}

// closeAfterFlush closes once the queued output is sent: at once if it is,
// else the sweep does when it drained.
func (cs *connState) closeAfterFlush(r closeReason) {
	cs.state = stClosing
	if cs.reason == reasonNone {
		cs.reason = r
	}
	if cs.gc.OutboundBuffered() == 0 {
		cs.wantClose = true
	}
}

// process parses and serves buffered requests in order until one is
// incomplete, held or streaming, or the output is over its limit.
func (cs *connState) process() {
	c := cs.gc
	for !cs.wantClose && !cs.closed && (cs.state == stReading || cs.state == stIdle) {
		if c.OutboundBuffered() > cs.s.cfg.MaxQueuedBytes {
			if !cs.paused {
				cs.paused = true
				cs.loop.markPaused(cs) // resumed when the output drained
			}
			return
		}
		cs.paused = false
		avail := c.InboundBuffered()
		if avail == 0 {
			return
		}
		if cs.state == stIdle {
			cs.state = stReading
			cs.since = cs.s.now()
		}
		if total, ok := cs.parser.awaitingBody(); ok && avail < total {
			cs.bodyProgress(avail)
			return
		}
		buf, _ := c.Peek(-1)
		req, n, herr := cs.parser.parse(buf)
		if herr != nil {
			cs.refuse(herr)
			return
		}
		if n == 0 {
			if _, ok := cs.parser.awaitingBody(); ok {
				cs.bodyProgress(avail)
				if cs.parser.expectContinue && !cs.continueSent {
					cs.continueSent = true
					_, _ = c.Write(continueLine)
				}
			}
			return
		}
		_, _ = c.Discard(n)
		cs.bodySeen, cs.continueSent = 0, false
		cs.serve(req)
	}
}

// bodyProgress restarts the request clock while a body keeps arriving.
func (cs *connState) bodyProgress(avail int) {
	if avail > cs.bodySeen {
		cs.bodySeen = avail
		cs.since = cs.s.now()
	}
}

// allowedMethods are the methods the Allow header lists.
const allowedMethods = "GET, HEAD, POST, PUT, DELETE, OPTIONS"

func (cs *connState) serve(req Request) {
	cs.s.stats.requests.Add(1)
	ex := cs.loop.takeExchange()
	ex.req = req
	// The parser's fields are the loop's scratch: the request gets its own.
	ex.req.Header = append(ex.fields[:0], req.Header...)
	ex.req.RemoteIP = cs.remoteIP
	rw := &ex.rw
	rw.cs, rw.req = cs, &ex.req
	rw.extra = rw.extraBuf[:0]
	cs.current = rw
	answered := true // by the handler, on the loop, without panicking
	switch req.Method {
	case "GET", "HEAD", "POST", "PUT", "DELETE":
		answered = cs.callHandler(rw)
	case "OPTIONS":
		rw.options()
	default:
		rw.SetHeader("Allow", allowedMethods)
		rw.Error(405, "method_not_allowed", "method "+req.Method+" is not allowed")
	}
	switch rw.state.Load() {
	case rwOpen:
		cs.s.log.Error("handler returned without a response", "path", req.Path)
		rw.state.Store(rwDone)
		cs.respondError(rw, 500, "internal_error", "no response", reasonInternal)
	case rwHeld, rwFilling, rwQueued:
		cs.state = stHeld
	case rwDone:
		if answered {
			// Answered before ServeHTTP returned: nothing refers to the
			// exchange any more (the contract of Handler), so the loop's
			// next request takes it.
			cs.loop.putExchange(ex)
		}
	}
}

// callHandler runs the handler; false if it panicked.
func (cs *connState) callHandler(rw *ResponseWriter) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			ok = false
			cs.s.log.Error("handler panic", "path", rw.req.Path, "panic", r, "stack", string(debug.Stack()))
			if rw.state.CompareAndSwap(rwOpen, rwDone) {
				cs.respondError(rw, 500, "internal_error", "internal error", reasonInternal)
			}
		}
	}()
	cs.s.handler.ServeHTTP(rw, rw.req)
	return true
}

// respond writes a complete response, then readies the connection for the
// next request or closes it. closeWith forces a close with that reason.
func (cs *connState) respond(rw *ResponseWriter, status int, ctype string, body [][]byte, closeWith closeReason) {
	keep := rw.req.KeepAlive && closeWith == reasonNone && !cs.s.stopping.Load()
	cs.writeResponse(status, ctype, rw.extra, body, rw.req.Method == "HEAD", keep)
	cs.current = nil
	cs.afterResponse(keep, closeWith)
}

// afterResponse readies the connection for the next request once a
// response is written (or queued), or closes it after the flush.
func (cs *connState) afterResponse(keep bool, closeWith closeReason) {
	if cs.closed {
		return
	}
	if !keep {
		if closeWith == reasonNone {
			closeWith = reasonDone
		}
		cs.closeAfterFlush(closeWith)
		return
	}
	cs.state = stIdle
	cs.since = cs.s.now()
}

// respondError answers with a JSON error body formatted in the scratch buffer.
func (cs *connState) respondError(rw *ResponseWriter, status int, code, title string, closeWith closeReason) {
	body := appendErrorJSON(cs.scratch[:0], status, code, title)
	cs.one[0] = body
	cs.respond(rw, status, "application/json", cs.one[:], closeWith)
	cs.one[0] = nil
	cs.keepScratch(body)
}

func (cs *connState) keepScratch(b []byte) {
	if cap(b) <= maxScratch {
		cs.scratch = b[:0]
	}
}

// refuse answers a request that failed to parse and closes.
func (cs *connState) refuse(herr *httpError) {
	cs.s.stats.requests.Add(1)
	body := appendErrorJSON(cs.scratch[:0], herr.status, herr.code, herr.title)
	cs.one[0] = body
	cs.writeResponse(herr.status, "application/json", nil, cs.one[:], false, false)
	cs.one[0] = nil
	cs.keepScratch(body)
	cs.parser.reset()
	if cs.closed {
		return
	}
	_, _ = cs.gc.Discard(cs.gc.InboundBuffered())
	cs.closeAfterFlush(reasonBadRequest)
}

// appendHead formats the status line and headers; contentLength < 0 sends
// none (a body delimited by the close).
func (cs *connState) appendHead(dst []byte, status int, ctype string, extra []HeaderField, contentLength int64, keep bool) []byte {
	dst = appendStatusLine(dst, status)
	dst = append(dst, *cs.s.date.Load()...)
	dst = append(dst, "Server: livedge\r\n"...)
	if ctype != "" {
		dst = appendHeader(dst, "Content-Type", ctype)
	}
	if contentLength >= 0 {
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, contentLength, 10)
		dst = append(dst, "\r\n"...)
	}
	for _, f := range extra {
		dst = appendHeader(dst, f.Name, f.Value)
	}
	if keep {
		dst = append(dst, "Connection: keep-alive\r\n\r\n"...)
	} else {
		dst = append(dst, "Connection: close\r\n\r\n"...)
	}
	return dst
}

// writeResponse writes head and body with writev: the body buffers go to the
// kernel from the caller's memory; gnet copies only what it does not take.
func (cs *connState) writeResponse(status int, ctype string, extra []HeaderField, body [][]byte, head, keep bool) {
	length := int64(-1) // 1xx, 204 and 304 carry neither body nor Content-Length
	if bodyAllowed(status) {
		length = 0
		for _, b := range body {
			length += int64(len(b))
		}
	}
	hdr := cs.appendHead(cs.hdr[:0], status, ctype, extra, length, keep)
	iov := append(cs.iov[:0], hdr)
	if !head && length > 0 {
		iov = append(iov, body...)
	}
	cs.writev(iov)
	clear(iov) // drop references to shared buffers
	cs.iov = iov[:0]
	cs.hdr = hdr[:0]
}

// writev writes a response's buffers: straight from the caller's memory
// while the socket takes them (writeDirect), and the rest through gnet,
// which copies what it cannot send yet and flushes it when the socket
// drains. So once writev returns the connection refers to none of bufs.
// Their entries may be rewritten (cut to their unsent part): callers build
// their list for every write.
func (cs *connState) writev(bufs [][]byte) {
	if cs.closed {
		return
	}
	if cs.gc.OutboundBuffered() == 0 {
		rest, _, err := cs.writeDirect(bufs)
		if err != nil {
			cs.writeFailed(err)
			return
		}
		bufs = rest
	}
	cs.queueRest(bufs)
}

// queueRest hands gnet what the socket did not take: gnet writes it when it
// can and copies the unsent part. gnet's own writev allocates for more than
// maxIovecBatch buffers, so the first call (which tries the socket once
// more) gets at most that many; once gnet holds output, the rest goes in one
// call and is only copied.
func (cs *connState) queueRest(bufs [][]byte) {
	for len(bufs) > 0 && !cs.closed {
		n := len(bufs)
		if n > maxIovecBatch && cs.gc.OutboundBuffered() == 0 {
			n = maxIovecBatch
		}
		if _, err := cs.gc.Writev(bufs[:n]); err != nil {
			return // gnet closed the connection (OnClose ran)
		}
		bufs = bufs[n:]
	}
}

// expired runs in the sweep: it applies the timeouts of the connection's
// phase. now is precise and the clocks started from the coarse clock, so a
// timeout T fires after T plus up to two ticks, never before T.
func (cs *connState) expired(now time.Duration) bool {
	cfg := &cs.s.cfg
	slack := cs.s.tick
	out := cs.gc.OutboundBuffered() + cs.pendBytes
	if out != cs.lastOut || out == 0 {
		cs.lastOut, cs.outSince = out, now
	}
	if out > 0 && now-cs.outSince >= cfg.IdleTimeout {
		cs.reason = reasonWriteTimeout
		return true
	}
	switch cs.state {
	case stClosing:
		return out == 0 // the last response is out: close as planned
	case stSending:
		// A shared body is in out (pend); a file body's bytes are not:
		// sendfile takes them straight from the file.
		if cs.file.f != nil && now-cs.file.progress >= cfg.IdleTimeout+slack {
			cs.reason = reasonWriteTimeout
			return true
		}
	case stReading:
		if !cs.paused && now-cs.since >= cfg.HeaderTimeout+slack {
			cs.reason = reasonHeaderTimeout
			return true
		}
	case stIdle:
		if out > 0 || cs.paused {
			cs.since = now // idle counts from when the response was sent
		} else if now-cs.since >= cfg.IdleTimeout+slack {
			cs.reason = reasonIdleTimeout
			return true
		}
	}
	return false
}

// resumeReading continues with buffered requests once output drained.
func (cs *connState) resumeReading(now time.Duration) {
	cs.paused = false
	cs.since = now
	cs.process()
	cs.settle()
}

// onClose runs when gnet closed the connection, for whatever reason.
func (cs *connState) onClose(err error) {
	if cs.closed {
		return
	}
	cs.closed = true
	cs.wakePending.Store(true) // later wakes stop at the flag
	reason := cs.reason
	if reason == reasonNone {
		switch {
		case cs.s.stopping.Load():
			reason = reasonShutdown
		case err != nil:
			reason = reasonClient
		}
	}
	cs.s.stats.closed[reason].Add(1)
	cs.s.stats.open.Add(-1)
	cs.s.perIP.release(cs.ipKey)
	cs.loop.remove(cs)
	cs.endFile()
	cs.endShared()
	if cs.wpRegistered {
		cs.s.wpoll.forget(cs) // before gnet closes the descriptor
	}
	cs.pend, cs.pendBytes = nil, 0 // the feed's buffers: not to be touched after Close
	if f := cs.feed; f != nil {
		cs.feed, cs.feedEnd, cs.feedDrop = nil, nil, nil
		cs.s.stats.streaming.Add(-1)
		f.Close()
	}
	if rw := cs.current; rw != nil {
		cs.current = nil
		rw.abandon()
	}
	cs.hdr, cs.iov, cs.scratch = nil, nil, nil
}
