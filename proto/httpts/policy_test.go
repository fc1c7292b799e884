package httpts

import (
	"bytes"
	"hash/crc32"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livedge/livedge/engine"
	"github.com/livedge/livedge/proto/mpegts"
)

// policyTest is a stream with big enough frames that one GOP (25 frames)
// is over MinQueueLimit, and a record of every byte published.
type policyTest struct {
	*testStream
	hub       *Hub
	published []byte
}

func newPolicyTest(t *testing.T, ring int, opts Options) *policyTest {
	t.Helper()
	s := newTestStream(ring)
	s.video = 8000
	p := &policyTest{testStream: s}
	s.c.Subscribe(func(ch *mpegts.Chunk) { p.published = append(p.published, ch.Data...) })
	p.hub = NewHub(s.c, opts)
	p.hub.now = func() time.Time { return time.Unix(1000, 0) }
	return p
}

// onTime is a viewer whose connection takes everything at once.
type onTime struct {
	v   *Viewer
	got []byte
}

func (o *onTime) pull() {
	for _, b := range o.v.Next(nil) {
		o.got = append(o.got, b...)
	}
}

// feed writes n frames one at a time, the on-time viewers reading after
// each.
func (p *policyTest) feed(n int, viewers ...*onTime) {
	for range n {
		p.frames(1)
		for _, o := range viewers {
			o.pull()
		}
	}
}

// checkOnTime: the viewer got every byte from the key chunk it started at
// to the newest, in order.
func (p *policyTest) checkOnTime(t *testing.T, o *onTime) {
	t.Helper()
	if len(o.got) == 0 || !isPAT(o.got) || !bytes.HasSuffix(p.published, o.got) {
		t.Fatalf("on-time viewer got %d bytes that are not the stream's last %d", len(o.got), len(o.got))
	}
	if o.v.Ended() {
		t.Fatal("on-time viewer ended")
	}
}

func (p *policyTest) viewer() *Viewer {
	v := p.hub.NewViewer()
	v.Start(&testWaker{})
	return v
}

func TestStalledViewerResynced(t *testing.T) {
	p := newPolicyTest(t, 256, Options{})
	p.frames(6) // the first chunk is out
	a, b := &onTime{v: p.viewer()}, &onTime{v: p.viewer()}
	brief := &onTime{v: p.viewer()}
	stalled := p.viewer()
	stalled.Next(nil)
	p.feed(60, a, b, brief) // past the second keyframe: the GOP is measured
	gop := p.c.GOPBytes()
	if gop <= MinQueueLimit || p.hub.Stats().QueueLimit != gop {
		t.Fatalf("GOP %d bytes, limit %d", gop, p.hub.Stats().QueueLimit)
	}

	// Less than a GOP behind: the viewer just catches up.
	before := len(p.published)
	p.feed(12, a, b)
	var caught []byte
	for _, x := range brief.v.Next(nil) {
		caught = append(caught, x...)
	}
	if !bytes.Equal(caught, p.published[before:]) {
		t.Fatalf("a viewer half a GOP late got %d bytes, want the %d it missed", len(caught), len(p.published)-before)
	}

	// Two GOPs behind: the stalled viewer jumps to the newest keyframe.
	p.feed(50, a, b, brief)
	got := stalled.Next(nil)
	k, _ := p.c.LastKey()
	if len(got) == 0 || !isPAT(got[0]) || got[0][0] != 0x47 {
		t.Fatal("stalled viewer did not resume at a keyframe")
	}
	if n := len(got); uint64(n) != p.c.Head()-k {
		t.Fatalf("stalled viewer got %d chunks, want the %d since the newest keyframe", n, p.c.Head()-k)
	}
	if st := p.hub.Stats(); st.Resyncs != 1 || st.Dropped != 0 || stalled.Ended() {
		t.Fatalf("stats %+v", st)
	}
	p.checkOnTime(t, a)
	p.checkOnTime(t, b)

	// Resynced three times within lagWindow: dropped.
	p.feed(50, a, b, brief)
	stalled.Next(nil)
	p.feed(50, a, b, brief)
	if got := stalled.Next(nil); len(got) != 0 || !stalled.Ended() || !stalled.Dropped() {
		t.Fatal("viewer resynced 3 times in a row kept")
	}
	if st := p.hub.Stats(); st.Resyncs != 2 || st.Dropped != 1 {
		t.Fatalf("stats %+v", st)
	}
	p.feed(10, a, b, brief)
	p.checkOnTime(t, a)
	p.checkOnTime(t, b)
	if brief.v.Ended() {
		t.Fatal("on-time viewer ended")
	}
}

