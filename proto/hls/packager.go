package hls

import (
	"bytes"
	"sync/atomic"
	"time"

	"github.com/livedge/livedge/engine"
	"github.com/livedge/livedge/proto/internal/recycle"
	"github.com/livedge/livedge/proto/mpegts"
)

// Bounds of the segmenter.
const (
	// retainedSegments stay fetchable after they leave the playlist, for
	// players that loaded an older playlist.
	retainedSegments = 3
	// maxSegmentDuration and maxSegmentChunks force a cut in a stream
	// without keyframes, so memory and playlists stay bounded; such a
	// segment does not start with a keyframe.
	maxSegmentDuration = 60 * engine.Timescale
	maxSegmentChunks   = 4096
)

// Packager cuts a stream's TS chunks into HLS segments and keeps the live
// media playlist. It runs on the stream's writer (as a chunk subscriber);
// the reader methods (AcquirePlaylist, AcquireSegment, Playlist, Segment,
// Ready) are safe from any goroutine and lock-free: they take a reference
// on an immutable snapshot published with an atomic pointer.
//
// Nothing is allocated per chunk or per segment once the stream runs:
// segments and snapshots (with their chunk lists and playlist bytes) are
// recycled when the last reference goes, and a segment holds references on
// its chunks, so their pool memory stays put while anyone may write it.
type Packager struct {
	target      int64 // segment target in 90 kHz
	count       int
	unsubscribe func()
	ready       chan struct{}
	readySent   bool
	state       atomic.Pointer[snapshot]

	// Writer state.
	cur            *segment   // being filled
	done           []*segment // finished: the playlist window plus the retained ones
	nextSeq        uint64
	discSeq        uint64 // discontinuities that left the window
	targetDuration int64  // seconds; never decreases
	closed         bool

	// Recycled objects, put back by whichever goroutine released them last.
	freeSegs  recycle.FreeList[segment]
	freeSnaps recycle.FreeList[snapshot]
}

// New makes the HLS packager of a stream and subscribes it to the stream's
// chunker. segmentTarget and segmentCount default to the engine's defaults
// when not positive.
func New(chunker *mpegts.Chunker, segmentTarget time.Duration, segmentCount int) *Packager {
	if segmentTarget <= 0 {
		segmentTarget = engine.DefaultSegmentDuration
	}
	if segmentCount <= 0 {
		segmentCount = engine.DefaultSegmentCount
	}
	p := &Packager{
		target:         int64(segmentTarget) * engine.Timescale / int64(time.Second),
		count:          segmentCount,
		ready:          make(chan struct{}),
		targetDuration: int64((segmentTarget + time.Second - 1) / time.Second),
	}
	p.unsubscribe = chunker.Subscribe(p.onChunk)
	return p
}

// AcquirePlaylist returns the current media playlist and a Hold that keeps
// its bytes unchanged until released; ok is false until the first segment
// is complete (and after Close). The bytes are shared and must not be
// modified. Release the hold exactly once, when the bytes were written or
// copied (after netio's ResponseWriter.Write returns on the event loop).
func (p *Packager) AcquirePlaylist() (playlist []byte, h Hold, ok bool) {
	s := p.acquireSnapshot()
	if s == nil {
		return nil, Hold{}, false
	}
	return s.playlist, Hold{s}, true
}

// AcquireSegment appends the body of a segment to dst as the list of its
// chunks' bytes, in order, to be written with writev, and returns a Hold
// that keeps those bytes unchanged until released; ok is false when the
// segment is not available (dst is then returned as it was, with nothing to
// release). The bytes are shared with every viewer and must not be
// modified. With enough capacity in dst it does not allocate. Release the
// hold exactly once, when the bytes were written or copied.
func (p *Packager) AcquireSegment(dst [][]byte, name string) (body [][]byte, h Hold, ok bool) {
	s := p.acquireSnapshot()
	if s == nil {
		return dst, Hold{}, false
	}
	for _, seg := range s.segments {
		if string(seg.name[:]) == name {
			for _, ch := range seg.chunks {
				dst = append(dst, ch.Data)
			}
			return dst, Hold{s}, true
		}
	}
	s.release()
	return dst, Hold{}, false
}

// Playlist returns a copy of the current media playlist; ok is false until
// the first segment is complete. For a response completed off the event
// loop, where the moment netio is done with the bytes is not known; the
// loop's own handlers use AcquirePlaylist, which does not copy.
func (p *Packager) Playlist() (playlist []byte, ok bool) {
	b, h, ok := p.AcquirePlaylist()
	if !ok {
		return nil, false
	}
	defer h.Release()
	return bytes.Clone(b), true
}

