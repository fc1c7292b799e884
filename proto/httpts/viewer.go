package httpts

import (
	"sync/atomic"
	"time"

	"github.com/livedge/livedge/proto/mpegts"
)

// Per-call bounds and the repeated-lag rule.
const (
	// maxNextBytes bounds what one Next hands out, so one viewer catching up
	// does not hog its event loop, and what a connection holds (by
	// reference) for a viewer whose socket is full; the viewer wakes itself
	// for the rest.
	maxNextBytes = 256 << 10
	// A viewer resynced lagLimit times within lagWindow is dropped even
	// under PolicyResync: it gets well under the stream's bitrate, and
	// skipping a GOP every few seconds is not watching.
	lagLimit  = 3
	lagWindow = 10 * time.Second
	// maxNextChunks bounds the chunks one Next hands out, and with it the
	// list of those the viewer holds (2 KiB at most) and the connection's
	// iovec list.
	maxNextChunks = 256
)

// Viewer is one HTTP-TS connection's position in the stream: a cursor into
// the shared chunk ring, plus references to the chunks it handed out last.
// Its methods match netio.Feed (this package does not import netio); all
// but the hub's wake and lag check run on the connection's event loop.
type Viewer struct {
	hub *Hub

	// Guarded by hub.mu.
	index int // in hub.viewers; -1 when unregistered
	waker Waker

	// Shared with the publisher.
	ended   atomic.Bool // the stream stopped or the viewer was dropped
	dropped atomic.Bool // by the slow-viewer policy
	// posSeen is pos for the publisher's lag check; 0 while unknown.
	posSeen atomic.Uint64
	// lagged: the viewer went over its queue limit and the policy was
	// decided and counted; under PolicyResync the jump happens at the next
	// Next. Whoever sets it (publisher or event loop) records the lag in
	// lags, so those are atomics only for the race detector's sake: the
	// flag already makes the writers take turns.
	lagged atomic.Bool
	lags   [lagLimit - 1]atomic.Int64 // unix ns of the previous lags, a ring
	lagN   atomic.Int64

	// Event loop only.
	self    Waker  // the waker, for the event loop's own use
	next    uint64 // ring sequence of the next chunk to hand out
	started bool
	// pos is the stream byte position after the last chunk handed out, valid
	// when hasPos (not before the first chunk or right after a jump).
	pos    uint64
	hasPos bool
	// held are the chunks handed out by the last Next, referenced until the
	// connection is done with their bytes: the next Next or Close.
	held []*mpegts.Chunk
}

// Ended implements netio.FeedEnd: true once the stream has stopped or the
// viewer was dropped, so the connection ends after the bytes already handed
// out.
func (v *Viewer) Ended() bool { return v.ended.Load() }

// Dropped implements netio.FeedDrop: true once the slow-viewer policy gave
// the viewer up, so the connection closes at once.
func (v *Viewer) Dropped() bool { return v.dropped.Load() }

// Start implements netio.Feed: w is woken after every published chunk.
func (v *Viewer) Start(w Waker) {
	v.self = w
	v.hub.mu.Lock()
	v.waker = w
	v.hub.mu.Unlock()
	// A chunk may already be waiting (the stream ran before this viewer).
	w.Wake()
}

