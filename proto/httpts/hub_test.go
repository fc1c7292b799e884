package httpts

import (
	"bytes"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livedge/livedge/engine"
	"github.com/livedge/livedge/proto/mpegts"
)

type testWaker struct{ n atomic.Int64 }

func (w *testWaker) Wake() { w.n.Add(1) }

// testStream is a chunker fed with synthetic 25 fps H.264 (keyframe every
// second, so a key chunk every 5 chunks) plus AAC.
type testStream struct {
	c     *mpegts.Chunker
	pool  *mpegts.Pool
	dts   int64
	i     int
	video int // bytes per video frame
}

func newTestStream(ringSize int) *testStream {
	pool := mpegts.NewPool(16<<20, 0)
	c := mpegts.NewChunker(mpegts.ChunkerOptions{RingSize: ringSize, Pool: pool})
	c.SetTracks([]engine.Track{{Codec: engine.CodecH264}, {Codec: engine.CodecAAC, Config: []byte{0x11, 0x90}}})
	return &testStream{c: c, pool: pool, video: 700}
}

// frames writes n video frames and the audio between them.
func (s *testStream) frames(n int) {
	for range n {
		key := s.i%25 == 0
		nal := bytes.Repeat([]byte{0x81}, s.video)
		nal[0] = 0x41
		if key {
			nal[0] = 0x65
		}
		s.c.WriteFrame(&engine.Frame{Track: 0, DTS: s.dts, PTS: s.dts, Key: key, Data: [][]byte{nal}})
		s.c.WriteFrame(&engine.Frame{Track: 1, DTS: s.dts, PTS: s.dts, Key: true, Data: [][]byte{bytes.Repeat([]byte{0xA1}, 100)}})
		s.dts += 3600
		s.i++
	}
}

func isPAT(b []byte) bool { return len(b) >= 188 && b[0] == 0x47 && b[1]&0x1F == 0 && b[2] == 0 }