// TestLagsCountedWithinWindow: only lagLimit lags within lagWindow drop a
// viewer under PolicyResync; lags spread wider are resyncs each time.
func TestLagsCountedWithinWindow(t *testing.T) {
	p := newPolicyTest(t, 256, Options{})
	clock := time.Unix(1000, 0)
	p.hub.now = func() time.Time { return clock }
	p.frames(6)
	a := &onTime{v: p.viewer()}
	slow := p.viewer()
	slow.Next(nil)
	lag := func(after time.Duration) {
		clock = clock.Add(after)
		p.feed(50, a) // two GOPs: over the limit
		slow.Next(nil)
	}
	lag(0)
	lag(6 * time.Second)
	lag(6 * time.Second) // the third lag, 12 s after the first
	if st := p.hub.Stats(); st.Resyncs != 3 || st.Dropped != 0 || slow.Ended() {
		t.Fatalf("three lags over 12 s: stats %+v, ended %v", st, slow.Ended())
	}
	lag(time.Second) // the third within 7 s
	if st := p.hub.Stats(); st.Resyncs != 3 || st.Dropped != 1 || !slow.Dropped() {
		t.Fatalf("three lags within 7 s: stats %+v, dropped %v", st, slow.Dropped())
	}
	p.checkOnTime(t, a)
}

func TestStalledViewerDropped(t *testing.T) {
	p := newPolicyTest(t, 256, Options{Policy: PolicyDrop})
	p.frames(6) // the first chunk is out
	a := &onTime{v: p.viewer()}
	stalled := p.viewer()
	stalled.Next(nil)
	p.feed(80, a)
	if got := stalled.Next(nil); len(got) != 0 || !stalled.Ended() || !stalled.Dropped() {
		t.Fatal("stalled viewer not dropped")
	}
	if got := stalled.Next(nil); len(got) != 0 {
		t.Fatal("dropped viewer handed bytes")
	}
	if st := p.hub.Stats(); st.Dropped != 1 || st.Resyncs != 0 {
		t.Fatalf("stats %+v", st)
	}
	p.feed(20, a)
	p.checkOnTime(t, a)
	// The connection's own queue limit (Lagging) drops it too.
	b := p.viewer()
	b.Next(nil)
	if b.Lagging(1 << 20) {
		t.Fatal("lagging viewer kept under PolicyDrop")
	}
}

func TestQueueLimitOption(t *testing.T) {
	// A limit of 1 MiB lets a viewer two GOPs behind catch up in full.
	p := newPolicyTest(t, 256, Options{QueueLimit: 1 << 20})
	p.frames(6) // the first chunk is out
	v := p.viewer()
	v.Next(nil)
	before := len(p.published)
	p.feed(50, &onTime{v: p.viewer()})
	var got []byte
	for len(got) < len(p.published)-before {
		bufs := v.Next(nil)
		if len(bufs) == 0 {
			break
		}
		for _, b := range bufs {
			got = append(got, b...)
		}
	}
	if !bytes.Equal(got, p.published[before:]) || p.hub.Stats().Resyncs != 0 {
		t.Fatalf("viewer under a 1 MiB limit got %d bytes of %d; %+v", len(got), len(p.published)-before, p.hub.Stats())
	}
	if p.hub.Stats().QueueLimit != 1<<20 {
		t.Fatal("configured limit not in force")
	}
	// A limit below MinQueueLimit would resync viewers one chunk late.
	if q := NewHub(p.c, Options{QueueLimit: 1000}).QueueLimit(); q != MinQueueLimit {
		t.Fatalf("limit %d", q)
	}
}

// TestViewerHoldsWhatItHandedOut: the buffers of the last Next stay intact
// however far the stream moves on (the connection may still be writing
// them), and every byte of pool memory is back once viewers and stream are
// closed.
func TestViewerHoldsWhatItHandedOut(t *testing.T) {
	p := newPolicyTest(t, 16, Options{})
	p.frames(6) // the first chunk is out
	v := p.viewer()
	p.frames(10)
	bufs := v.Next(nil)
	want := bytes.Join(bufs, nil)
	p.frames(300) // the ring (16) is lapped many times over
	if !bytes.Equal(bytes.Join(bufs, nil), want) {
		t.Fatal("handed-out buffers changed before the next Next")
	}
	if got := v.Next(nil); len(got) == 0 || !isPAT(got[0]) {
		t.Fatal("lapped viewer did not resume at a keyframe")
	}
	v.Close()
	p.hub.Close()
	p.c.Close()
	if st := p.pool.Stats(); st.InUse != 0 || st.HeapInUse != 0 {
		t.Fatalf("memory kept: %+v", st)
	}
}

