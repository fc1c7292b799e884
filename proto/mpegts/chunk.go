package mpegts

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livedge/livedge/engine"
	"github.com/livedge/livedge/proto/internal/recycle"
)

// Chunk is a run of TS packets of one stream, published once and shared
// read-only by every viewer and by the HLS segments that contain it.
//
// A chunk's bytes live in a slab of the chunker's Pool and the Chunk itself
// is reused once nothing refers to it, so a chunk is valid only while its
// holder has a reference: the ring holds one while the chunk is in it,
// readers take theirs with Chunker.Acquire, a subscriber keeps the chunk it
// is handed past the callback with Retain, and everyone calls Release
// exactly once for each reference taken.
type Chunk struct {
	Data []byte
	// Key: Data starts with PAT+PMT and then a video keyframe (in a stream
	// without video, any frame): a reader can start here.
	Key bool
	// DTS of the chunk's start on the stream clock (the first video track,
	// else the first track), 90 kHz. Chunks of a stream telescope: DTS plus
	// Duration is the next chunk's DTS.
	DTS int64
	// Duration in 90 kHz up to the next chunk's start; set before publishing.
	Duration int64
	// Wall is the wall clock of the chunk's start: the stream clock anchored
	// to the system clock, re-anchored when the two drift apart.
	Wall time.Time
	// Discontinuity: the stream switched input or tracks before this chunk;
	// it is a Key chunk and its packets carry discontinuity_indicator.
	Discontinuity bool
	// Pos is the offset of Data's first byte in all the bytes the chunker
	// published: Chunker.Published minus a reader's position is how far
	// behind the reader is.
	Pos uint64

	owner *Chunker
	slab  *slab
	// state is the chunk's ring sequence plus one in the high bits (its
	// generation: a recycled Chunk gets a new one) and its reference count
	// in the low chunkRefBits; 0 references means recycled or being refilled.
	state atomic.Uint64
}

// ChunkerOptions tune a Chunker; zero values take the defaults.
type ChunkerOptions struct {
	// Pool holds the chunks' bytes; nil takes each slab from the heap.
	Pool             *Pool
	RingSize         int           // chunks kept for readers (default 1024)
	MaxChunkBytes    int           // a chunk closes before it would exceed this (default 64 KiB)
	MaxChunkDuration time.Duration // a chunk closes when it spans this much (default 200 ms)
	// Now is the wall clock (default time.Now); tests and replays set it.
	Now func() time.Time
}

// Chunker defaults.
const (
	DefaultChunkRingSize          = 1024
	DefaultMaxChunkBytes          = 64 << 10
	DefaultMaxChunkDuration       = 200 * time.Millisecond
	chunkWallMaxDrift             = 5 * time.Second
	chunkMaxFrameDelta      int64 = engine.Timescale // bound of the last-frame duration estimate
)

// Chunker is the one TS packager of a stream: it muxes every frame once and
// publishes the bytes as immutable chunks into a ring that viewers read with
// their own cursors (Head, LastKey, Acquire). A chunk closes at every video
// keyframe (the next one starts with PAT/PMT and the keyframe), before it
// would exceed MaxChunkBytes, and when it spans MaxChunkDuration. Nothing is
// published before the first keyframe.
//
// SetTracks, WriteFrame, Discontinuity and Close come from the stream's single
// writer (engine.Packager); the reader methods, Subscribe and the unsubscribe
// functions are safe from any goroutine.
type Chunker struct {
	opts ChunkerOptions
	ring *engine.Ring[Chunk]
	mux  *Muxer

	tracks      []engine.Track
	audioOnly   bool
	buf         []byte    // the chunk being filled; reused, copied out on publish
	cur         chunkMeta // metadata of the chunk being filled
	open        bool
	frames      int  // frames in the open chunk
	published   bool // any chunk so far
	started     bool // a keyframe began the current run of frames
	pendingDisc bool
	closed      bool

	clock      int64 // DTS of the last frame of the clock track
	clockDelta int64 // duration of that frame (estimate for a final chunk)
	clockValid bool

	anchored   bool
	anchorWall time.Time
	anchorDTS  int64
	lastWall   time.Time

	// Chunk memory (writer side): the slab being filled, the chunks the
	// ring holds a reference to (by slot), and the bytes published so far.
	slab     *slab
	slabUsed int
	inRing   []*Chunk
	pos      uint64

	// Reader-visible figures.
	bytesOut  atomic.Uint64 // bytes published
	gopBytes  atomic.Int64  // bytes of the last complete GOP
	newestKey atomic.Uint64 // Pos of the newest key chunk, plus one (0: none)

	// Recycled Chunks, put back by whichever goroutine released them last.
	freeChunks recycle.FreeList[Chunk]

	subsMu sync.Mutex
	subs   atomic.Pointer[[]*chunkSubscriber]
}

