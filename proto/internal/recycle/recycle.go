// Package recycle holds what the packagers' reused objects (pool slabs,
// chunks, HLS segments and snapshots) share: a free list that the goroutine
// dropping an object's last reference pushes to and the stream's writer pops
// from, and the last-reference check of a reference count.
package recycle

import (
	"log/slog"
	"sync"
	"sync/atomic"
)

// FreeList is a LIFO stack of objects ready for reuse, safe for concurrent
// use. LIFO hands out the most recently used object first: the one whose
// memory is most likely still resident and in cache. The zero value is an
// empty list.
type FreeList[T any] struct {
	mu    sync.Mutex
	items []*T
}

// Get pops the most recently put object; nil when the list is empty.
func (l *FreeList[T]) Get() *T {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(l.items)
	if n == 0 {
		return nil
	}
	x := l.items[n-1]
	l.items[n-1] = nil
	l.items = l.items[:n-1]
	return x
}

// Put pushes x. It allocates only when the list is longer than ever before.
func (l *FreeList[T]) Put(x *T) {
	l.mu.Lock()
	l.items = append(l.items, x)
	l.mu.Unlock()
}

// LastRef drops one reference from refs and tells whether it was the last,
// so the caller recycles the object. A count below zero is a bug (a
// reference released twice): the object may already serve a new user, so
// it is logged, naming what, and not reported as last.
func LastRef(refs *atomic.Int32, what string) bool {
	n := refs.Add(-1)
	if n < 0 {
		slog.Error(what + " released more often than acquired")
	}
	return n == 0
}
