package testsrc

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/livedge/livedge/engine"
)

// recordSink keeps what a source hands over.
type recordSink struct {
	mu        sync.Mutex
	tracks    []engine.Track
	setTracks int
	frames    []*engine.Frame
	got       chan struct{} // closed after enough frames
	want      int
}

func (s *recordSink) SetTracks(t []engine.Track) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tracks = t
	s.setTracks++
}

func (s *recordSink) WriteFrame(f *engine.Frame) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.setTracks == 0 {
		panic("frame before SetTracks")
	}
	s.frames = append(s.frames, f)
	if len(s.frames) == s.want {
		close(s.got)
	}
}

func TestRun(t *testing.T) {
	src, err := Open(engine.InputConfig{URL: "testsrc://?size=320x176&fps=50&gop=0.5"})
	if err != nil {
		t.Fatal(err)
	}
	// 40 frames are about 0.3 s of video and audio.
	sink := &recordSink{got: make(chan struct{}), want: 40}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, sink) }()
	select {
	case <-sink.got:
	case <-time.After(10 * time.Second):
		t.Fatal("no frames within 10 s")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}

	sink.mu.Lock()
	defer sink.mu.Unlock()
	if sink.setTracks != 1 || len(sink.tracks) != 2 {
		t.Fatalf("SetTracks %d times, tracks %+v", sink.setTracks, sink.tracks)
	}
	if f := sink.frames[0]; f.Track != trackVideo || !f.Key || f.DTS != tsBase {
		t.Fatalf("first frame %+v", f)
	}
	last := map[int]int64{}
	for _, f := range sink.frames {
		if prev, ok := last[f.Track]; ok && f.DTS <= prev {
			t.Fatalf("track %d: dts %d after %d", f.Track, f.DTS, prev)
		}
		last[f.Track] = f.DTS
	}
}

func TestRunCancelled(t *testing.T) {
	src, err := Open(engine.InputConfig{URL: "testsrc://?audio=0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sink := &recordSink{got: make(chan struct{}), want: -1}
	if err := src.Run(ctx, sink); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(sink.tracks) != 1 || sink.tracks[0].Codec != engine.CodecH264 {
		t.Fatalf("tracks %+v", sink.tracks)
	}
}

func TestTickTime(t *testing.T) {
	for _, tc := range []struct {
		n, rate int64
		want    time.Duration
	}{{0, 25, 0}, {1, 25, 40 * time.Millisecond}, {30, 30, time.Second}, {7, 28, 250 * time.Millisecond},
		{1 << 32, 50, 85899345*time.Second + 920*time.Millisecond}} {
		if got := tickTime(tc.n, tc.rate); got != tc.want {
			t.Errorf("tickTime(%d, %d) = %v, want %v", tc.n, tc.rate, got, tc.want)
		}
	}
}
