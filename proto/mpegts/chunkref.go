package mpegts

import "log/slog"

// A chunk's state word: generation (ring sequence + 1) above chunkRefBits,
// reference count below. Readers take a reference with one compare-and-swap
// that checks both, so a reader that found a chunk in the ring just before
// the writer evicted and recycled it sees a different generation (or no
// references) and fails, instead of pinning a slab that is being refilled.
// 24 bits of references outnumber any possible count of connections; 40 bits
// of sequence last millennia at any chunk rate.
const (
	chunkRefBits = 24
	chunkRefMask = 1<<chunkRefBits - 1
)

func chunkTag(seq uint64) uint64 { return (seq + 1) << chunkRefBits }

// tryAcquire takes a reference on the chunk if it still is the one with
// ring sequence seq and is alive.
func (ch *Chunk) tryAcquire(seq uint64) bool {
	want := chunkTag(seq)
	for {
		v := ch.state.Load()
		refs := v & chunkRefMask
		if v&^chunkRefMask != want || refs == 0 || refs == chunkRefMask {
			return false
		}
		if ch.state.CompareAndSwap(v, v+1) {
			return true
		}
	}
}

// Retain adds a reference to a chunk the caller already holds one of, or
// was handed in a subscriber callback.
func (ch *Chunk) Retain() { ch.state.Add(1) }

// Release drops a reference. The last one recycles the chunk: its memory
// may be reused at once, so the caller must be done with Data.
func (ch *Chunk) Release() {
	v := ch.state.Add(^uint64(0))
	switch v & chunkRefMask {
	case 0:
		ch.recycle()
	case chunkRefMask:
		// A bug: a reference released twice. The chunk may already serve
		// another reader, so it is left alone rather than recycled again.
		slog.Error("mpegts: chunk released more often than retained")
	}
}

// recycle returns the chunk's slab reference and the Chunk itself. No
// reader can hold a reference any more, and none can take one (that needs
// a live count), so the fields are free to change.
func (ch *Chunk) recycle() {
	s, c := ch.slab, ch.owner
	ch.slab, ch.Data = nil, nil
	if s != nil {
		s.release()
	}
	c.freeChunks.Put(ch)
}

// newChunk returns a Chunk with no references and n bytes of Data carved
// from the slab being filled (a new slab when it is full). Writer only.
func (c *Chunker) newChunk(n int) *Chunk {
	ch := c.freeChunks.Get()
	if ch == nil {
		ch = &Chunk{owner: c}
	}
	pool := c.opts.Pool
	if n > pool.SlabSize() {
		ch.slab = pool.getOversize(n)
		ch.Data = ch.slab.buf[:n:n]
		return ch
	}
	if c.slab == nil || c.slabUsed+n > len(c.slab.buf) {
		if c.slab != nil {
			c.slab.release()
		}
		c.slab, c.slabUsed = pool.get(), 0
	}
	c.slab.retain()
	ch.slab = c.slab
	// The capacity ends with the chunk: nobody can append into the next one.
	ch.Data = c.slab.buf[c.slabUsed : c.slabUsed+n : c.slabUsed+n]
	c.slabUsed += n
	return ch
}

// Head is the sequence number the next published chunk will get; chunks
// before it (and within the ring) may be acquired.
func (c *Chunker) Head() uint64 { return c.ring.Head() }

// LastKey is the sequence of the newest key chunk.
func (c *Chunker) LastKey() (uint64, bool) { return c.ring.LastKey() }

// Acquire returns the chunk with sequence seq holding a reference to it,
// which the caller releases when done with its bytes; ok is false when that
// chunk is not published yet or was evicted from the ring (the reader fell
// behind). Safe from any goroutine, lock-free.
func (c *Chunker) Acquire(seq uint64) (ch *Chunk, ok bool) {
	ch, _, ok = c.ring.Get(seq)
	if !ok || !ch.tryAcquire(seq) {
		return nil, false
	}
	return ch, true
}

// Published is the number of bytes published so far: the end of the newest
// chunk (its Pos plus its length).
func (c *Chunker) Published() uint64 { return c.bytesOut.Load() }

// LastKeyPos is the Pos of the newest key chunk: a reader whose position
// is before it can skip ahead to it.
func (c *Chunker) LastKeyPos() (pos uint64, ok bool) {
	k := c.newestKey.Load()
	return k - 1, k != 0
}

// GOPBytes is the size of the last complete group of pictures: the bytes
// from one key chunk to the next. 0 until two key chunks were published.
func (c *Chunker) GOPBytes() int { return int(c.gopBytes.Load()) }