func TestParsePolicy(t *testing.T) {
	for s, want := range map[string]Policy{"": PolicyResync, "resync": PolicyResync, "drop": PolicyDrop} {
		if got, err := ParsePolicy(s); err != nil || got != want {
			t.Fatalf("%q: %v %v", s, got, err)
		}
	}
	if _, err := ParsePolicy("close"); err == nil {
		t.Fatal("unknown policy accepted")
	}
	if PolicyDrop.String() != "drop" || PolicyResync.String() != "resync" {
		t.Fatal("policy names")
	}
}

// TestJoiningViewerCatchesUp: a viewer starts at the newest keyframe, up to
// a GOP behind, and may be over its limit while it catches up inside that
// GOP: no keyframe ahead to skip to, so no resync and no drop.
func TestJoiningViewerCatchesUp(t *testing.T) {
	p := newPolicyTest(t, 256, Options{QueueLimit: MinQueueLimit, Policy: PolicyDrop})
	p.video = 30000 // a GOP of about 750 KB
	p.frames(49)    // the second GOP is 24 frames in
	start, _ := p.c.LastKeyPos()
	v := p.viewer()
	var got []byte
	for range 10 {
		for _, b := range v.Next(nil) {
			got = append(got, b...)
		}
	}
	if !bytes.Equal(got, p.published[start:]) || v.Ended() {
		t.Fatalf("joining viewer got %d bytes of %d (ended %v)", len(got), len(p.published)-int(start), v.Ended())
	}
	if st := p.hub.Stats(); st.Dropped != 0 || st.Resyncs != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestViewersRace runs viewers that read on time, stall now and then, or
// stall for good against a publisher on a tiny pool (for -race): every
// batch stays intact until the viewer's next Next, stalled viewers are
// resynced or dropped by the publisher's check, and all memory returns.
func TestViewersRace(t *testing.T) {
	for _, policy := range []Policy{PolicyResync, PolicyDrop} {
		pool := mpegts.NewPool(8*32<<10, 32<<10)
		c := mpegts.NewChunker(mpegts.ChunkerOptions{RingSize: 32, Pool: pool, MaxChunkBytes: 8 << 10})
		s := &testStream{c: c, pool: pool, video: 3000}
		c.SetTracks([]engine.Track{{Codec: engine.CodecH264}, {Codec: engine.CodecAAC, Config: []byte{0x11, 0x90}}})
		h := NewHub(c, Options{Policy: policy})
		s.frames(6)
		var wg sync.WaitGroup
		var stop atomic.Bool
		for g := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v := h.NewViewer()
				v.Start(&testWaker{})
				defer v.Close()
				var dst [][]byte
				for i := 0; !stop.Load(); i++ {
					dst = v.Next(dst[:0])
					sum := crc32.NewIEEE()
					for _, b := range dst {
						if len(b) == 0 || b[0] != 0x47 {
							t.Error("not TS")
							return
						}
						_, _ = sum.Write(b)
					}
					// Viewer g stalls every g-th turn for a while; the last
					// one for good after a few turns.
					pause := 1
					if g > 0 && i%(g+1) == 0 {
						pause = 200 * g
					}
					if g == 5 && i > 3 {
						pause = 1 << 30
					}
					for range pause {
						if stop.Load() {
							break
						}
						runtime.Gosched()
					}
					again := crc32.NewIEEE()
					for _, b := range dst {
						_, _ = again.Write(b)
					}
					if sum.Sum32() != again.Sum32() {
						t.Error("batch changed before the next Next")
						return
					}
					if v.Ended() {
						return
					}
				}
			}()
		}
		for range 1500 {
			s.frames(1)
			runtime.Gosched()
		}
		stop.Store(true)
		wg.Wait()
		st := h.Stats()
		if st.Resyncs+st.Dropped == 0 {
			t.Errorf("%v: no viewer lagged: %+v", policy, st)
		}
		h.Close()
		c.Close()
		if ps := pool.Stats(); ps.InUse != 0 || ps.HeapInUse != 0 {
			t.Fatalf("%v: memory kept: %+v", policy, ps)
		}
		t.Logf("%v: %+v, pool %+v", policy, st, pool.Stats())
	}
}

// FuzzParsePolicy: no panics; an accepted name round-trips through String.
func FuzzParsePolicy(f *testing.F) {
	for _, s := range []string{"", "resync", "drop", "Drop", "resync ", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePolicy(s)
		if err != nil {
			return
		}
		if q, err := ParsePolicy(p.String()); err != nil || q != p {
			t.Fatalf("%q -> %v does not round-trip", s, p)
		}
	})
}
