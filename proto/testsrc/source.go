package testsrc

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/livedge/livedge/engine"
)

// maxLag is how far a run may fall behind the wall clock (a stalled process)
// before it skips ahead instead of sending the missed frames in a burst.
const maxLag = time.Second

// source is an opened testsrc:// input; each Run is a new stream from frame 0.
type source struct {
	p  params
	sc *scene
}

// Open parses a testsrc:// URL and prepares the stream's shared parts.
func Open(in engine.InputConfig) (engine.Source, error) {
	p, err := parseURL(in.URL)
	if err != nil {
		return nil, fmt.Errorf("testsrc %s: %w", in.URL, err)
	}
	sc := sceneFor(sceneKey{width: p.width, height: p.height, fps: p.fps, gopFrames: p.gopFrames(), bitrate: p.bitrate})
	return &source{p: p, sc: sc}, nil
}

// Run sends frames paced by the wall clock until ctx ends. Frames are sent on
// ticks at least 25 times a second, each tick sending the frames due by then.
func (s *source) Run(ctx context.Context, sink engine.Sink) error {
	start := time.Now()
	g := newGenerator(s.sc, s.p.audio, start)
	sink.SetTracks(g.tracks())
	slog.Debug("testsrc started", "size", fmt.Sprintf("%dx%d", s.p.width, s.p.height), "fps", s.p.fps,
		"gop_frames", s.p.gopFrames(), "bitrate", s.p.bitrate, "audio", s.p.audio)

	fps := int64(s.p.fps)
	tickRate := fps * ((25 + fps - 1) / fps) // ticks per second, a multiple of fps
	timer := time.NewTimer(0)
	defer timer.Stop()
	for tick := int64(0); ; tick++ {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		// Frames up to this tick's time: offset/90000 <= tick/tickRate.
		for g.nextOffset()*tickRate <= tick*engine.Timescale {
			sink.WriteFrame(g.nextFrame())
		}
		wait := time.Until(start.Add(tickTime(tick+1, tickRate)))
		if wait < -maxLag {
			slog.Debug("testsrc fell behind the clock, skipping ahead", "behind", -wait)
			start = start.Add(-wait)
			g.clockOrigin = g.clockOrigin.Add(-wait)
			wait = 0
		}
		timer.Reset(wait)
	}
}

// tickTime is the time of tick n since the start.
func tickTime(n, rate int64) time.Duration {
	return time.Duration(n/rate)*time.Second + time.Duration(n%rate)*time.Second/time.Duration(rate)
}
