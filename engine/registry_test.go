package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeSource emits a keyframe video track at 25 fps until ctx ends, or fails
// at once when its URL says so.
type fakeSource struct {
	url     string
	baseDTS int64
}

func (f fakeSource) Run(ctx context.Context, sink Sink) error {
	if strings.Contains(f.url, "dead") {
		<-ctx.Done() // connected but silent
		return ctx.Err()
	}
	if strings.Contains(f.url, "fail") {
		return errors.New("connection refused")
	}
	sink.SetTracks([]Track{{Codec: CodecH264}})
	dts := f.baseDTS
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		sink.WriteFrame(&Frame{Track: 0, DTS: dts, PTS: dts, Key: i%25 == 0, Data: [][]byte{[]byte(f.url)}})
		dts += 3600
	}
}

type recorder struct {
	mu     sync.Mutex
	frames []Frame
	discon int
	closed atomic.Bool
}

func (r *recorder) SetTracks([]Track) {}
func (r *recorder) WriteFrame(f *Frame) {
	r.mu.Lock()
	r.frames = append(r.frames, *f)
	r.mu.Unlock()
}
func (r *recorder) Discontinuity() { r.mu.Lock(); r.discon++; r.mu.Unlock() }
func (r *recorder) Close()         { r.closed.Store(true) }

func (r *recorder) last() (Frame, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.frames) == 0 {
		return Frame{}, false
	}
	return r.frames[len(r.frames)-1], true
}

func newTestRegistry(t *testing.T, idle time.Duration) (*Registry, *sync.Map) {
	recs := &sync.Map{}
	r := NewRegistry(RegistryOptions{
		Open: func(in InputConfig) (Source, error) {
			if strings.HasPrefix(in.URL, "bad") {
				return nil, fmt.Errorf("bad url %q", in.URL)
			}
			return fakeSource{url: in.URL, baseDTS: 1 << 32}, nil
		},
		Packager: func(s *Stream) Packager {
			rec := &recorder{}
			recs.Store(s, rec)
			return rec
		},
		IdleStop: idle,
	})
	t.Cleanup(r.Close)
	return r, recs
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestFailoverToSecondInput(t *testing.T) {
	r, recs := newTestRegistry(t, time.Minute)
	r.Apply([]StreamConfig{{Name: "a", Static: true, Inputs: []InputConfig{
		{URL: "fake://dead", SourceTimeout: 1}, {URL: "fake://second"},
	}}})
	s, ok := r.Get("a")
	if !ok {
		t.Fatal("static stream not started")
	}
	v, _ := recs.Load(s)
	rec := v.(*recorder)
	waitFor(t, "frames from the second input", func() bool {
		f, ok := rec.last()
		return ok && string(f.Data[0]) == "fake://second"
	})
	if st := s.Status(); st.InputIndex != 1 || !st.Alive {
		t.Fatalf("status %+v, want input 1 alive", st)
	}
}

func TestFailingInputRetriedThenFailsOver(t *testing.T) {
	r, recs := newTestRegistry(t, time.Minute)
	r.Apply([]StreamConfig{{Name: "a", Static: true, Inputs: []InputConfig{
		{URL: "fake://fail", SourceTimeout: 1}, {URL: "bad://x", SourceTimeout: 1}, {URL: "fake://third"},
	}}})
	s, _ := r.Get("a")
	v, _ := recs.Load(s)
	waitFor(t, "third input", func() bool {
		f, ok := v.(*recorder).last()
		return ok && string(f.Data[0]) == "fake://third"
	})
	if s.Status().Restarts == 0 {
		t.Fatal("restarts not counted")
	}
}

func TestTimelineContinuousAcrossRestart(t *testing.T) {
	r, recs := newTestRegistry(t, time.Minute)
	r.Apply([]StreamConfig{{Name: "a", Static: true, Inputs: []InputConfig{{URL: "fake://x"}}}})
	s, _ := r.Get("a")
	v, _ := recs.Load(s)
	rec := v.(*recorder)
	waitFor(t, "frames", func() bool { _, ok := rec.last(); return ok })
	// Jump the source clock back, as a looping file or restarted encoder does.
	sink := &timelineSink{stream: &Stream{packager: rec, frames: NewRing[Frame](16), ready: make(chan struct{})}}
	gen := sink.begin()
	sink.setTracks(gen, []Track{{Codec: CodecH264}})
	var outs []int64
	for _, dts := range []int64{1000000, 1003600, 1007200, 100, 3700, 900000000} {
		f := &Frame{DTS: dts, PTS: dts, Key: true}
		sink.writeFrame(gen, f)
		outs = append(outs, f.DTS)
	}
	for i := 1; i < len(outs); i++ {
		if outs[i] <= outs[i-1] || outs[i]-outs[i-1] > 2*3600 {
			t.Fatalf("timeline not continuous: %v", outs)
		}
	}
}

func TestOnDemandStartsAndStopsWhenIdle(t *testing.T) {
	r, _ := newTestRegistry(t, 300*time.Millisecond)
	r.Apply([]StreamConfig{{Name: "od", Inputs: []InputConfig{{URL: "fake://x"}}}})
	if _, ok := r.Get("od"); ok {
		t.Fatal("on-demand stream started without a viewer")
	}
	s, err := r.Acquire("od")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("on-demand stream never became ready")
	}
	s.AddViewer(1)
	time.Sleep(1500 * time.Millisecond)
	if _, ok := r.Get("od"); !ok {
		t.Fatal("stream stopped while watched")
	}
	s.AddViewer(-1)
	waitFor(t, "idle stop", func() bool { _, ok := r.Get("od"); return !ok })
	if _, err := r.Acquire("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown stream: %v", err)
	}
}

