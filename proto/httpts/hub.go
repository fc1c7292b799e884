// Package httpts is continuous HTTP MPEG-TS for viewers, as cursors into the
// shared chunk ring: a viewer owns a cursor and nothing else, and every byte
// it sends is a chunk the stream's mpegts.Chunker produced once for all.
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
	// Resyncs: times a viewer jumped to the newest keyframe, lapped by the
	// ring or skipping ahead because its connection could not keep up.
	Resyncs uint64
	// Dropped: viewers given up on because they kept lagging.
	Dropped uint64
}

// Hub is the HTTP-TS side of one stream: it follows the stream's chunker and
// wakes every viewer after each published chunk.
//
// The viewer registry is a slice with swap-removal, so adding and removing a
// viewer is O(1) and a publish costs one Wake per viewer; it is guarded by a
// mutex that the publisher holds only for the wake loop.
type Hub struct {
	chunker     *mpegts.Chunker
	unsubscribe func()
	now         func() time.Time

	mu      sync.Mutex
	viewers []*Viewer
	closed  bool

	resyncs atomic.Uint64
	dropped atomic.Uint64
}

// NewHub makes the hub of a stream and subscribes it to the chunker.
func NewHub(chunker *mpegts.Chunker) *Hub {
	h := &Hub{chunker: chunker, now: time.Now}
	h.unsubscribe = chunker.Subscribe(h.onChunk)
	return h
}

// onChunk runs on the stream's writer after each publish.
func (h *Hub) onChunk(*mpegts.Chunk) {
	h.mu.Lock()
	for _, v := range h.viewers {
		if v.waker != nil {
			v.waker.Wake()
		}
	}
	h.mu.Unlock()
}

// NewViewer registers a viewer that starts at the newest keyframe chunk.
func (h *Hub) NewViewer() *Viewer {
	v := &Viewer{hub: h, cursor: h.chunker.Ring().NewCursor(), index: -1}
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
	return HubStats{Viewers: h.Viewers(), Resyncs: h.resyncs.Load(), Dropped: h.dropped.Load()}
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
