package netio

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// loopState is what the server keeps per gnet event loop: the table of its
// connections (for the timeout sweep) and the queue of woken streaming
// connections.
type loopState struct {
	s  *Server
	el gnet.EventLoop

	// Touched only on the loop.
	conns   []*connState
	victims []*connState
	spare   []*connState
	// paused holds connections that stopped reading requests because their
	// output is over MaxQueuedBytes (entries go stale when they resume).
	paused      []*connState
	pausedSpare []*connState

	// ready holds connections whose feed was woken; one loop task drains it,
	// so a publisher waking many viewers of one loop costs one task.
	mu        sync.Mutex
	ready     []*connState
	scheduled bool

	runReady     gnet.Runnable
	sweepTask    gnet.Runnable
	sweepQueued  atomic.Bool
	resumeTask   gnet.Runnable
	resumeQueued atomic.Bool
	// iovecs is the scratch iovec array of writeDirect; loop only.
	iovecs [iovMax]unix.Iovec
	// fields is the scratch the connections' parsers put header fields in.
	fields Header
	// spareEx is an exchange free for the next request served on the loop.
	spareEx *exchange

	// pausedN is len(paused) for the ticker, which polls faster while
	// connections wait for their output to drain (gnet has no writable
	// callback).
	pausedN atomic.Int32
}

func newLoopState(s *Server, el gnet.EventLoop) *loopState {
	l := &loopState{s: s, el: el}
	l.runReady = gnet.RunnableFunc(func(context.Context) error { l.drainReady(); return nil })
	l.sweepTask = gnet.RunnableFunc(func(context.Context) error { l.sweep(); return nil })
	l.resumeTask = gnet.RunnableFunc(func(context.Context) error { l.resumePaused(); return nil })
	return l
}

func (l *loopState) add(cs *connState) {
	cs.slot = len(l.conns)
	l.conns = append(l.conns, cs)
}

func (l *loopState) remove(cs *connState) {
	i := cs.slot
	if i < 0 || i >= len(l.conns) || l.conns[i] != cs {
		return
	}
	last := len(l.conns) - 1
	l.conns[i] = l.conns[last]
	l.conns[i].slot = i
	l.conns[last] = nil
	l.conns = l.conns[:last]
	cs.slot = -1
}

// enqueue queues a woken connection; any goroutine.
func (l *loopState) enqueue(cs *connState) {
	l.mu.Lock()
	l.ready = append(l.ready, cs)
	first := !l.scheduled
	l.scheduled = true
	l.mu.Unlock()
	if first {
		// An error means the engine is shutting down: every connection is
		// being closed anyway.
		_ = l.el.Execute(context.Background(), l.runReady)
	}
}

// drainReady runs on the loop: it pumps every woken connection once.
func (l *loopState) drainReady() {
	l.mu.Lock()
	batch := l.ready
	l.ready = l.spare
	l.scheduled = false
	l.mu.Unlock()
	for i, cs := range batch {
		batch[i] = nil
		if cs.closed {
			continue // its flag stays set: no more wakes
		}
		// Cleared before pumping, so a wake during or after Next queues again.
		cs.wakePending.Store(false)
		cs.onWake()
	}
	l.spare = batch[:0]
}

// scheduleSweep queues a timeout sweep onto the loop unless one is pending;
// called from the ticker goroutine.
func (l *loopState) scheduleSweep() {
	schedule(l.el, &l.sweepQueued, l.sweepTask)
}

// scheduleResume queues a check of the paused connections.
func (l *loopState) scheduleResume() {
	schedule(l.el, &l.resumeQueued, l.resumeTask)
}

func schedule(el gnet.EventLoop, queued *atomic.Bool, task gnet.Runnable) {
	if queued.Swap(true) {
		return
	}
	if err := el.Execute(context.Background(), task); err != nil {
		queued.Store(false)
	}
}

// sweep runs on the loop: it closes connections past their timeouts.
func (l *loopState) sweep() {
	l.sweepQueued.Store(false)
	now := l.s.preciseNow()
	for _, cs := range l.conns {
		if cs.expired(now) {
			l.victims = append(l.victims, cs)
		}
	}
	// Closing changes l.conns, so it runs after the scan.
	for i, cs := range l.victims {
		l.victims[i] = nil
		if !cs.closed {
			cs.closeNow()
		}
	}
	l.victims = l.victims[:0]
}

func (l *loopState) markPaused(cs *connState) {
	l.paused = append(l.paused, cs)
	l.pausedN.Store(int32(len(l.paused)))
}

// resumePaused runs on the loop: connections whose output drained to the
// limit go on with their buffered requests.
func (l *loopState) resumePaused() {
	l.resumeQueued.Store(false)
	batch := l.paused
	l.paused = l.pausedSpare[:0]
	now := l.s.preciseNow()
	for i, cs := range batch {
		batch[i] = nil
		switch {
		case cs.closed || !cs.paused:
		case cs.gc.OutboundBuffered() > l.s.cfg.MaxQueuedBytes:
			l.paused = append(l.paused, cs)
		default:
			cs.resumeReading(now) // may pause it again
		}
	}
	l.pausedSpare = batch[:0]
	l.pausedN.Store(int32(len(l.paused)))
}