func TestApplyRestartsOnlyChanged(t *testing.T) {
	r, _ := newTestRegistry(t, time.Minute)
	in := []InputConfig{{URL: "fake://x"}}
	res := r.Apply([]StreamConfig{{Name: "a", Static: true, Inputs: in}, {Name: "b", Static: true, Inputs: in}, {Name: "c", Static: true, Inputs: in}})
	if len(res.Started) != 3 {
		t.Fatalf("started %v", res.Started)
	}
	a0, _ := r.Get("a")
	res = r.Apply([]StreamConfig{{Name: "a", Static: true, Inputs: in}, {Name: "b", Static: true, Inputs: []InputConfig{{URL: "fake://y"}}}})
	if fmt.Sprint(res.Restarted) != "[b]" || fmt.Sprint(res.Stopped) != "[c]" || len(res.Started) != 0 {
		t.Fatalf("result %+v", res)
	}
	if a1, _ := r.Get("a"); a1 != a0 {
		t.Fatal("unchanged stream restarted")
	}
}

func TestRingResyncsLappedReader(t *testing.T) {
	ring := NewRing[int](8)
	c := ring.NewCursor()
	vals := make([]int, 40)
	for i := range vals {
		vals[i] = i
	}
	ring.Push(&vals[0], true)
	if v, _ := c.Next(); v == nil || *v != 0 {
		t.Fatalf("first read %v", v)
	}
	for i := 1; i < 30; i++ {
		ring.Push(&vals[i], i%5 == 0)
	}
	v, resynced := c.Next()
	if !resynced || v == nil || *v != 25 {
		t.Fatalf("lapped reader got %v resynced=%v, want 25 after resync", v, resynced)
	}
}

func TestRestartOneStream(t *testing.T) {
	r, _ := newTestRegistry(t, time.Minute)
	in := []InputConfig{{URL: "fake://x"}}
	r.Apply([]StreamConfig{{Name: "st", Static: true, Inputs: in}, {Name: "od", Inputs: in}, {Name: "other", Static: true, Inputs: in}})
	st0, _ := r.Get("st")
	other0, _ := r.Get("other")
	od0, err := r.Acquire("od")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Restart("st") || !r.Restart("od") {
		t.Fatal("Restart of a configured stream reported false")
	}
	if r.Restart("nope") {
		t.Fatal("Restart of an unknown stream reported true")
	}
	select {
	case <-st0.Done():
	default:
		t.Fatal("the restarted static stream's old run did not stop")
	}
	if st1, ok := r.Get("st"); !ok || st1 == st0 {
		t.Fatal("the static stream did not start again")
	}
	if _, ok := r.Get("od"); ok {
		t.Fatal("the on-demand stream started again without a viewer")
	}
	select {
	case <-od0.Done():
	default:
		t.Fatal("the on-demand stream's run did not stop")
	}
	if o, _ := r.Get("other"); o != other0 {
		t.Fatal("another stream was restarted")
	}
}
