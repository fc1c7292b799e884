package hls

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/livedge/livedge/engine"
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
// Playlist, Ready and Segment are safe from any goroutine and lock-free: they
// read an immutable snapshot published with an atomic pointer.
type Packager struct {
	target      int64 // segment target in 90 kHz
	count       int
	unsubscribe func()
	ready       chan struct{}
	readyOnce   sync.Once
	state       atomic.Pointer[snapshot]

	// Writer state.
	cur            *segment   // being filled
	done           []*segment // finished: the playlist window plus the retained ones
	nextSeq        uint64
	discSeq        uint64 // discontinuities that left the window
	targetDuration int64  // seconds; never decreases
}

// segment is one media segment; immutable once finished.
type segment struct {
	name     string
	seq      uint64
	wall     time.Time
	duration int64 // 90 kHz
	disc     bool
	chunks   [][]byte
}

// snapshot is what readers see: the playlist bytes and the fetchable
// segments.
type snapshot struct {
	playlist []byte
	segments []*segment
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

// Playlist returns the current media playlist; ok is false until the first
// segment is complete. The bytes are shared and must not be modified.
func (p *Packager) Playlist() (playlist []byte, ok bool) {
	s := p.state.Load()
	if s == nil {
		return nil, false
	}
	return s.playlist, true
}

// Ready is closed when the first segment is complete.
func (p *Packager) Ready() <-chan struct{} { return p.ready }

// Segment returns the body of a segment as the list of its chunks' bytes, in
// order, to be written with writev. The bytes are shared with every viewer and
// must not be modified; the returned list itself is the caller's (a writer
// may advance its elements in place). See AppendSegment to reuse a list.
func (p *Packager) Segment(name string) ([][]byte, bool) {
	return p.AppendSegment(nil, name)
}

// AppendSegment is Segment appending to dst: with enough capacity in dst it
// does not allocate.
func (p *Packager) AppendSegment(dst [][]byte, name string) ([][]byte, bool) {
	s := p.state.Load()
	if s == nil {
		return dst, false
	}
	for _, seg := range s.segments {
		if seg.name == name {
			return append(dst, seg.chunks...), true
		}
	}
	return dst, false
}

// Close stops following the chunker; the last playlist and segments stay
// readable.
func (p *Packager) Close() { p.unsubscribe() }

// onChunk runs on the stream's writer after each chunk is published.
func (p *Packager) onChunk(ch *mpegts.Chunk) {
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
	c.chunks = append(c.chunks, ch.Data)
	c.duration += ch.Duration
}

func (p *Packager) open(ch *mpegts.Chunk) {
	p.cur = &segment{
		wall:     ch.Wall,
		disc:     ch.Discontinuity,
		chunks:   [][]byte{ch.Data},
		duration: ch.Duration,
	}
}

// finish closes the current segment, moves the window and publishes a new
// snapshot.
func (p *Packager) finish() {
	s := p.cur
	p.cur = nil
	s.seq = p.nextSeq
	p.nextSeq++
	s.name = p.uniqueName(s)
	p.done = append(p.done, s)
	if n := len(p.done); n > p.count && p.done[n-p.count-1].disc {
		p.discSeq++ // its EXT-X-DISCONTINUITY left the playlist
	}
	if extra := len(p.done) - p.count - retainedSegments; extra > 0 {
		clear(p.done[:extra])
		p.done = p.done[extra:]
	}
	if d := (s.duration + engine.Timescale - 1) / engine.Timescale; d > p.targetDuration {
		p.targetDuration = d
	}
	window := p.done[max(len(p.done)-p.count, 0):]
	p.state.Store(&snapshot{
		playlist: renderPlaylist(window, p.targetDuration, p.discSeq),
		segments: append([]*segment(nil), p.done...),
	})
	p.readyOnce.Do(func() { close(p.ready) })
}

// uniqueName names a segment after its start and duration. Names have
// whole seconds, so two short segments could share one: the later then
// reports its duration a millisecond or so longer in its name. The playlist
// keeps the exact start and duration.
func (p *Packager) uniqueName(s *segment) string {
	ms := s.duration * 1000 / engine.Timescale
	for {
		name := segmentName(s.wall, ms)
		taken := false
		for _, d := range p.done {
			taken = taken || d.name == name
		}
		if !taken || ms >= maxNameDuration {
			return name
		}
		ms++
	}
}
