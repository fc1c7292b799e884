package source

import (
	"context"
	"time"

	"github.com/livedge/livedge/engine"
)

const (
	// pacerLoopGap separates the last frame of a loop from the first of the
	// next, so that even a one-frame file plays at a bounded rate.
	pacerLoopGap = 40 * time.Millisecond
	// A frame due further ahead or behind than this is a timestamp jump
	// inside the file (or a stalled sink), not something to wait for or to
	// catch up with in a burst: pacing starts again from it.
	pacerMaxLead = 5 * time.Second
	pacerMaxLag  = 5 * time.Second
	// pacerMaxSpan keeps the tick to nanosecond conversion from overflowing.
	pacerMaxSpan = 24 * 3600 * engine.Timescale
)

// pacer is a sink wrapper that holds each frame back until the wall clock
// reaches its DTS, counted from the first frame of the current loop.
type pacer struct {
	ctx   context.Context
	sink  engine.Sink
	timer *time.Timer

	anchored bool
	baseDTS  int64
	baseWall time.Time
	lastDue  time.Time
	frames   int // frames delivered in the current loop
}

func newPacer(ctx context.Context, sink engine.Sink) *pacer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &pacer{ctx: ctx, sink: sink, timer: t}
}

func (p *pacer) stop() { p.timer.Stop() }

// restart starts a new loop: its first frame is due right after the last
// frame of the previous loop.
func (p *pacer) restart() {
	p.anchored = false
	p.frames = 0
}

func (p *pacer) SetTracks(tracks []engine.Track) { p.sink.SetTracks(tracks) }

func (p *pacer) WriteFrame(f *engine.Frame) {
	if p.ctx.Err() != nil {
		return
	}
	now := time.Now()
	if !p.anchored {
		start := now
		if next := p.lastDue.Add(pacerLoopGap); next.After(now) {
			start = next
		}
		p.anchor(f.DTS, start)
	}
	var due time.Time
	if span := f.DTS - p.baseDTS; span > pacerMaxSpan || span < -pacerMaxSpan {
		p.anchor(f.DTS, now)
		due = now
	} else {
		due = p.baseWall.Add(time.Duration(span * int64(time.Second) / engine.Timescale))
	}
	if lead := due.Sub(now); lead > pacerMaxLead || lead < -pacerMaxLag {
		p.anchor(f.DTS, now)
		due = now
	}
	if wait := due.Sub(now); wait > 0 {
		p.timer.Reset(wait)
		select {
		case <-p.ctx.Done():
			p.timer.Stop()
			return
		case <-p.timer.C:
		}
	}
	p.lastDue = due
	p.frames++
	p.sink.WriteFrame(f)
}

func (p *pacer) anchor(dts int64, wall time.Time) {
	p.anchored = true
	p.baseDTS = dts
	p.baseWall = wall
}