type chunkSubscriber struct{ fn func(*Chunk) }

// chunkMeta is what a chunk carries besides its bytes, known at its start.
type chunkMeta struct {
	key, discontinuity bool
	dts                int64
	wall               time.Time
}

// NewChunker makes a chunker; the stream's SetTracks comes next.
func NewChunker(opts ChunkerOptions) *Chunker {
	if opts.RingSize <= 0 {
		opts.RingSize = DefaultChunkRingSize
	}
	if opts.MaxChunkBytes <= 0 {
		opts.MaxChunkBytes = DefaultMaxChunkBytes
	}
	if opts.MaxChunkDuration <= 0 {
		opts.MaxChunkDuration = DefaultMaxChunkDuration
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &Chunker{
		opts: opts,
		ring: engine.NewRing[Chunk](opts.RingSize),
		mux:  NewMuxer(),
	}
	c.inRing = make([]*Chunk, c.ring.Cap())
	c.subs.Store(new([]*chunkSubscriber))
	return c
}

// Subscribe registers fn to be called by the writer, synchronously, after each
// chunk is published. fn must be quick and must not call back into the
// Chunker's writer methods; the chunk is valid during the call, and fn calls
// its Retain to keep it longer. The returned function unregisters it.
func (c *Chunker) Subscribe(fn func(ch *Chunk)) (unsubscribe func()) {
	s := &chunkSubscriber{fn: fn}
	c.subsMu.Lock()
	old := *c.subs.Load()
	subs := make([]*chunkSubscriber, 0, len(old)+1)
	subs = append(append(subs, old...), s)
	c.subs.Store(&subs)
	c.subsMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			c.subsMu.Lock()
			defer c.subsMu.Unlock()
			old := *c.subs.Load()
			subs := make([]*chunkSubscriber, 0, len(old))
			for _, x := range old {
				if x != s {
					subs = append(subs, x)
				}
			}
			c.subs.Store(&subs)
		})
	}
}

// SetTracks implements engine.Packager. A change of tracks mid-stream closes
// the current chunk and waits for a keyframe, like a discontinuity.
func (c *Chunker) SetTracks(tracks []engine.Track) {
	if c.tracks != nil && engine.SameTracks(c.tracks, tracks) {
		return
	}
	if c.tracks != nil {
		c.breakRun()
	}
	c.tracks = append(c.tracks[:0:0], tracks...)
	if err := c.mux.SetTracks(tracks); err != nil {
		slog.Warn("mpegts: tracks not fully carried", "err", err)
	}
	c.audioOnly = !c.mux.hasVideo
	c.clockValid = false
}

// Discontinuity implements engine.Packager: the current chunk is published,
// and the next one starts at a keyframe with PAT/PMT and Discontinuity set.
func (c *Chunker) Discontinuity() {
	c.breakRun()
	c.mux.Discontinuity()
}

// breakRun publishes the open chunk and waits for the next keyframe, which
// starts a Discontinuity chunk.
func (c *Chunker) breakRun() {
	if c.open {
		c.closeChunk(c.clock + c.clockDelta)
	}
	c.started = false
	c.pendingDisc = c.published
	c.anchored = false
	c.clockValid = false
}

// Close implements engine.Packager: the open chunk is published, later
// frames are ignored, and the ring lets go of its chunks: their memory
// returns to the pool once the readers still holding some release them.
func (c *Chunker) Close() {
	if c.closed {
		return
	}
	if c.open {
		c.closeChunk(c.clock + c.clockDelta)
	}
	c.closed = true
	for i, ch := range c.inRing {
		if ch != nil {
			c.inRing[i] = nil
			ch.Release()
		}
	}
	if c.slab != nil {
		c.slab.release()
		c.slab = nil
	}
}

