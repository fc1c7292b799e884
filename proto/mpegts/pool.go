package mpegts

import (
	"sync/atomic"

	"github.com/livedge/livedge/proto/internal/recycle"
)

// Pool defaults.
const (
	// DefaultPoolSize is the pool's size when the config names none. The
	// pool is one allocation whose pages the kernel maps only when a slab is
	// first written, and slabs are reused newest-first, so an idle or small
	// server pays for the slabs it actually filled, not for this figure.
	DefaultPoolSize = 256 << 20
	// DefaultSlabSize holds four chunks of DefaultMaxChunkBytes: a stream
	// wastes at most one partly filled slab, and a slab returns to the pool
	// soon after the ring and the HLS window let go of its chunks.
	DefaultSlabSize = 256 << 10
)

// Pool is the memory published TS chunks live in: fixed-size slabs carved
// out of one allocation made at start. A stream's chunker fills a slab with
// consecutive chunks; the slab is refcounted (one reference per live chunk
// in it, one while the chunker still fills it) and goes back to the pool
// when the last chunk in it is recycled, so steady-state publishing
// allocates nothing. When the pool is exhausted the chunker takes a slab
// from the heap instead, counted in PoolStats.HeapFallbacks: the writer
// never waits for memory, and a heap slab is simply left to the garbage
// collector when its chunks are gone.
//
// A nil *Pool is valid and takes every slab from the heap (tests, tools).
// A Pool is safe for concurrent use by any number of streams.
type Pool struct {
	slabSize int
	slabs    []slab                 // the preallocated ones
	free     recycle.FreeList[slab] // the most recently used (already resident) slab first

	inUse         atomic.Int64
	heapInUse     atomic.Int64
	heapFallbacks atomic.Uint64
	oversize      atomic.Uint64
}

// slab is a run of memory that chunks are carved from.
type slab struct {
	pool *Pool // nil for a slab of a nil pool and for an oversize chunk
	heap bool  // taken from the heap because pool was exhausted
	buf  []byte
	refs atomic.Int32
}

// PoolStats are a pool's figures, for /metrics.
type PoolStats struct {
	SlabSize int   // bytes per slab
	Slabs    int   // preallocated slabs
	Size     int64 // preallocated bytes: Slabs * SlabSize
	InUse    int   // preallocated slabs holding live chunks or being filled
	// HeapInUse is the heap slabs alive now, HeapFallbacks how many were
	// ever taken: the pool was exhausted each time (memory_pool is too small
	// for the streams and viewers served).
	HeapInUse     int
	HeapFallbacks uint64
	// Oversize counts chunks larger than a slab (a single huge frame), which
	// get heap memory of their own.
	Oversize uint64
}

// NewPool preallocates size bytes (DefaultPoolSize when size <= 0) as slabs
// of slabSize bytes (DefaultSlabSize when slabSize <= 0). A size below one
// slab makes a pool without slabs, where every slab comes from the heap.
func NewPool(size int64, slabSize int) *Pool {
	if size <= 0 {
		size = DefaultPoolSize
	}
	if slabSize <= 0 {
		slabSize = DefaultSlabSize
	}
	n := int(size / int64(slabSize))
	p := &Pool{slabSize: slabSize, slabs: make([]slab, n)}
	mem := make([]byte, n*slabSize)
	// Pushed in reverse so that the first slabs go out first.
	for i := n - 1; i >= 0; i-- {
		s := &p.slabs[i]
		s.pool = p
		s.buf = mem[i*slabSize : (i+1)*slabSize : (i+1)*slabSize]
		p.free.Put(s)
	}
	return p
}

// SlabSize is the size of the pool's slabs (DefaultSlabSize for a nil pool).
func (p *Pool) SlabSize() int {
	if p == nil {
		return DefaultSlabSize
	}
	return p.slabSize
}

// Stats returns the pool's figures; safe from any goroutine.
func (p *Pool) Stats() PoolStats {
	if p == nil {
		return PoolStats{SlabSize: DefaultSlabSize}
	}
	return PoolStats{
		SlabSize:      p.slabSize,
		Slabs:         len(p.slabs),
		Size:          int64(len(p.slabs)) * int64(p.slabSize),
		InUse:         int(p.inUse.Load()),
		HeapInUse:     int(p.heapInUse.Load()),
		HeapFallbacks: p.heapFallbacks.Load(),
		Oversize:      p.oversize.Load(),
	}
}

// get returns a slab with one reference, the caller's: a pooled one while
// any is free, else one from the heap.
func (p *Pool) get() *slab {
	if p == nil {
		s := &slab{buf: make([]byte, DefaultSlabSize)}
		s.refs.Store(1)
		return s
	}
	s := p.free.Get()
	if s == nil {
		p.heapFallbacks.Add(1)
		p.heapInUse.Add(1)
		s = &slab{pool: p, heap: true, buf: make([]byte, p.slabSize)}
	} else {
		p.inUse.Add(1)
	}
	s.refs.Store(1)
	return s
}

// getOversize returns heap memory of its own, with one reference, for a
// chunk larger than a slab.
func (p *Pool) getOversize(n int) *slab {
	if p != nil {
		p.oversize.Add(1)
	}
	s := &slab{buf: make([]byte, n)}
	s.refs.Store(1)
	return s
}

// retain adds a reference to a slab the caller already holds one of.
func (s *slab) retain() { s.refs.Add(1) }

// release drops a reference; the last one returns the slab to its pool (or
// leaves a heap slab to the garbage collector).
func (s *slab) release() {
	if !recycle.LastRef(&s.refs, "mpegts: slab") {
		return
	}
	p := s.pool
	if p == nil {
		return
	}
	if s.heap {
		p.heapInUse.Add(-1)
		return
	}
	p.inUse.Add(-1)
	p.free.Put(s)
}
