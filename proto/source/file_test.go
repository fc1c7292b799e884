package source

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livedge/livedge/engine"
	"github.com/livedge/livedge/proto/internal/tsclip"
)

// TestFileLoopsInRealTime plays a 1 s synthetic clip (25 fps): it must loop
// (SetTracks again on each loop) and be paced, checked only loosely: it has
// not delivered 2 s more media than the wall time it ran (unpaced, it would
// deliver hundreds of loops), however late the test's sleep wakes up.
func TestFileLoopsInRealTime(t *testing.T) {
	path := writeTemp(t, tsclip.Synth(25, 0, 1))
	src, err := Open(engine.InputConfig{URL: "file://" + path})
	if err != nil {
		t.Fatal(err)
	}
	sink := &recordSink{}
	start := time.Now()
	stop := runSource(t, src, sink)

	time.Sleep(1500 * time.Millisecond)
	c := sink.counts()
	elapsed := time.Since(start)
	if media := time.Duration(c.video) * 40 * time.Millisecond; media >= elapsed+2*time.Second {
		t.Errorf("%v of media after %v: not paced", media, elapsed)
	}
	if c.video == 0 {
		t.Error("no frames")
	}
	if !waitFor(10*time.Second, func() bool { return sink.counts().setTracks >= 3 }) {
		t.Errorf("SetTracks called %d times, want a new call on each loop", sink.counts().setTracks)
	}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run after cancel: %v", err)
	}
}

func TestFileFFmpegClip(t *testing.T) {
	path := testClip(t, "1")
	src, err := Open(engine.InputConfig{URL: "file://" + path})
	if err != nil {
		t.Fatal(err)
	}
	sink := &recordSink{}
	stop := runSource(t, src, sink)
	if !waitFor(10*time.Second, func() bool { c := sink.counts(); return c.video >= 10 && c.audio >= 10 }) {
		t.Fatalf("frames: %+v", sink.counts())
	}
	if c := sink.counts(); len(c.codecs) != 2 || !c.firstKey {
		t.Errorf("tracks %v, first key %v", c.codecs, c.firstKey)
	}
	stop()
}

func TestFileErrors(t *testing.T) {
	src, err := Open(engine.InputConfig{URL: "file://" + filepath.Join(t.TempDir(), "missing.ts")})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Run(context.Background(), &recordSink{}); err == nil || !strings.Contains(err.Error(), "missing.ts") {
		t.Errorf("Run on a missing file: %v", err)
	}

	// A file without media must fail, not loop for ever.
	src, err = Open(engine.InputConfig{URL: "file://" + writeTemp(t, []byte(strings.Repeat("not a transport stream", 100)))})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Run(context.Background(), &recordSink{}); err == nil || !strings.Contains(err.Error(), "no H.264") {
		t.Errorf("Run on a file without media: %v", err)
	}
}

// TestPacerJumps: timestamps that jump inside a file neither stall nor
// burst the pacer.
func TestPacerJumps(t *testing.T) {
	sink := &recordSink{}
	sink.SetTracks([]engine.Track{{Codec: engine.CodecH264}})
	p := newPacer(context.Background(), sink)
	defer p.stop()
	p.restart()
	for _, dts := range []int64{0, 3600, 1 << 40, (1 << 40) + 3600, 5, -(1 << 50), 1 << 62} {
		done := make(chan struct{})
		go func() {
			p.WriteFrame(&engine.Frame{DTS: dts, PTS: dts, Key: true, Data: [][]byte{{1}}})
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("frame at DTS %d held back", dts)
		}
	}
	if c := sink.counts(); c.video != 7 {
		t.Errorf("%d frames delivered, want 7", c.video)
	}
}