// WriteFrame implements engine.Packager.
func (c *Chunker) WriteFrame(f *engine.Frame) {
	if c.closed || !c.mux.carries(f.Track) {
		return
	}
	onClock := f.Track == c.mux.pcrTrack
	switch {
	case !c.started:
		if !onClock || !(f.Key || c.audioOnly) {
			return // a reader must be able to start at the first chunk
		}
		c.started = true
		c.tick(f)
		c.startChunk(true)
	case onClock && f.Key && !c.audioOnly:
		c.tick(f)
		c.closeChunk(c.clock)
		c.startChunk(true)
	default:
		if onClock {
			c.tick(f)
		}
		if c.full(f) {
			c.closeChunk(c.clock)
			c.startChunk(c.audioOnly)
		}
	}
	c.buf = c.mux.WriteFrame(c.buf, f)
	c.frames++
}

// tick advances the stream clock to a frame of the clock track.
func (c *Chunker) tick(f *engine.Frame) {
	if c.clockValid {
		c.clockDelta = min(max(f.DTS-c.clock, 0), chunkMaxFrameDelta)
	}
	c.clock, c.clockValid = f.DTS, true
}

// full tells whether the open chunk must close before frame f: it spans
// MaxChunkDuration on the stream clock, or f would take it past
// MaxChunkBytes (a chunk holds at least one frame, so only a single frame
// larger than that makes a larger chunk).
func (c *Chunker) full(f *engine.Frame) bool {
	if c.clock-c.cur.dts >= int64(c.opts.MaxChunkDuration)*engine.Timescale/int64(time.Second) {
		return true
	}
	return c.frames > 0 && len(c.buf)+muxMaxFrameBytes(f) > c.opts.MaxChunkBytes
}

// startChunk opens a chunk at the current clock; a key chunk begins with the
// tables.
func (c *Chunker) startChunk(key bool) {
	c.buf = c.buf[:0]
	if key {
		c.buf = c.mux.WritePATPMT(c.buf)
	}
	c.frames = 0
	c.cur = chunkMeta{key: key, dts: c.clock, wall: c.wallAt(c.clock), discontinuity: c.pendingDisc && key}
	if key {
		c.pendingDisc = false
	}
	c.open = true
}

// wallAt maps a stream-clock DTS to wall time: an anchor taken at the start
// (and after discontinuities) plus elapsed media time, so that wall times of
// consecutive chunks differ by their durations. When media time drifts from
// the system clock by more than chunkWallMaxDrift (a source running fast or
// slow, a stall), the anchor moves to now. Wall time never goes backwards.
func (c *Chunker) wallAt(dts int64) time.Time {
	now := c.opts.Now()
	w := now
	if c.anchored {
		w = c.anchorWall.Add(time.Duration((dts - c.anchorDTS) * int64(time.Second) / engine.Timescale))
		if d := w.Sub(now); d > chunkWallMaxDrift || d < -chunkWallMaxDrift {
			w = now
			c.anchored = false
		}
	}
	if !c.anchored {
		c.anchorWall, c.anchorDTS, c.anchored = now, dts, true
	}
	if w.Before(c.lastWall) {
		w = c.lastWall
	}
	c.lastWall = w
	return w
}

// closeChunk publishes the open chunk, ending at the stream-clock DTS end:
// its bytes are copied into pool memory, the ring's reference replaces the
// one on the chunk it evicts, and subscribers see it.
func (c *Chunker) closeChunk(end int64) {
	c.open = false
	if len(c.buf) == 0 {
		return
	}
	ch := c.newChunk(len(c.buf))
	copy(ch.Data, c.buf)
	ch.Key, ch.DTS, ch.Wall, ch.Discontinuity = c.cur.key, c.cur.dts, c.cur.wall, c.cur.discontinuity
	ch.Duration = max(end-c.cur.dts, 0)
	ch.Pos = c.pos
	c.pos += uint64(len(ch.Data))

	seq := c.ring.Head()
	ch.state.Store(chunkTag(seq) | 1) // the ring's reference
	slot := seq & uint64(len(c.inRing)-1)
	evicted := c.inRing[slot]
	c.inRing[slot] = ch
	// The figures count the chunk before readers can reach it, so that no
	// reader's position is ever past them.
	c.bytesOut.Store(c.pos)
	if ch.Key {
		if k, ok := c.LastKeyPos(); ok {
			c.gopBytes.Store(int64(ch.Pos - k))
		}
		c.newestKey.Store(ch.Pos + 1)
	}
	c.ring.Push(ch, ch.Key)
	c.published = true
	if evicted != nil {
		evicted.Release()
	}
	for _, s := range *c.subs.Load() {
		s.fn(ch)
	}
	// A burst of huge frames must not pin a huge scratch buffer.
	if cap(c.buf) > 4*c.opts.MaxChunkBytes {
		c.buf = nil
	}
	c.buf = c.buf[:0]
}
