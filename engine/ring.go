package engine

import "sync/atomic"

// Ring is a fixed-size ring of published items with one writer and many
// readers, and an index of the items that start a group of pictures (GOP):
// a reader can always start or resume at a keyframe.
//
// Items are pointers to values that are immutable once published. Readers run
// concurrently with the writer without locks: each slot is a seqlock, so a
// reader that was lapped by the writer notices and resyncs.
type Ring[T any] struct {
	slots []ringSlot[T]
	mask  uint64
	head  atomic.Uint64 // sequence number the next Push gets
	// lastKey is 1 + the sequence of the newest keyframe item (0: none yet).
	lastKey atomic.Uint64
}

type ringSlot[T any] struct {
	seq  atomic.Uint64 // sequence of the item held + 1; 0 while being written
	key  atomic.Bool
	item atomic.Pointer[T]
}

// NewRing makes a ring of at least size slots (rounded up to a power of two).
func NewRing[T any](size int) *Ring[T] {
	n := 2
	for n < size {
		n <<= 1
	}
	return &Ring[T]{slots: make([]ringSlot[T], n), mask: uint64(n - 1)}
}

// Cap is the number of items the ring keeps.
func (r *Ring[T]) Cap() int { return len(r.slots) }

// Push publishes an item; key marks the start of a GOP. Only one goroutine
// may push.
func (r *Ring[T]) Push(item *T, key bool) uint64 {
	seq := r.head.Load()
	s := &r.slots[seq&r.mask]
	s.seq.Store(0)
	s.item.Store(item)
	s.key.Store(key)
	s.seq.Store(seq + 1)
	r.head.Store(seq + 1)
	if key {
		r.lastKey.Store(seq + 1)
	}
	return seq
}

// Head is the sequence number the next item will get.
func (r *Ring[T]) Head() uint64 { return r.head.Load() }

// LastKey returns the sequence of the newest keyframe item.
func (r *Ring[T]) LastKey() (uint64, bool) {
	k := r.lastKey.Load()
	if k == 0 {
		return 0, false
	}
	return k - 1, true
}

// Get returns the item with sequence seq and whether it is a keyframe; ok is
// false when that item is not published yet or was already overwritten.
func (r *Ring[T]) Get(seq uint64) (item *T, key bool, ok bool) {
	s := &r.slots[seq&r.mask]
	if s.seq.Load() != seq+1 {
		return nil, false, false
	}
	item = s.item.Load()
	key = s.key.Load()
	if s.seq.Load() != seq+1 {
		return nil, false, false
	}
	return item, key, true
}

// Cursor is one reader's position in a ring.
type Cursor[T any] struct {
	ring    *Ring[T]
	next    uint64
	started bool
	Resyncs uint64 // times the reader fell behind and jumped to the newest keyframe
}

// NewCursor makes a reader that starts at the newest keyframe.
func (r *Ring[T]) NewCursor() *Cursor[T] { return &Cursor[T]{ring: r} }

// Next returns the next item for this reader, or nil when it is up to date.
// A reader that starts, or that has fallen behind the ring, continues at the
// newest keyframe; resynced reports that jump (not the first start).
func (c *Cursor[T]) Next() (item *T, resynced bool) {
	r := c.ring
	if !c.started {
		k, ok := r.LastKey()
		if !ok {
			return nil, false
		}
		c.next, c.started = k, true
	}
	if c.next >= r.Head() {
		return nil, false
	}
	if it, _, ok := r.Get(c.next); ok {
		c.next++
		return it, false
	}
	// Overwritten: jump to the newest keyframe.
	k, ok := r.LastKey()
	if !ok {
		return nil, false
	}
	c.next = k
	c.Resyncs++
	it, _, ok := r.Get(c.next)
	if !ok {
		return nil, true
	}
	c.next++
	return it, true
}

// Behind is how many published items this reader has not read yet.
func (c *Cursor[T]) Behind() uint64 {
	if !c.started {
		return 0
	}
	h := c.ring.Head()
	if c.next >= h {
		return 0
	}
	return h - c.next
}

// SkipToLastKey moves the reader to the newest keyframe (a slow-reader policy).
func (c *Cursor[T]) SkipToLastKey() bool {
	k, ok := c.ring.LastKey()
	if !ok {
		return false
	}
	if c.started && k <= c.next {
		return false
	}
	c.next, c.started = k, true
	c.Resyncs++
	return true
}
