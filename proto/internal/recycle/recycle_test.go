package recycle

import (
	"sync/atomic"
	"testing"
)

func TestFreeListIsLIFO(t *testing.T) {
	var l FreeList[int]
	if l.Get() != nil {
		t.Fatal("empty list returned an object")
	}
	a, b := new(int), new(int)
	l.Put(a)
	l.Put(b)
	if got := l.Get(); got != b {
		t.Fatal("not the most recently put object first")
	}
	if got := l.Get(); got != a {
		t.Fatal("second Get is not the first object put")
	}
	if l.Get() != nil {
		t.Fatal("drained list returned an object")
	}
}

func TestFreeListPutDoesNotAllocateOnceGrown(t *testing.T) {
	var l FreeList[int]
	x := new(int)
	l.Put(x)
	l.Get()
	if n := testing.AllocsPerRun(100, func() { l.Put(x); l.Get() }); n != 0 {
		t.Fatalf("%v allocations per Put and Get", n)
	}
}

func TestLastRef(t *testing.T) {
	var refs atomic.Int32
	refs.Store(2)
	if LastRef(&refs, "test") {
		t.Fatal("first of two releases reported last")
	}
	if !LastRef(&refs, "test") {
		t.Fatal("second of two releases not reported last")
	}
	// A release too many is a bug: never reported last, so the object is
	// not recycled a second time.
	if LastRef(&refs, "test") {
		t.Fatal("release below zero reported last")
	}
}