func TestViewerStartsAtKeyframe(t *testing.T) {
	s := newTestStream(64)
	h := NewHub(s.c, Options{})
	v := h.NewViewer()
	w := &testWaker{}
	v.Start(w)
	if got := v.Next(nil); len(got) != 0 {
		t.Fatal("bytes before the first keyframe")
	}
	s.frames(6) // the first chunk
	first := v.Next(nil)
	if len(first) != 1 || !isPAT(first[0]) {
		t.Fatal("first viewer does not start with PAT")
	}
	s.frames(34) // keyframes at 0 and 25: 8 chunks published
	if w.n.Load() < 8 {
		t.Fatalf("%d wakes", w.n.Load())
	}
	// A viewer joining now starts at the newest keyframe (frame 25).
	late := h.NewViewer()
	late.Start(&testWaker{})
	got := late.Next(nil)
	if len(got) == 0 || !isPAT(got[0]) {
		t.Fatal("late viewer does not start with PAT")
	}
	if n := len(v.Next(nil)); n != 6 || n <= len(got) {
		t.Fatalf("early viewer got %d chunks, late one %d", n, len(got))
	}
	// Later calls return only the new chunks, in order.
	s.frames(25)
	more := late.Next(nil)
	if len(more) == 0 || isPAT(more[0]) && len(more) == 1 {
		t.Fatalf("%d new chunks", len(more))
	}
	if got := late.Next(nil); len(got) != 0 {
		t.Fatal("chunks returned twice")
	}
	if st := h.Stats(); st.Viewers != 2 || st.Resyncs != 0 || st.Dropped != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestViewerLappedResyncs(t *testing.T) {
	s := newTestStream(8)
	h := NewHub(s.c, Options{})
	v := h.NewViewer()
	v.Start(&testWaker{})
	s.frames(10)
	if len(v.Next(nil)) == 0 {
		t.Fatal("nothing at start")
	}
	s.frames(100) // 20 chunks: the ring (8) laps the viewer
	got := v.Next(nil)
	if len(got) == 0 || !isPAT(got[0]) {
		t.Fatal("lapped viewer did not resume at a key chunk")
	}
	if st := h.Stats(); st.Resyncs != 1 {
		t.Fatalf("resyncs %d, want 1", st.Resyncs)
	}
}

func TestViewerLaggingPolicy(t *testing.T) {
	s := newTestStream(256)
	h := NewHub(s.c, Options{})
	now := time.Unix(1000, 0)
	h.now = func() time.Time { return now }
	v := h.NewViewer()
	v.Start(&testWaker{})
	s.frames(30)
	v.Next(nil)
	s.frames(60) // keyframes at 50 and 75 wait

	if !v.Lagging(1 << 20) {
		t.Fatal("first lag dropped the viewer")
	}
	got := v.Next(nil)
	if len(got) == 0 || !isPAT(got[0]) {
		t.Fatal("no skip to the newest keyframe")
	}
	if st := h.Stats(); st.Resyncs != 1 {
		t.Fatalf("resyncs %d", st.Resyncs)
	}
	// Lags spread out are forgiven; three within the window are not.
	now = now.Add(11 * time.Second)
	if !v.Lagging(1 << 20) {
		t.Fatal("second lag dropped")
	}
	now = now.Add(11 * time.Second)
	if !v.Lagging(1 << 20) {
		t.Fatal("third spread-out lag dropped")
	}
	now = now.Add(time.Second)
	if !v.Lagging(1 << 20) {
		t.Fatal("two lags within the window dropped")
	}
	now = now.Add(time.Second)
	if v.Lagging(1 << 20) {
		t.Fatal("three lags within 10 s kept")
	}
	if st := h.Stats(); st.Dropped != 1 {
		t.Fatalf("dropped %d", st.Dropped)
	}
}

func TestViewerNextIsBounded(t *testing.T) {
	s := newTestStream(4096)
	h := NewHub(s.c, Options{QueueLimit: 1 << 30}) // a backlog it may catch up on
	v := h.NewViewer()
	w := &testWaker{}
	v.Start(w)
	s.frames(6) // a keyframe chunk to start from
	v.Next(nil)
	s.frames(3000)
	before := w.n.Load()
	total := 0
	for _, b := range v.Next(nil) {
		total += len(b)
	}
	if total < maxNextBytes || total > maxNextBytes+64<<10 {
		t.Fatalf("first call returned %d bytes", total)
	}
	if w.n.Load() != before+1 {
		t.Fatal("viewer with more to send did not wake itself")
	}
}

func TestHubRegistry(t *testing.T) {
	s := newTestStream(64)
	h := NewHub(s.c, Options{})
	const n = 1000
	viewers := make([]*Viewer, n)
	wakers := make([]*testWaker, n)
	for i := range viewers {
		viewers[i], wakers[i] = h.NewViewer(), &testWaker{}
		viewers[i].Start(wakers[i])
	}
	for i := 0; i < n; i += 2 {
		viewers[i].Close()
		viewers[i].Close() // idempotent
	}
	if h.Viewers() != n/2 {
		t.Fatalf("%d viewers", h.Viewers())
	}
	base := make([]int64, n)
	for i, w := range wakers {
		base[i] = w.n.Load()
	}
	s.frames(30)
	for i, w := range wakers {
		woken := w.n.Load() > base[i]
		if woken != (i%2 == 1) {
			t.Fatalf("viewer %d (closed=%v) woken=%v", i, i%2 == 0, woken)
		}
	}
	h.Close()
	if h.Viewers() != 0 {
		t.Fatal("viewers after Close")
	}
	viewers[1].Close()
	if h.NewViewer(); h.Viewers() != 0 {
		t.Fatal("viewer registered on a closed hub")
	}
}

// TestHubConcurrent runs the publisher against viewers joining, reading and
// leaving on other goroutines (for -race).
func TestHubConcurrent(t *testing.T) {
	s := newTestStream(32)
	h := NewHub(s.c, Options{})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var dst [][]byte
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				v := h.NewViewer()
				v.Start(&testWaker{})
				for range 5 {
					dst = v.Next(dst[:0])
					for _, b := range dst {
						if b[0] != 0x47 {
							t.Error("chunk not TS")
							return
						}
					}
				}
				if (i+g)%7 == 0 {
					v.Lagging(1)
				}
				v.Close()
			}
		}()
	}
	s.frames(500)
	close(stop)
	wg.Wait()
	if h.Viewers() != 0 {
		t.Fatalf("%d viewers left", h.Viewers())
	}
}

