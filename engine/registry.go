package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"sync"
	"time"
)

// ErrNotFound is returned for a stream that is not configured.
var ErrNotFound = errors.New("stream not found")

// Registry holds the desired config of every stream and the streams that run.
// Static streams run always; the others start on their first viewer and stop
// OnDemandIdleStop after their last.
type Registry struct {
	log      *slog.Logger
	open     SourceOpener
	packager PackagerFactory
	idleStop time.Duration

	mu      sync.Mutex
	desired map[string]StreamConfig
	running map[string]*Stream
	closed  bool

	stopJanitor context.CancelFunc
	janitorDone chan struct{}
}

// RegistryOptions configure a registry.
type RegistryOptions struct {
	Log      *slog.Logger
	Open     SourceOpener
	Packager PackagerFactory
	// IdleStop overrides OnDemandIdleStop (tests).
	IdleStop time.Duration
}

// NewRegistry makes an empty registry; Apply gives it streams.
func NewRegistry(o RegistryOptions) *Registry {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.IdleStop <= 0 {
		o.IdleStop = OnDemandIdleStop
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Registry{
		log: o.Log, open: o.Open, packager: o.Packager, idleStop: o.IdleStop,
		desired: map[string]StreamConfig{}, running: map[string]*Stream{},
		stopJanitor: cancel, janitorDone: make(chan struct{}),
	}
	go r.janitor(ctx)
	return r
}

// ReconcileResult names what an Apply changed.
type ReconcileResult struct {
	Started, Restarted, Stopped []string
}

// Apply makes desired the registry's config: streams whose config changed
// restart, removed streams stop, new static streams start; streams whose
// config is unchanged are left running untouched.
func (r *Registry) Apply(desired []StreamConfig) ReconcileResult {
	next := make(map[string]StreamConfig, len(desired))
	for _, c := range desired {
		next[c.Name] = c
	}
	var res ReconcileResult
	var toStop []*Stream
	r.mu.Lock()
	for name, s := range r.running {
		c, ok := next[name]
		switch {
		case !ok:
			toStop = append(toStop, s)
			delete(r.running, name)
			res.Stopped = append(res.Stopped, name)
		case !reflect.DeepEqual(c, s.cfg):
			toStop = append(toStop, s)
			delete(r.running, name)
			if c.Static {
				res.Restarted = append(res.Restarted, name)
			} else {
				res.Stopped = append(res.Stopped, name)
			}
		}
	}
	r.desired = next
	r.mu.Unlock()
	for _, s := range toStop {
		s.stop()
	}
	r.mu.Lock()
	for name, c := range next {
		if _, ok := r.running[name]; ok || !c.Static || r.closed {
			continue
		}
		r.running[name] = r.start(c)
		if !contains(res.Restarted, name) {
			res.Started = append(res.Started, name)
		}
	}
	r.mu.Unlock()
	sort.Strings(res.Started)
	sort.Strings(res.Restarted)
	sort.Strings(res.Stopped)
	return res
}

// Restart stops the named stream if it runs and starts it again when it is
// static; an on-demand stream then starts on its next viewer. It reports
// false for a stream that is not configured.
func (r *Registry) Restart(name string) bool {
	r.mu.Lock()
	c, ok := r.desired[name]
	s, running := r.running[name]
	if running {
		delete(r.running, name)
	}
	r.mu.Unlock()
	if !ok {
		return false
	}
	if running {
		s.stop()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// Apply or Acquire may have run meanwhile: start only what is still
	// wanted and not already back.
	c, ok = r.desired[name]
	if _, back := r.running[name]; ok && c.Static && !back && !r.closed {
		r.running[name] = r.start(c)
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// start launches a stream; r.mu is held.
func (r *Registry) start(c StreamConfig) *Stream {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Stream{
		cfg:       c,
		log:       r.log.With("stream", c.Name),
		open:      r.open,
		frames:    NewRing[Frame](FrameRingSize),
		cancel:    cancel,
		done:      make(chan struct{}),
		ready:     make(chan struct{}),
		startedAt: time.Now(),
	}
	s.input.Store(-1)
	s.Touch()
	s.packager = r.packager(s)
	s.log.Info("stream started", "static", c.Static, "inputs", len(c.Inputs))
	go s.supervise(ctx)
	return s
}

// Acquire returns the running stream, starting a configured on-demand stream
// that is not running. It returns ErrNotFound for an unknown name.
func (r *Registry) Acquire(name string) (*Stream, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.running[name]; ok {
		s.Touch()
		return s, nil
	}
	c, ok := r.desired[name]
	if !ok || r.closed {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	s := r.start(c)
	r.running[name] = s
	return s, nil
}

// Get returns the stream if it is running.
func (r *Registry) Get(name string) (*Stream, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.running[name]
	return s, ok
}

// Configured returns the desired config of a stream.
func (r *Registry) Configured(name string) (StreamConfig, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.desired[name]
	return c, ok
}

// ConfiguredAll returns the desired config of every stream, sorted by name.
func (r *Registry) ConfiguredAll() []StreamConfig {
	r.mu.Lock()
	list := make([]StreamConfig, 0, len(r.desired))
	for _, c := range r.desired {
		list = append(list, c)
	}
	r.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return list
}

// Running returns the running streams sorted by name.
func (r *Registry) Running() []*Stream {
	r.mu.Lock()
	list := make([]*Stream, 0, len(r.running))
	for _, s := range r.running {
		list = append(list, s)
	}
	r.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].cfg.Name < list[j].cfg.Name })
	return list
}

// Close stops every stream.
func (r *Registry) Close() {
	r.stopJanitor()
	<-r.janitorDone
	r.mu.Lock()
	r.closed = true
	list := make([]*Stream, 0, len(r.running))
	for name, s := range r.running {
		list = append(list, s)
		delete(r.running, name)
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range list {
		wg.Add(1)
		go func() { defer wg.Done(); s.stop() }()
	}
	wg.Wait()
}

// janitor stops on-demand streams nobody has watched for idleStop.
func (r *Registry) janitor(ctx context.Context) {
	defer close(r.janitorDone)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			var idle []*Stream
			r.mu.Lock()
			for name, s := range r.running {
				if !s.cfg.Static && s.idleFor(now) >= r.idleStop {
					idle = append(idle, s)
					delete(r.running, name)
				}
			}
			r.mu.Unlock()
			for _, s := range idle {
				s.log.Info("on-demand stream stopped: no viewers")
				s.stop()
			}
		}
	}
}
