package netio

// sharedBody is a response body of shared, immutable buffers being sent
// by reference (WriteShared): the connection keeps the unsent tail of the
// writev list, never a copy, until the socket took it all.
// The unsent part (the head, then the body's buffers) is the connection's
// pend, as for a streaming response, so the same writer and the same write
// timeout serve both.
type sharedBody struct {
	active  bool
	hdr     []byte // the head's buffer, the connection's again once sent
	release func()
	keep    bool // the connection stays open after the body
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
	cs.iov, cs.pend, cs.pendBytes = iov, iov, len(hdr)+int(length)
	cs.shared = sharedBody{active: true, hdr: hdr, release: release, keep: keep}
	cs.state = stSending
	cs.s.stats.sharedBodies.Add(1)
	cs.sendShared()
}

// sendShared writes what the socket takes of the shared body and ends the
// response once all of it is out.
func (cs *connState) sendShared() {
	if !cs.flushPending(waitBody) {
		return
	}
	keep := cs.shared.keep
	cs.endShared()
	cs.afterResponse(keep, reasonNone)
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
