// Package httpts is continuous HTTP MPEG-TS for viewers, as cursors into the
// shared chunk ring: a viewer owns a cursor and references to the chunks it
// handed out last, and every byte it sends is a chunk the stream's
// mpegts.Chunker produced once for all. A viewer that falls more than its
// queue limit (about one GOP) behind the stream is resynced to the newest
// keyframe or dropped, as the hub's Options say, and counted.
package httpts

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/livedge/livedge/proto/mpegts"
)

// Waker asks the viewer's event loop to call Next soon; it is safe from any
// goroutine and calls coalesce (netio.Waker satisfies it). The hub calls it
// on the stream's writer holding its registry lock, so Wake must only
// schedule work, never call back into the Viewer or Hub.
type Waker interface{ Wake() }

// HubStats are a hub's counters.
type HubStats struct {
	Viewers int
	// Resyncs: times a viewer jumped to the newest keyframe, because it
	// was over its queue limit (PolicyResync) or lapped by the ring.
	Resyncs uint64
	// Dropped: viewers closed for being slow: over the queue limit under
	// PolicyDrop, or resynced too often under PolicyResync.
	Dropped uint64
	// QueueLimit is the per-viewer limit in force now, in bytes.
	QueueLimit int
}

// Hub is the HTTP-TS side of one stream: it follows the stream's chunker,
// wakes every viewer after each published chunk, and applies the
// slow-viewer policy to those it finds too far behind.
//
// The viewer registry is a slice with swap-removal, so adding and removing a
// viewer is O(1) and a publish costs one Wake per viewer; it is guarded by a
// mutex that the publisher holds only for the wake loop.
type Hub struct {
	chunker     *mpegts.Chunker
	opts        Options
	unsubscribe func()
	now         func() time.Time

	mu      sync.Mutex
	viewers []*Viewer
	closed  bool

	resyncs atomic.Uint64
	dropped atomic.Uint64
}

// NewHub makes the hub of a stream and subscribes it to the chunker.
func NewHub(chunker *mpegts.Chunker, opts Options) *Hub {
	h := &Hub{chunker: chunker, opts: opts, now: time.Now}
	h.unsubscribe = chunker.Subscribe(h.onChunk)
	return h
}

// onChunk runs on the stream's writer after each publish: it wakes every
// viewer, and applies the slow-viewer policy to those now more than the
// queue limit behind. That cannot wait for their next Next: a viewer whose
// socket stays full is not asked for more, so only the publisher sees it
// fall behind.
func (h *Hub) onChunk(*mpegts.Chunk) {
	lag := h.lagCheck()
	h.mu.Lock()
	for _, v := range h.viewers {
		if pos := v.posSeen.Load(); pos != 0 && lag.over(pos) {
			v.overLimit()
		}
		if v.waker != nil {
			v.waker.Wake()
		}
	}
	h.mu.Unlock()
}

// NewViewer registers a viewer that starts at the newest keyframe chunk.
func (h *Hub) NewViewer() *Viewer {
	v := &Viewer{hub: h, index: -1}
	h.mu.Lock()
	if h.closed {
		v.ended.Store(true)
	} else {
		v.index = len(h.viewers)
		h.viewers = append(h.viewers, v)
	}
	h.mu.Unlock()
	return v
}

// Viewers is the number of registered viewers.
func (h *Hub) Viewers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.viewers)
}

// Stats returns the hub's counters.
func (h *Hub) Stats() HubStats {
	return HubStats{Viewers: h.Viewers(), Resyncs: h.resyncs.Load(), Dropped: h.dropped.Load(), QueueLimit: h.QueueLimit()}
}

// lagCheck is the state of the stream a viewer's lag is judged against.
type lagCheck struct {
	published, limit, newestKey uint64
	keyed                       bool
}

func (h *Hub) lagCheck() lagCheck {
	k, ok := h.chunker.LastKeyPos()
	return lagCheck{published: h.chunker.Published(), limit: uint64(h.QueueLimit()), newestKey: k, keyed: ok}
}

// over tells whether a viewer whose next byte is at pos is over the queue
// limit with a keyframe ahead to skip to. A viewer already inside the
// newest GOP is only catching up (a viewer starts a GOP behind), and
// skipping would not help it.
func (l lagCheck) over(pos uint64) bool {
	return pos < l.published && l.published-pos > l.limit && l.keyed && l.newestKey > pos
}

// QueueLimit is how many bytes a viewer may be behind the stream before
// the policy applies: Options.QueueLimit, or one GOP as last measured; at
// least MinQueueLimit.
func (h *Hub) QueueLimit() int {
	if h.opts.QueueLimit > 0 {
		return max(h.opts.QueueLimit, MinQueueLimit)
	}
	return max(h.chunker.GOPBytes(), MinQueueLimit)
}

// Close stops following the chunker and unregisters every viewer; their
// connections are ended by their owners.
func (h *Hub) Close() {
	h.unsubscribe()
	h.mu.Lock()
	for _, v := range h.viewers {
		v.index = -1
		v.ended.Store(true)
		if v.waker != nil {
			v.waker.Wake() // so its connection sees the end
		}
	}
	clear(h.viewers)
	h.viewers = nil
	h.closed = true
	h.mu.Unlock()
}

func (h *Hub) remove(v *Viewer) {
	h.mu.Lock()
	defer h.mu.Unlock()
	i := v.index
	if i < 0 {
		return
	}
	last := len(h.viewers) - 1
	h.viewers[i] = h.viewers[last]
	h.viewers[i].index = i
	h.viewers[last] = nil
	h.viewers = h.viewers[:last]
	v.index = -1
}
