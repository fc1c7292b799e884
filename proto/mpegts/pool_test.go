package mpegts

import (
	"bytes"
	crcsum "hash/crc32"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/livedge/livedge/engine"
)

// poolTestFeed writes frames laps times, each lap shifted after the previous
// one, so a test can feed a stream as long as it likes.
func poolTestFeed(c *Chunker, frames []*engine.Frame, laps int) {
	span := frames[len(frames)-1].DTS + 3000
	for lap := range laps {
		for _, f := range frames {
			g := *f
			g.DTS += int64(lap) * span
			g.PTS += int64(lap) * span
			c.WriteFrame(&g)
		}
	}
}

func TestChunkGeneration(t *testing.T) {
	ch := &Chunk{}
	ch.state.Store(chunkTag(5) | 1)
	if ch.tryAcquire(4) || ch.tryAcquire(6) {
		t.Fatal("acquired under another sequence")
	}
	if !ch.tryAcquire(5) {
		t.Fatal("live chunk not acquired")
	}
	if got := ch.state.Load() & chunkRefMask; got != 2 {
		t.Fatalf("%d references", got)
	}
	ch.state.Add(^uint64(1)) // drop both without recycling
	if ch.tryAcquire(5) {
		t.Fatal("acquired a chunk with no references (recycled)")
	}
}

// TestChunkHeldSurvivesRecycling holds one chunk while the stream goes on
// long enough to recycle every slab many times over: the held bytes stay
// intact, the chunk is not acquirable once evicted, and everything returns
// to the pool at the end.
func TestChunkHeldSurvivesRecycling(t *testing.T) {
	pool := NewPool(8*16<<10, 16<<10)
	c := NewChunker(ChunkerOptions{Pool: pool, RingSize: 8, MaxChunkBytes: 4 << 10})
	c.SetTracks(muxTestTracks)
	frames := muxTestFrames(0, 60, 30)
	poolTestFeed(c, frames, 1)
	seq := c.Head() - 1
	held, ok := c.Acquire(seq)
	if !ok {
		t.Fatal("newest chunk not acquired")
	}
	want := bytes.Clone(held.Data)
	pos := held.Pos
	poolTestFeed(c, frames, 10)
	if !bytes.Equal(held.Data, want) || held.Pos != pos {
		t.Fatal("held chunk changed")
	}
	if _, ok := c.Acquire(seq); ok {
		t.Fatal("evicted chunk acquired")
	}
	if c.Published() < 4*uint64(pool.Stats().Size) {
		t.Fatalf("%d bytes published: the pool did not cycle", c.Published())
	}
	held.Release()
	c.Close()
	if st := pool.Stats(); st.InUse != 0 || st.HeapInUse != 0 {
		t.Fatalf("after close: %+v", st)
	}
}

func TestPoolRecyclesWithoutHeap(t *testing.T) {
	pool := NewPool(4<<20, 0)
	c := NewChunker(ChunkerOptions{Pool: pool, RingSize: 16})
	c.SetTracks(muxTestTracks)
	var all []byte
	c.Subscribe(func(ch *Chunk) { all = append(all, ch.Data...) })
	frames := muxTestFrames(0, 90, 30)
	poolTestFeed(c, frames, 20)
	st := pool.Stats()
	if st.HeapFallbacks != 0 || st.Oversize != 0 || st.InUse == 0 || st.InUse > 8 {
		t.Fatalf("stats %+v", st)
	}
	if st.Slabs != 16 || st.Size != 4<<20 || st.SlabSize != DefaultSlabSize {
		t.Fatalf("stats %+v", st)
	}
	c.Close()
	if st := pool.Stats(); st.InUse != 0 {
		t.Fatalf("after close: %+v", st)
	}
	// The recycled memory carried the right bytes all along.
	if got := muxTestDemux(t, all); len(got) != 20*len(frames) {
		t.Fatalf("%d access units, want %d", len(got), 20*len(frames))
	}
}

// TestPoolExhaustedFallsBackToHeap runs a pool of two slabs under readers
// that keep many chunks: the writer goes on with heap slabs, counted, and
// the output is unchanged.
func TestPoolExhaustedFallsBackToHeap(t *testing.T) {
	frames := muxTestFrames(0, 90, 30)
	_, _, want := chunkTestRun(t, ChunkerOptions{}, muxTestTracks, frames)

	pool := NewPool(2*16<<10, 16<<10)
	c := NewChunker(ChunkerOptions{Pool: pool, RingSize: 256})
	var got []*Chunk
	c.Subscribe(func(ch *Chunk) { ch.Retain(); got = append(got, ch) })
	c.SetTracks(muxTestTracks)
	for _, f := range frames {
		c.WriteFrame(f)
	}
	c.Close()
	st := pool.Stats()
	if st.HeapFallbacks == 0 || st.InUse != 2 || st.HeapInUse == 0 {
		t.Fatalf("stats %+v", st)
	}
	if len(got) != len(want) {
		t.Fatalf("%d chunks, want %d", len(got), len(want))
	}
	for i, ch := range got {
		if !bytes.Equal(ch.Data, want[i]) {
			t.Fatalf("chunk %d differs from the heap run", i)
		}
		ch.Release()
	}
	if st := pool.Stats(); st.InUse != 0 || st.HeapInUse != 0 {
		t.Fatalf("after release: %+v", st)
	}
}