// BenchmarkViewerNext measures a viewer catching up on 1000 pending chunks
// (one op is one Next call returning maxNextChunks of them, taking a
// reference on each and releasing those of the previous call); the cursor
// is rewound between ops.
func BenchmarkViewerNext(b *testing.B) {
	c := mpegts.NewChunker(mpegts.ChunkerOptions{RingSize: 1024, Pool: mpegts.NewPool(16<<20, 0)})
	c.SetTracks([]engine.Track{{Codec: engine.CodecH264}})
	nal := []byte{0x41, 1, 2, 3, 4, 5, 6, 7}
	for i := range 5 * 1001 { // one GOP: the ring's only key chunk is the oldest
		c.WriteFrame(&engine.Frame{DTS: int64(i) * 3600, PTS: int64(i) * 3600, Key: i == 0, Data: [][]byte{nal}})
	}
	h := NewHub(c, Options{})
	v := h.NewViewer()
	v.Start(&testWaker{})
	dst := make([][]byte, 0, 1024)
	chunks := 0
	b.ReportAllocs()
	for b.Loop() {
		v.started, v.hasPos = false, false // back to the oldest (and only) key chunk
		dst = v.Next(dst[:0])
		chunks += len(dst)
	}
	if n := len(dst); n != maxNextChunks {
		b.Fatalf("%d chunks per Next", n)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(chunks), "ns/chunk")
}

func TestViewerNextZeroAllocs(t *testing.T) {
	s := newTestStream(1024)
	h := NewHub(s.c, Options{QueueLimit: 1 << 30})
	v := h.NewViewer()
	v.Start(&testWaker{})
	s.frames(6)
	dst := make([][]byte, 0, 256)
	dst = v.Next(dst[:0])
	s.frames(200) // the held list grows to 40 chunks once
	dst = v.Next(dst[:0])
	// The process-wide count can catch a runtime allocation of its own, so
	// the best of three rounds counts.
	least := uint64(1 << 62)
	for range 3 {
		s.frames(200) // 40 chunks waiting
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		dst = v.Next(dst[:0])
		runtime.ReadMemStats(&after)
		if len(dst) < 39 {
			t.Fatalf("%d chunks", len(dst))
		}
		least = min(least, after.Mallocs-before.Mallocs)
	}
	if least != 0 {
		t.Fatalf("%d allocations", least)
	}
}

// coalescingWaker wakes like netio's connection: a flag set with a
// compare-and-swap; the loop is taken to run at once, so every publish
// finds the flag clear.
type coalescingWaker struct{ pending atomic.Bool }

func (w *coalescingWaker) Wake() {
	if w.pending.Load() || !w.pending.CompareAndSwap(false, true) {
		return
	}
	w.pending.Store(false)
}

// BenchmarkHubPublish measures the publisher's side of one chunk with
// 10,000 viewers (one op is one onChunk: a lag check and a wake for each
// viewer); ns/viewer is the cost each viewer adds to a publish.
func BenchmarkHubPublish(b *testing.B) {
	const viewers = 10000
	s := newTestStream(1024)
	s.frames(30)
	h := NewHub(s.c, Options{})
	for range viewers {
		v := h.NewViewer()
		v.Start(&coalescingWaker{})
		v.Next(nil)
	}
	b.ReportAllocs()
	for b.Loop() {
		h.onChunk(nil)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*viewers), "ns/viewer")
}
