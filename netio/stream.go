package netio

// FeedEnd is implemented by a Feed that can run out (its stream stopped, an
// archive range was played out). Ended is asked after every Next; once it
// reports true the feed is closed and the connection closes after the
// bytes already queued are sent. It is also asked after Lagging. The publisher calls Wake after the feed
// ended so that the connection notices.
type FeedEnd interface {
	Ended() bool
}

// startStream runs on the loop: it sends the streaming response's head and
// starts the feed.
func (cs *connState) startStream(rw *ResponseWriter, status int, ctype string, feed Feed) {
	cs.current = nil
	cs.state = stStreaming
	cs.feed = feed // from here OnClose closes it
	cs.feedEnd, _ = feed.(FeedEnd)
	cs.s.stats.streaming.Add(1)
	// Bytes after the request are not requests any more.
	n := cs.gc.InboundBuffered()
	_, _ = cs.gc.Discard(n)
	cs.discarded = n

	hdr := cs.appendHead(cs.hdr[:0], status, ctype, rw.extra, -1, false)
	cs.one[0] = hdr
	cs.writev(cs.one[:])
	cs.one[0] = nil
	cs.hdr = hdr[:0]
	if cs.closed {
		return
	}
	if rw.req.Method == "HEAD" || !bodyAllowed(status) {
		cs.endStream(reasonDone)
		return
	}
	feed.Start(cs)
	if cs.closed || cs.feed == nil {
		return
	}
	cs.pump()
}

// Wake implements Waker for the connection's feed, and the write poller
// calls it when a file body's socket takes more: any goroutine, cheap, and
// calls before the loop gets to the connection coalesce into one.
func (cs *connState) Wake() {
	if cs.wakePending.Load() || !cs.wakePending.CompareAndSwap(false, true) {
		return
	}
	cs.loop.enqueue(cs)
}

// onWake runs on the loop for a woken connection: its feed has more, or
// its socket takes more of a file body.
func (cs *connState) onWake() {
	switch {
	case cs.closed:
	case cs.state == stSending:
		cs.sendFile()
		cs.process() // requests that waited for the body, if it is done
		cs.settle()
	case cs.feed != nil:
		cs.pump()
		cs.settle()
	}
}

// pump writes what the feed has for this viewer, unless the viewer's queue
// is over the limit: then the feed is told it lags and either skips ahead
// or gives the viewer up.
func (cs *connState) pump() {
	f := cs.feed
	if queued := cs.gc.OutboundBuffered(); queued > cs.s.cfg.MaxQueuedBytes {
		if !f.Lagging(queued) {
			cs.requestClose(reasonSlowViewer)
			return
		}
		cs.s.stats.laggingSkips.Add(1)
	} else {
		iov := f.Next(cs.iov[:0])
		if len(iov) > 0 {
			cs.writev(iov)
		}
		clear(iov) // drop references to shared buffers; keep a grown list
		if cs.closed {
			return
		}
		cs.iov = iov[:0]
	}
	if cs.feedEnd != nil && cs.feed != nil && cs.feedEnd.Ended() {
		cs.endStream(reasonStreamEnd)
	}
}

// endStream ends a streaming response: the feed is closed, and so is the
// connection once the queued bytes are sent.
func (cs *connState) endStream(r closeReason) {
	if f := cs.feed; f != nil {
		cs.feed, cs.feedEnd = nil, nil
		cs.s.stats.streaming.Add(-1)
		f.Close()
	}
	cs.closeAfterFlush(r)
}
