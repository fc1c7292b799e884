package load

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// maxLoggedPerKind bounds the error lines logged per error class; the rest
// are only counted.
const maxLoggedPerKind = 5

// run is one load test: the viewers, their shared counters, the reporter.
type run struct {
	cfg    config
	start  time.Time
	dialer net.Dialer
	log    *slog.Logger

	viewers  []viewer     // all N, started in order by the ramp
	started  atomic.Int64 // viewers[:started] are running
	stalls   atomic.Int64
	sessions atomic.Int64 // sessions that received media
	errs     [numErrKinds]atomic.Int64
	logged   [numErrKinds]atomic.Int64
	ttfb     histogram

	// Reporter state, owned by the goroutine that calls execute.
	upPeak   int
	gbpsPeak float64
}

func newRun(cfg config, logOut io.Writer) *run {
	r := &run{
		cfg:     cfg,
		log:     slog.New(slog.NewTextHandler(logOut, nil)),
		viewers: make([]viewer, cfg.viewers),
	}
	r.dialer = net.Dialer{Timeout: cfg.timeout, KeepAlive: -1}
	if cfg.source.IsValid() {
		r.dialer.LocalAddr = &net.TCPAddr{IP: cfg.source.AsSlice()}
		// Let connect() pick the port for the whole 4-tuple instead of bind()
		// reserving it for every destination: many more viewers per address.
		r.dialer.Control = func(_, _ string, c syscall.RawConn) error {
			return c.Control(func(fd uintptr) {
				_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
			})
		}
	}
	return r
}

// now is the monotonic time since the start of the run in nanoseconds; it
// is never 0, which marks "no time" in viewer state.
func (r *run) now() int64 { return int64(time.Since(r.start)) + 1 }

// sweep is what the reporter sees at one instant.
type sweep struct {
	at         int64
	started    int
	up         int
	bytes      int64
	stalledNow int
}

// execute runs the test for the configured duration (or until ctx ends),
// printing a progress line per second to progress.
func (r *run) execute(ctx context.Context, progress io.Writer) Summary {
	r.start = time.Now()
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { r.launch(ctx, &wg) })

	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	end := time.NewTimer(r.cfg.duration)
	defer end.Stop()
	var prev sweep
	var prevHist histSnapshot
	running := true
	for running {
		select {
		case <-ticker.C:
			s := r.sweep()
			r.progress(progress, s, prev, &prevHist)
			prev = s
		case <-end.C:
			running = false
		case <-ctx.Done():
			running = false
		}
	}
	final := r.sweep()
	cancel()
	wg.Wait()
	return r.summarize(final)
}

// launch starts the viewers spread evenly over the ramp.
func (r *run) launch(ctx context.Context, wg *sync.WaitGroup) {
	n := len(r.viewers)
	t := time.NewTimer(time.Hour)
	t.Stop()
	for i := range n {
		at := time.Duration(float64(r.cfg.ramp) * float64(i) / float64(n))
		if wait := at - time.Since(r.start); wait > 0 {
			t.Reset(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		} else if ctx.Err() != nil {
			return
		}
		v := &r.viewers[i]
		v.init(r, i)
		r.started.Add(1)
		wg.Go(func() { v.run(ctx) })
	}
}

// sweep totals the viewers and checks every media clock for a stall.
func (r *run) sweep() sweep {
	now := r.now()
	s := sweep{at: now, started: int(r.started.Load())}
	for i := range s.started {
		v := &r.viewers[i]
		s.bytes += v.bytes.Load()
		if v.up.Load() {
			s.up++
		}
		newStall, stalled := v.stall.check(now)
		if newStall {
			r.stalls.Add(1)
		}
		if stalled {
			s.stalledNow++
		}
	}
	r.upPeak = max(r.upPeak, s.up)
	return s
}

func (r *run) errorCount() int64 {
	var n int64
	for i := range r.errs {
		n += r.errs[i].Load()
	}
	return n
}

// recordError counts a viewer's error and logs the first few of each class.
func (r *run) recordError(v *viewer, err error) {
	k := kindOf(err)
	r.errs[k].Add(1)
	switch n := r.logged[k].Add(1); {
	case n <= maxLoggedPerKind:
		r.log.Warn("viewer error", "viewer", v.id, "kind", k.String(), "err", err)
	case n == maxLoggedPerKind+1:
		r.log.Warn("more errors of this kind are counted, not logged", "kind", k.String())
	}
}
