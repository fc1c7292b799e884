package engine

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Backoff bounds for retrying a failing input.
const (
	retryMin = 200 * time.Millisecond
	retryMax = 3 * time.Second
	// watchdogTick is how often a running source is checked for silence.
	watchdogTick = 250 * time.Millisecond
)

// supervise is the stream's writer: it runs the inputs in order, retrying a
// failing one with backoff and moving to the next after its source_timeout
// without frames, until ctx ends.
func (s *Stream) supervise(ctx context.Context) {
	defer close(s.done)
	defer s.packager.Close()
	sink := &timelineSink{stream: s}
	idx := 0
	lastGood := time.Now() // last frame, or when the current input was chosen
	backoff := retryMin
	runs := 0
	for ctx.Err() == nil {
		in := s.cfg.Inputs[idx]
		s.input.Store(int32(idx))
		if runs > 0 {
			s.restarts.Add(1)
		}
		runs++
		got, err := s.runInput(ctx, sink, in)
		if ctx.Err() != nil {
			return
		}
		if got {
			lastGood = time.Now()
			backoff = retryMin
		}
		silent := time.Since(lastGood)
		if silent >= in.Timeout() && len(s.cfg.Inputs) > 1 {
			next := (idx + 1) % len(s.cfg.Inputs)
			s.log.Warn("input failed over", "input", RedactURL(in.URL), "next", RedactURL(s.cfg.Inputs[next].URL), "silent", silent.Round(time.Millisecond), "err", err)
			idx, lastGood, backoff = next, time.Now(), retryMin
			continue
		}
		s.log.Warn("input failed, retrying", "input", RedactURL(in.URL), "in", backoff, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, retryMax)
	}
}

var errSilent = errors.New("no frames within source_timeout")

// runInput runs one source until it fails, goes silent for its timeout, or
// ctx ends. got reports whether any frame arrived.
func (s *Stream) runInput(ctx context.Context, sink *timelineSink, in InputConfig) (got bool, err error) {
	src, err := s.open(in)
	if err != nil {
		return false, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	gen := sink.begin()
	result := make(chan error, 1)
	go func() { result <- src.Run(runCtx, sinkFor{sink, gen}) }()

	start := time.Now()
	tick := time.NewTicker(watchdogTick)
	defer tick.Stop()
	var lastBytes uint64
	lastRate := start
	for {
		select {
		case err = <-result:
			sink.end(gen)
			return sink.framesIn(gen) > 0, err
		case now := <-tick.C:
			if d := now.Sub(lastRate); d >= time.Second {
				b := s.bytesIn.Load()
				s.bitrate.Store(uint64(float64(b-lastBytes) * 8 / d.Seconds()))
				lastBytes, lastRate = b, now
			}
			last := sink.lastFrame(gen)
			if last.IsZero() {
				last = start
			}
			if now.Sub(last) >= in.Timeout() {
				got = sink.framesIn(gen) > 0
				cancel()
				sink.end(gen) // frames from the abandoned source are dropped from now on
				select {
				case <-result:
				case <-time.After(2 * time.Second):
					s.log.Error("source ignored cancellation", "input", RedactURL(in.URL))
				}
				return got, errSilent
			}
		}
	}
}

// timelineSink is the stream's single entry point for frames. It makes the
// output timeline continuous: each source run, and every jump inside a run
// (a looping file, a restarted encoder), is re-anchored after the last
// frame written, and the packager is told of the discontinuity.
type timelineSink struct {
	stream *Stream

	mu       sync.Mutex
	gen      uint64
	frames   uint64
	last     time.Time
	tracks   []Track
	anchored bool
	offset   int64
	lastDTS  []int64 // per track, output timeline
	lastStep []int64 // per track, DTS distance of the last two frames
	maxDTS   int64
	any      bool
	hasVideo bool
}

// Timeline jump tolerances: a DTS this far before a track's previous one, or
// this far after, is a jump of the source's clock, not a late frame.
const (
	jumpBack    = 1 * Timescale
	jumpForward = 10 * Timescale
	// anchorGap is the spacing put between the last frame before a jump and
	// the first after it (one 25 fps frame).
	anchorGap = Timescale / 25
)

func (t *timelineSink) begin() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.gen++
	t.frames = 0
	t.last = time.Time{}
	t.anchored = false
	return t.gen
}