// Segment returns a copy of a segment's body (one buffer), like Playlist
// for responses completed off the event loop; see AcquireSegment.
func (p *Packager) Segment(name string) ([][]byte, bool) {
	var one [32][]byte
	body, h, ok := p.AcquireSegment(one[:0], name)
	if !ok {
		return nil, false
	}
	defer h.Release()
	n := 0
	for _, b := range body {
		n += len(b)
	}
	buf := make([]byte, 0, n)
	for _, b := range body {
		buf = append(buf, b...)
	}
	return [][]byte{buf}, true
}

// Ready is closed when the first segment is complete.
func (p *Packager) Ready() <-chan struct{} { return p.ready }

// Close stops following the chunker and lets go of every segment: the
// playlist and segments are gone for new requests, and their chunks return
// to the pool once the responses still writing them release their holds.
// It runs on the stream's writer (engine.Packager.Close).
func (p *Packager) Close() {
	p.unsubscribe()
	if p.closed {
		return
	}
	p.closed = true
	if p.cur != nil {
		p.cur.release()
		p.cur = nil
	}
	for i, s := range p.done {
		s.release()
		p.done[i] = nil
	}
	p.done = p.done[:0]
	if old := p.state.Swap(nil); old != nil {
		old.release()
	}
}

// onChunk runs on the stream's writer after each chunk is published.
func (p *Packager) onChunk(ch *mpegts.Chunk) {
	if p.closed {
		return
	}
	if p.cur == nil {
		if !ch.Key {
			return // a segment starts with PAT/PMT and a keyframe
		}
		p.open(ch)
		return
	}
	c := p.cur
	cut := ch.Discontinuity || (ch.Key && c.duration >= p.target)
	forced := c.duration >= maxSegmentDuration || len(c.chunks) >= maxSegmentChunks
	if cut || forced {
		p.finish()
		p.open(ch)
		return
	}
	ch.Retain()
	c.chunks = append(c.chunks, ch)
	c.duration += ch.Duration
}

func (p *Packager) open(ch *mpegts.Chunk) {
	s := p.newSegment()
	s.wall, s.disc, s.duration = ch.Wall, ch.Discontinuity, ch.Duration
	ch.Retain()
	s.chunks = append(s.chunks, ch)
	p.cur = s
}

// finish closes the current segment, moves the window and publishes a new
// snapshot.
func (p *Packager) finish() {
	s := p.cur
	p.cur = nil
	s.seq = p.nextSeq
	p.nextSeq++
	p.nameSegment(s)
	p.done = append(p.done, s)
	if n := len(p.done); n > p.count && p.done[n-p.count-1].disc {
		p.discSeq++ // its EXT-X-DISCONTINUITY left the playlist
	}
	if extra := len(p.done) - p.count - retainedSegments; extra > 0 {
		for _, old := range p.done[:extra] {
			old.release()
		}
		// Shifted down rather than resliced, so the array is reused.
		n := copy(p.done, p.done[extra:])
		clear(p.done[n:])
		p.done = p.done[:n]
	}
	if d := (s.duration + engine.Timescale - 1) / engine.Timescale; d > p.targetDuration {
		p.targetDuration = d
	}
	window := p.done[max(len(p.done)-p.count, 0):]
	snap := p.newSnapshot()
	snap.playlist = appendPlaylist(snap.playlist[:0], window, p.targetDuration, p.discSeq)
	for _, seg := range p.done {
		seg.refs.Add(1)
		snap.segments = append(snap.segments, seg)
	}
	snap.refs.Store(1) // the writer's, dropped when the next one replaces it
	if old := p.state.Swap(snap); old != nil {
		old.release()
	}
	if !p.readySent {
		p.readySent = true
		close(p.ready)
	}
}

// nameSegment names a segment after its start and duration. Names have
// whole seconds, so two short segments could share one: the later then
// reports its duration a millisecond or so longer in its name. The playlist
// keeps the exact start and duration.
func (p *Packager) nameSegment(s *segment) {
	ms := s.duration * 1000 / engine.Timescale
	for {
		putSegmentName(&s.name, s.wall, ms)
		taken := false
		for _, d := range p.done {
			taken = taken || d.name == s.name
		}
		if !taken || ms >= maxNameDuration {
			return
		}
		ms++
	}
}
