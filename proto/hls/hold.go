package hls

import (
	"sync/atomic"
	"time"

	"github.com/livedge/livedge/proto/internal/recycle"
	"github.com/livedge/livedge/proto/mpegts"
)

// Lifetimes. A snapshot is referenced by the packager while it is the
// current one and by each Hold on it; it references every segment it lists.
// A segment is referenced by the packager while it is being filled or in
// the window (plus the retained ones) and by each snapshot listing it; it
// references each of its chunks. The last release of either recycles it
// (and releases what it references), on whatever goroutine that happens.

// segment is one media segment; immutable once finished.
type segment struct {
	p        *Packager
	refs     atomic.Int32
	name     [segmentNameLen]byte
	seq      uint64
	wall     time.Time
	duration int64 // 90 kHz
	disc     bool
	chunks   []*mpegts.Chunk
}

// snapshot is what readers see: the playlist bytes and the fetchable
// segments.
type snapshot struct {
	p        *Packager
	refs     atomic.Int32
	playlist []byte
	segments []*segment
}

// Hold keeps the bytes handed out by AcquirePlaylist or AcquireSegment
// unchanged until Release. The zero Hold holds nothing.
type Hold struct{ s *snapshot }

// Release lets go of the bytes; it must be called exactly once per hold
// acquired, once nothing writes or reads them any more.
func (h Hold) Release() {
	if h.s != nil {
		h.s.release()
	}
}

// acquireSnapshot takes a reference on the current snapshot; nil before the
// first segment and after Close. A snapshot found with no references was
// just replaced (the writer publishes the new one before releasing the
// old), so loading again finds a live one.
func (p *Packager) acquireSnapshot() *snapshot {
	for {
		s := p.state.Load()
		if s == nil {
			return nil
		}
		if s.tryAcquire() {
			return s
		}
	}
}

// tryAcquire takes a reference unless the snapshot is dead (recycled or
// being refilled). A snapshot recycled and published again in between is
// simply a newer live one.
func (s *snapshot) tryAcquire() bool {
	for {
		n := s.refs.Load()
		if n <= 0 {
			return false
		}
		if s.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (s *snapshot) release() {
	if !recycle.LastRef(&s.refs, "hls: playlist snapshot") {
		return
	}
	for i, seg := range s.segments {
		seg.release()
		s.segments[i] = nil
	}
	s.segments = s.segments[:0]
	s.p.freeSnaps.Put(s)
}

func (s *segment) release() {
	if !recycle.LastRef(&s.refs, "hls: segment") {
		return
	}
	for i, ch := range s.chunks {
		ch.Release()
		s.chunks[i] = nil
	}
	s.chunks = s.chunks[:0]
	s.p.freeSegs.Put(s)
}

// newSegment returns an empty segment with the writer's reference.
func (p *Packager) newSegment() *segment {
	s := p.freeSegs.Get()
	if s == nil {
		s = &segment{p: p}
	}
	s.seq, s.duration, s.disc = 0, 0, false
	s.refs.Store(1)
	return s
}

// newSnapshot returns an empty snapshot with no references: invisible to
// readers until filled, counted and published.
func (p *Packager) newSnapshot() *snapshot {
	if s := p.freeSnaps.Get(); s != nil {
		return s
	}
	return &snapshot{p: p}
}
