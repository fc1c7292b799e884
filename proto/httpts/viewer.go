package httpts

import (
	"sync/atomic"
	"time"

	"github.com/livedge/livedge/engine"
	"github.com/livedge/livedge/proto/mpegts"
)

// Slow-viewer policy and per-call bounds.
const (
	// maxNextBytes bounds what one Next hands out, so one viewer catching up
	// does not hog its event loop; the viewer wakes itself for the rest.
	maxNextBytes = 1 << 20
	// A viewer that lags lagLimit times within lagWindow is dropped: it
	// cannot sustain the stream's bitrate.
	lagLimit  = 3
	lagWindow = 10 * time.Second
)

// Viewer is one HTTP-TS connection's position in the stream: a cursor into the
// shared chunk ring. Its methods match netio.Feed (this package does not
// import netio); all but the hub's wake run on the connection's event loop.
type Viewer struct {
	hub    *Hub
	cursor *engine.Cursor[mpegts.Chunk]

	// Guarded by hub.mu.
	index int // in hub.viewers; -1 when unregistered
	waker Waker

	ended atomic.Bool // the stream stopped: nothing more will come

	self Waker                   // the waker, for the event loop's own use
	lags [lagLimit - 1]time.Time // the previous Lagging calls, a ring
	lagN int
}

// Ended implements netio.FeedEnd: true once the stream has stopped, so the
// connection ends after the bytes already handed out.
func (v *Viewer) Ended() bool { return v.ended.Load() }

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
// bytes are PAT/PMT and a keyframe; a viewer lapped by the ring jumps to the
// newest keyframe (counted as a resync). At most about maxNextBytes are
// returned per call; the viewer then wakes itself for the rest. With enough
// capacity in dst it does not allocate.
func (v *Viewer) Next(dst [][]byte) [][]byte {
	n, retries := 0, 0
	for n < maxNextBytes {
		ch, resynced := v.cursor.Next()
		if resynced {
			v.hub.resyncs.Add(1)
		}
		if ch == nil {
			if resynced && retries < 2 {
				retries++ // the keyframe it jumped to was overwritten too: look again
				continue
			}
			return dst
		}
		dst = append(dst, ch.Data)
		n += len(ch.Data)
	}
	if v.cursor.Behind() > 0 && v.self != nil {
		v.self.Wake()
	}
	return dst
}

// Lagging implements netio.Feed, called when the connection's queue is over
// its limit: the viewer skips to the newest keyframe (a resync) and keeps
// going, unless it lagged lagLimit times within lagWindow, in which case it
// is dropped (false).
func (v *Viewer) Lagging(queued int) bool {
	now := v.hub.now()
	slot := &v.lags[v.lagN%len(v.lags)]
	oldest := *slot // lagLimit-1 calls ago
	*slot = now
	v.lagN++
	if v.lagN >= lagLimit && now.Sub(oldest) < lagWindow {
		v.hub.dropped.Add(1)
		return false
	}
	if v.cursor.SkipToLastKey() {
		v.hub.resyncs.Add(1)
	}
	return true
}

// Close implements netio.Feed: the viewer leaves the hub.
func (v *Viewer) Close() {
	v.hub.remove(v)
}