func TestPoolOversizeChunk(t *testing.T) {
	pool := NewPool(4*16<<10, 16<<10)
	c := NewChunker(ChunkerOptions{Pool: pool, MaxChunkBytes: 8 << 10})
	c.SetTracks([]engine.Track{{Codec: engine.CodecH264}})
	var sizes []int
	c.Subscribe(func(ch *Chunk) { sizes = append(sizes, len(ch.Data)) })
	c.WriteFrame(&engine.Frame{DTS: 0, PTS: 0, Key: true, Data: [][]byte{muxTestNAL(0x65, 40000, 1)}})
	c.WriteFrame(&engine.Frame{DTS: 3000, PTS: 3000, Data: [][]byte{muxTestNAL(0x41, 100, 1)}})
	c.WriteFrame(&engine.Frame{DTS: 6000, PTS: 6000, Key: true, Data: [][]byte{muxTestNAL(0x65, 100, 1)}})
	if len(sizes) != 2 || sizes[0] <= 16<<10 {
		t.Fatalf("chunk sizes %v", sizes)
	}
	if st := pool.Stats(); st.Oversize != 1 || st.HeapFallbacks != 0 || st.InUse != 1 {
		t.Fatalf("stats %+v", st)
	}
	c.Close()
	if st := pool.Stats(); st.InUse != 0 {
		t.Fatalf("after close: %+v", st)
	}
}

func TestChunkerZeroAllocs(t *testing.T) {
	pool := NewPool(8<<20, 0)
	c := NewChunker(ChunkerOptions{Pool: pool, RingSize: 64})
	c.SetTracks(muxTestTracks)
	frames := muxTestFrames(0, 90, 30)
	span := frames[len(frames)-1].DTS + 3000
	lap := int64(0)
	run := func() {
		for _, f := range frames {
			g := *f
			g.DTS += lap * span
			g.PTS += lap * span
			c.WriteFrame(&g)
		}
		lap++
	}
	for range 5 { // warm up: the ring fills, the free lists grow
		run()
	}
	if n := testing.AllocsPerRun(20, run); n != 0 {
		t.Fatalf("%v allocations per 3 s of stream", n)
	}
	if st := pool.Stats(); st.HeapFallbacks != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestChunkReadersRace runs many readers against a fast writer on a tiny
// pool that recycles constantly: every chunk a reader holds keeps the bytes
// the writer published under its sequence, and all memory returns at the
// end. Run with -race.
func TestChunkReadersRace(t *testing.T) {
	// The ring keeps more chunks than the pool has room for: slabs recycle
	// and the heap fills in, both under the readers.
	pool := NewPool(4*16<<10, 16<<10)
	c := NewChunker(ChunkerOptions{Pool: pool, RingSize: 16, MaxChunkBytes: 6 << 10})
	c.SetTracks(muxTestTracks)
	const laps = 30
	frames := muxTestFrames(0, 60, 30)

	// The writer records each chunk's checksum by sequence as it publishes
	// it; readers record what they saw while holding it; the two must agree.
	var written sync.Map // seq -> crc
	c.Subscribe(func(ch *Chunk) {
		written.Store(c.Head()-1, crcsum.ChecksumIEEE(ch.Data))
	})

	type seen struct {
		seq uint64
		crc uint32
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	results := make([][]seen, 8)
	for r := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var next uint64
			var lastEnd uint64
			for !stop.Load() {
				if next >= c.Head() {
					runtime.Gosched()
					continue
				}
				ch, ok := c.Acquire(next)
				if !ok {
					if k, ok := c.LastKey(); ok && k > next {
						next, lastEnd = k, 0
					} else {
						next = c.Head()
					}
					continue
				}
				sum := crcsum.ChecksumIEEE(ch.Data)
				if len(ch.Data)%188 != 0 || ch.Data[0] != 0x47 {
					t.Error("chunk is not TS")
				}
				if lastEnd != 0 && ch.Pos != lastEnd {
					t.Errorf("chunk %d at %d, the previous one ended at %d", next, ch.Pos, lastEnd)
				}
				runtime.Gosched() // let the writer recycle whatever it can
				if crcsum.ChecksumIEEE(ch.Data) != sum {
					t.Errorf("chunk %d changed while held", next)
				}
				lastEnd = ch.Pos + uint64(len(ch.Data))
				results[r] = append(results[r], seen{next, sum})
				ch.Release()
				next++
			}
		}()
	}
	poolTestFeed(c, frames, laps)
	stop.Store(true)
	wg.Wait()
	c.Close()

	checked := 0
	for _, res := range results {
		for _, s := range res {
			w, ok := written.Load(s.seq)
			if !ok || w.(uint32) != s.crc {
				t.Fatalf("chunk %d: a reader saw other bytes than were published", s.seq)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("readers acquired nothing")
	}
	if st := pool.Stats(); st.InUse != 0 || st.HeapInUse != 0 || st.HeapFallbacks == 0 {
		t.Fatalf("stats %+v (the ring outgrows the pool: heap fallbacks expected)", st)
	}
	t.Logf("%d chunks checked, pool %+v", checked, pool.Stats())
}
