package netio

import "time"

// sharedBody is a response body of shared, immutable buffers being sent
// by reference (WriteShared): the connection keeps the unsent tail of the
// writev list, never a copy, until the socket took it all.
type sharedBody struct {
	active bool
	// pend is the unsent part of the response: the head, then the body's
	// buffers, in the connection's own list (cs.iov), cut as the socket
	// takes them.
	pend    [][]byte
	hdr     []byte // the head's buffer, the connection's again once sent
	release func()
	keep    bool // the connection stays open after the body
	// progress is when the socket last took bytes: the write timeout.
	progress time.Duration
}

// startShared runs on the loop: it writes head and body with one writev
// from the caller's memory and, if the socket is full, keeps the rest by
// reference and waits for the write poller; later pipelined requests wait
// in gnet's buffer meanwhile. release is called once the body is in the
// kernel or the connection closed.
func (cs *connState) startShared(rw *ResponseWriter, status int, ctype string, body [][]byte, release func()) {
	cs.current = nil
	if cs.closed {
		if release != nil {
			release()
		}
		return
	}
	keep := rw.req.KeepAlive && !cs.s.stopping.Load()
	length := int64(-1) // 1xx, 204 and 304 carry neither body nor Content-Length
	if bodyAllowed(status) {
		length = 0
		for _, b := range body {
			length += int64(len(b))
		}
	}
	if length <= 0 || rw.req.Method == "HEAD" {
		// Nothing of the body is written: it is free at once.
		cs.writeResponse(status, ctype, rw.extra, body, rw.req.Method == "HEAD", keep)
		if release != nil {
			release()
		}
		cs.afterResponse(keep, reasonNone)
		return
	}
	hdr := cs.appendHead(cs.hdr[:0], status, ctype, rw.extra, length, keep)
	cs.hdr = nil // the head is being sent: not to be reused meanwhile
	iov := append(cs.iov[:0], hdr)
	iov = append(iov, body...)
	cs.iov = iov
	cs.shared = sharedBody{active: true, pend: iov, hdr: hdr, release: release, keep: keep, progress: cs.s.now()}
	cs.state = stSending
	cs.s.stats.sharedBodies.Add(1)
	cs.sendShared()
}

// sendShared writes what the socket takes of the shared body. Like
// sendFile it writes behind gnet's back, so only while gnet holds no output
// of the connection (the tail of an earlier response): that keeps the bytes
// in order.
func (cs *connState) sendShared() {
	sb := &cs.shared
	c := cs.gc
	if c.OutboundBuffered() > 0 {
		_ = c.Flush() // on a write error gnet closes the connection: OnClose ran
		if cs.closed {
			return
		}
		if c.OutboundBuffered() > 0 {
			cs.waitShared()
			return
		}
	}
	rest, n, err := cs.writeDirect(sb.pend)
	if n > 0 {
		sb.progress = cs.s.now()
	}
	if err != nil {
		cs.writeFailed(err) // OnClose releases the body
		return
	}
	sb.pend = rest
	if len(rest) > 0 {
		cs.waitShared()
		return
	}
	keep := sb.keep
	cs.endShared()
	cs.afterResponse(keep, reasonNone)
}

// waitShared has the write poller wake the connection when its socket
// takes more of the body.
func (cs *connState) waitShared() {
	cs.s.stats.bodyWaits.Add(1)
	if q := cs.gc.OutboundBuffered(); q > 0 {
		cs.s.stats.noteBodyQueued(q)
	}
	if cs.s.wpoll == nil {
		cs.requestClose(reasonInternal) // a server that never started
		return
	}
	if err := cs.s.wpoll.arm(cs); err != nil {
		cs.s.log.Error("shared body cannot wait for its socket", "err", err)
		cs.requestClose(reasonInternal)
	}
}

// endShared drops the connection's references to the shared body and calls
// its release, once: when the body is sent or the connection closes.
func (cs *connState) endShared() {
	sb := &cs.shared
	if !sb.active {
		return
	}
	release := sb.release
	cs.hdr = sb.hdr[:0]
	cs.shared = sharedBody{}
	cs.releaseBatch() // clears cs.iov, which held the body's buffers
	cs.s.stats.sharedBodies.Add(-1)
	if release != nil {
		release()
	}
}