func (t *timelineSink) end(gen uint64) {
	t.mu.Lock()
	if t.gen == gen {
		t.gen++
	}
	t.mu.Unlock()
}

func (t *timelineSink) framesIn(gen uint64) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.gen != gen && t.gen != gen+1 {
		return 0
	}
	return t.frames
}

func (t *timelineSink) lastFrame(gen uint64) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.gen != gen {
		return time.Time{}
	}
	return t.last
}

func (t *timelineSink) setTracks(gen uint64, tracks []Track) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.gen != gen {
		return
	}
	if !SameTracks(t.tracks, tracks) {
		t.tracks = append([]Track(nil), tracks...)
		t.lastDTS = make([]int64, len(tracks))
		t.lastStep = make([]int64, len(tracks))
		t.anchored = false
		t.hasVideo = false
		for _, tr := range tracks {
			t.hasVideo = t.hasVideo || tr.Codec.IsVideo()
		}
		t.stream.packager.SetTracks(t.tracks)
	}
}

func (t *timelineSink) writeFrame(gen uint64, f *Frame) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.gen != gen || f.Track < 0 || f.Track >= len(t.tracks) {
		return
	}
	s := t.stream
	if t.anchored {
		out := f.DTS + t.offset
		if out < t.lastDTS[f.Track]-jumpBack || out > t.maxDTS+jumpForward {
			t.anchored = false
		}
	}
	if !t.anchored {
		if t.any {
			t.offset = t.maxDTS + anchorGap - f.DTS
			s.packager.Discontinuity()
		} else {
			t.offset = 0
		}
		for i := range t.lastDTS {
			t.lastDTS[i] = f.DTS + t.offset - 1
			t.lastStep[i] = 0
		}
		t.anchored = true
	}
	f.DTS += t.offset
	f.PTS += t.offset
	step := f.DTS - t.lastDTS[f.Track]
	if last := t.lastStep[f.Track]; step <= 0 || step < last/2 {
		// A frame that repeats or overlaps the previous one: a source
		// looping or splicing. Players would see time stand still.
		if !t.tracks[f.Track].Codec.IsVideo() {
			return // audio can lose a frame unnoticed
		}
		// Video cannot (later frames refer to it): move the whole timeline
		// forward instead, so that this frame comes one frame step after
		// the previous one (by at most jumpBack plus a frame).
		shift := t.lastDTS[f.Track] + max(last, 1) - f.DTS
		t.offset += shift
		f.DTS += shift
		f.PTS += shift
		step = f.DTS - t.lastDTS[f.Track]
	}
	t.lastDTS[f.Track] = f.DTS
	t.lastStep[f.Track] = step
	if f.DTS > t.maxDTS || !t.any {
		t.maxDTS = f.DTS
	}
	t.any = true
	now := time.Now()
	t.frames++
	t.last = now
	s.lastFrameNs.Store(now.UnixNano())
	s.bytesIn.Add(uint64(f.Size()))
	gopStart := f.Key && (t.tracks[f.Track].Codec.IsVideo() || !t.hasVideo)
	s.frames.Push(f, gopStart)
	s.packager.WriteFrame(f)
	if gopStart {
		s.readyOnce.Do(func() { close(s.ready) })
	}
}

// SameTracks tells whether two track lists describe the same streams.
func SameTracks(a, b []Track) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Codec != b[i].Codec || string(a[i].Config) != string(b[i].Config) {
			return false
		}
	}
	return true
}

// sinkFor is the Sink one source run writes to; frames from a run the
// supervisor has given up on are dropped.
type sinkFor struct {
	t   *timelineSink
	gen uint64
}

func (k sinkFor) SetTracks(tracks []Track) { k.t.setTracks(k.gen, tracks) }
func (k sinkFor) WriteFrame(f *Frame)      { k.t.writeFrame(k.gen, f) }
