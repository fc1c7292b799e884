package netio

// FeedEnd is implemented by a Feed that can run out (its stream stopped, an
// archive range was played out). Ended is asked after every Next, and on
// every wake while the socket is full; once it reports true the feed is
// closed and the connection closes after the bytes already handed out are
// sent. The publisher calls Wake after the feed ended so that the
// connection notices.
type FeedEnd interface {
	Ended() bool
}

// FeedDrop is implemented by a Feed that gives its viewer up by itself: it
// decides (in Next, or in its publisher, which then wakes the connection)
// that the viewer fell too far behind the live edge to be worth keeping.
// Dropped is asked after every Next, before the batch is written, and on
// every wake while the socket is full; once it reports true nothing more
// is written, the feed is closed and the connection closed at once,
// counted as slow_viewer. It is asked before Ended.
type FeedDrop interface {
	Dropped() bool
}

// startStream runs on the loop: it sends the streaming response's head and
// starts the feed.
func (cs *connState) startStream(rw *ResponseWriter, status int, ctype string, feed Feed) {
	cs.current = nil
	cs.state = stStreaming
	cs.feed = feed // from here OnClose closes it
	cs.feedEnd, _ = feed.(FeedEnd)
	cs.feedDrop, _ = feed.(FeedDrop)
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
// calls it when the socket takes more: any goroutine, cheap, and calls
// before the loop gets to the connection coalesce into one.
func (cs *connState) Wake() {
	if cs.wakePending.Load() || !cs.wakePending.CompareAndSwap(false, true) {
		return
	}
	cs.loop.enqueue(cs)
}

// onWake runs on the loop for a woken connection: its feed has more, or
// its socket takes more of a file or shared body or of the feed's last
// batch.
func (cs *connState) onWake() {
	switch {
	case cs.closed:
	case cs.state == stSending:
		if cs.shared.active {
			cs.sendShared()
		} else {
			cs.sendFile()
		}
		cs.process() // requests that waited for the body, if it is done
		cs.settle()
	case cs.feed != nil:
		cs.pump()
		cs.settle()
	}
}

// pump moves the feed's bytes to the socket, with back-pressure: the feed
// is asked for more (Next) only once everything it handed out before is in
// the kernel. While the socket is full the connection waits for the write
// poller and holds nothing but the unsent part of the last batch, by
// reference; the feed meanwhile falls behind its live edge, which is its
// own business when it is next asked (skip ahead, or FeedDrop).
func (cs *connState) pump() {
	f := cs.feed
	if cs.wpArmed.Load() || !cs.flushPending(waitStream) {
		// Still waiting for the socket, or just started to. A wake from the
		// feed only checks the limits and the feed's end here.
		if cs.closed || cs.wantClose || cs.feed == nil {
			return
		}
		if queued := cs.queued(); queued > cs.s.cfg.MaxQueuedBytes {
			if !f.Lagging(queued) {
				cs.requestClose(reasonSlowViewer)
				return
			}
			cs.s.stats.laggingSkips.Add(1)
		}
		if !cs.givenUp() {
			cs.checkEnded()
		}
		return
	}
	iov := f.Next(cs.iov[:0])
	cs.iov, cs.pend, cs.pendBytes = iov, iov, 0
	for _, b := range iov {
		cs.pendBytes += len(b)
	}
	if cs.givenUp() {
		return
	}
	cs.flushPending(waitStream)
	if cs.closed {
		return
	}
	cs.checkEnded()
}

// givenUp closes the connection at once, counted as a slow viewer, if the
// feed gave its viewer up (FeedDrop): what it holds is not sent.
func (cs *connState) givenUp() bool {
	if cs.feedDrop == nil || !cs.feedDrop.Dropped() {
		return false
	}
	cs.releaseBatch()
	cs.requestClose(reasonSlowViewer)
	return true
}

// checkEnded ends the response once the feed ran out (FeedEnd).
func (cs *connState) checkEnded() {
	if cs.feedEnd != nil && cs.feed != nil && cs.feedEnd.Ended() {
		cs.endStream(reasonStreamEnd)
	}
}

// queued is what the connection holds for its viewer and the socket did
// not take yet: gnet's copies and the feed's buffers by reference.
func (cs *connState) queued() int {
	return cs.gc.OutboundBuffered() + cs.pendBytes
}

// waitKind says what waits for the socket, for the statistics.
type waitKind uint8

const (
	waitStream waitKind = iota // a streaming response's batch
	waitBody                   // a shared body (WriteShared)
)

// flushPending writes what the connection holds: first gnet's queue (e.g.
// the response head, if the socket was full at once), then pend, the
// unsent buffers of a feed's batch or of a shared body, by reference. It
// reports whether all of it is out; if not, the write poller is armed (or
// the connection closed).
func (cs *connState) flushPending(k waitKind) bool {
	if !cs.gnetDrained() {
		if !cs.closed {
			cs.awaitWritable(k)
		}
		return false
	}
	if len(cs.pend) == 0 {
		return true
	}
	rest, n, err := cs.writeDirect(cs.pend)
	if err != nil {
		cs.writeFailed(err)
		return false
	}
	cs.pend = rest
	cs.pendBytes -= n
	if len(rest) > 0 {
		cs.awaitWritable(k)
		return false
	}
	cs.releaseBatch()
	return true
}

// gnetDrained flushes what gnet holds of the connection and reports whether
// nothing is left: only then may bytes be written behind gnet's back
// (writev, sendfile) and stay in order. False also when the flush failed
// and closed the connection.
func (cs *connState) gnetDrained() bool {
	c := cs.gc
	if c.OutboundBuffered() == 0 {
		return true
	}
	_ = c.Flush() // on a write error gnet closes the connection: OnClose ran
	return !cs.closed && c.OutboundBuffered() == 0
}

// maxKeptIovec bounds the buffer list a streaming connection keeps between
// batches: a live viewer gets a chunk or two per wake, and one that caught
// up on hundreds must not keep their list for its lifetime.
const maxKeptIovec = 64

// releaseBatch drops the connection's references to the feed's last batch.
func (cs *connState) releaseBatch() {
	clear(cs.iov)
	cs.iov = cs.iov[:0]
	if cap(cs.iov) > maxKeptIovec {
		cs.iov = make([][]byte, 0, maxIovecBatch)
	}
	cs.pend, cs.pendBytes = nil, 0
}

// awaitWritable has the write poller wake the connection when the socket
// takes more.
func (cs *connState) awaitWritable(k waitKind) {
	q := cs.gc.OutboundBuffered()
	switch k {
	case waitStream:
		cs.s.stats.streamWaits.Add(1)
		if q > 0 {
			cs.s.stats.notePeakStreamQueued(q)
		}
	case waitBody:
		cs.s.stats.bodyWaits.Add(1)
		if q > 0 {
			cs.s.stats.noteBodyQueued(q)
		}
	}
	if !cs.armWritable() {
		cs.requestClose(reasonInternal)
	}
}

// armWritable arms the write poller for the connection; false when it
// cannot (a server that never started, or epoll refused), which is logged.
func (cs *connState) armWritable() bool {
	if cs.s.wpoll == nil {
		return false
	}
	if err := cs.s.wpoll.arm(cs); err != nil {
		cs.s.log.Error("a response cannot wait for its socket", "err", err)
		return false
	}
	return true
}

// endStream ends a streaming response: the feed is closed, and so is the
// connection once the bytes already handed out are sent. gnet sends them:
// it copies the unsent part of the last batch, as the feed may recycle its
// buffers once closed.
func (cs *connState) endStream(r closeReason) {
	if len(cs.pend) > 0 {
		cs.queueRest(cs.pend)
		if q := cs.gc.OutboundBuffered(); q > 0 {
			cs.s.stats.notePeakStreamQueued(q)
		}
	}
	cs.releaseBatch()
	if f := cs.feed; f != nil {
		cs.feed, cs.feedEnd, cs.feedDrop = nil, nil, nil
		cs.s.stats.streaming.Add(-1)
		f.Close()
	}
	if !cs.closed {
		cs.closeAfterFlush(r)
	}
}