// Next implements netio.Feed: it appends the chunks published since the last
// call. The first chunk is the newest keyframe chunk, so a viewer's first
// bytes are PAT/PMT and a keyframe.
//
// The buffers handed out by the previous call are released here: the
// connection must be done with them (written or copied) when it asks for
// more. They stay valid until then however far the stream moves on.
//
// A viewer more than its queue limit behind the newest byte gets the hub's
// policy: it jumps to the newest keyframe (a resync) or is dropped (Dropped
// and Ended turn true and nothing more is handed out). A viewer lapped by
// the ring jumps to the newest keyframe too. At most about maxNextBytes
// (and maxNextChunks) are returned per call; the viewer then wakes itself
// for the rest. With enough capacity in dst it does not allocate.
func (v *Viewer) Next(dst [][]byte) [][]byte {
	v.releaseHeld()
	if v.ended.Load() {
		return dst
	}
	c := v.hub.chunker
	if !v.started {
		k, ok := c.LastKey()
		if !ok {
			return dst
		}
		v.next, v.started = k, true
	}
	if v.hasPos && v.hub.lagCheck().over(v.pos) {
		v.overLimit()
	}
	if v.dropped.Load() {
		return dst
	}
	if v.lagged.Load() {
		v.resync()
	}
	n, jumps := 0, 0
	for n < maxNextBytes && len(v.held) < maxNextChunks && v.next < c.Head() {
		ch, ok := c.Acquire(v.next)
		if !ok {
			// Evicted: the ring lapped this viewer. Jump to the newest
			// keyframe; look again if that went too (a tiny ring).
			k, ok := c.LastKey()
			if !ok || k <= v.next || jumps == 2 {
				break // nothing newer to go to (the stream is closing)
			}
			if jumps == 0 {
				v.hub.resyncs.Add(1)
			}
			jumps++
			v.next = k
			v.forgetPos()
			continue
		}
		v.held = append(v.held, ch)
		dst = append(dst, ch.Data)
		n += len(ch.Data)
		v.pos, v.hasPos = ch.Pos+uint64(len(ch.Data)), true
		v.next++
	}
	if v.hasPos {
		v.posSeen.Store(v.pos)
	}
	if (n >= maxNextBytes || len(v.held) >= maxNextChunks) && v.next < c.Head() && v.self != nil {
		v.self.Wake()
	}
	return dst
}

// overLimit applies the policy to a viewer found over its queue limit, by
// the publisher or by the viewer's own Next, once per episode: a drop at
// once (PolicyDrop, or the lagLimit-th lag within lagWindow), else a resync,
// counted now and done by the next Next (a viewer whose socket is full is
// not asked for more until it drained).
func (v *Viewer) overLimit() {
	if !v.lagged.CompareAndSwap(false, true) {
		return
	}
	if v.hub.opts.Policy == PolicyDrop || v.lagsTooOften() {
		v.drop()
		return
	}
	v.hub.resyncs.Add(1)
}

// resync performs a resync decided by overLimit: the viewer moves to the
// newest keyframe. Event loop only.
func (v *Viewer) resync() {
	if k, ok := v.hub.chunker.LastKey(); ok && (!v.started || k > v.next) {
		v.next, v.started = k, true
		v.forgetPos()
	}
	v.lagged.Store(false)
}

// Lagging implements netio.Feed, called when the connection's own queue is
// over its limit: the hub's policy applies at once.
func (v *Viewer) Lagging(int) bool {
	v.overLimit()
	if v.dropped.Load() {
		return false
	}
	v.resync()
	return true
}

// drop gives the viewer up; safe from the publisher (which wakes the
// viewer right after, so its connection sees the end) and the event loop.
func (v *Viewer) drop() {
	if v.dropped.Swap(true) {
		return
	}
	v.hub.dropped.Add(1)
	v.ended.Store(true)
}

// forgetPos: after a jump the viewer's position is unknown until it is
// handed its next chunk.
func (v *Viewer) forgetPos() {
	v.hasPos = false
	v.posSeen.Store(0)
}

// lagsTooOften records a lag and tells whether it is the lagLimit-th within
// lagWindow.
func (v *Viewer) lagsTooOften() bool {
	now := v.hub.now().UnixNano()
	n := v.lagN.Add(1)
	slot := &v.lags[(n-1)%int64(len(v.lags))]
	oldest := slot.Swap(now) // lagLimit-1 lags ago
	return n >= lagLimit && time.Duration(now-oldest) < lagWindow
}

// releaseHeld drops the references on the chunks handed out last.
func (v *Viewer) releaseHeld() {
	for i, ch := range v.held {
		ch.Release()
		v.held[i] = nil
	}
	v.held = v.held[:0]
}

// Close implements netio.Feed: the viewer leaves the hub and lets go of the
// chunks it handed out last (the connection is done with them).
func (v *Viewer) Close() {
	v.hub.remove(v)
	v.releaseHeld()
}
