package appliance

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/livedge/livedge/configext"
	"github.com/livedge/livedge/engine"
	"github.com/livedge/livedge/netio"
)

// externalRunner runs the config_external client of the effective config:
// one client per URL, replaced when a reload or the API changes the URL and
// stopped when it is removed. Its fields other than client are guarded by
// the configStore's mutex, which every change of config holds.
type externalRunner struct {
	log     *slog.Logger
	running func() []string
	// apply hands a client's desired set to the store; gen tells a stopped
	// client's late call from the current one's.
	apply func(gen uint64, streams []engine.StreamConfig)

	started bool // the daemon started: sync may run clients
	url     string
	gen     uint64
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	// client is the running client, nil when config_external is off; the
	// router and the API read it without the store's mutex.
	client atomic.Pointer[configext.Client]
}

// sync makes the runner match url ("" = off). It never waits for a client
// to stop: a stopping client may be waiting for the store's mutex in Apply,
// and its late calls are refused by generation.
func (r *externalRunner) sync(url string) {
	if !r.started || url == r.url {
		return
	}
	r.stopLocked()
	r.url = url
	if url == "" {
		return
	}
	gen := r.gen
	c, err := configext.New(configext.Options{
		URL:     url,
		Running: r.running,
		Apply:   func(streams []engine.StreamConfig) { r.apply(gen, streams) },
		Log:     r.log,
	})
	if err != nil {
		r.log.Error("config_external not started", "err", err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.client.Store(c)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		c.Run(ctx)
	}()
}

// stopLocked stops the running client, if any, without waiting for it.
func (r *externalRunner) stopLocked() {
	r.gen++
	r.client.Store(nil)
	if r.cancel != nil {
		r.cancel()
		r.cancel = nil
	}
}

// startExternal runs the config_external client of the current config.
func (cs *configStore) startExternal() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.ext.started = true
	cs.ext.sync(cs.current().effective.ConfigExternal)
}

// stopExternal stops the client and waits for it (shutdown).
func (cs *configStore) stopExternal() {
	cs.mu.Lock()
	cs.ext.started = false
	cs.ext.stopLocked()
	cs.ext.url = ""
	cs.mu.Unlock()
	cs.ext.wg.Wait()
}

// applyExternal installs the backend's desired set of streams of client
// generation gen: the effective streams become the file's merged with the
// backend's, reconciled like any other change so only changed streams
// restart.
func (cs *configStore) applyExternal(gen uint64, streams []engine.StreamConfig) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if gen != cs.ext.gen {
		return // a stopped client's late answer
	}
	cs.backend = streams
	prev := cs.current()
	st, err := cs.newState(prev.file, prev.version+1)
	if err != nil {
		cs.log.Error("config_external streams not applied", "err", err)
		return
	}
	cs.publish(prev, st, "config_external applied")
}

// mergeExternal makes the effective streams: the file's, each replaced by
// the backend's stream of its name, then the backend's others. A file
// stream the backend does not return keeps the file's definition.
func mergeExternal(file, backend []engine.StreamConfig) (merged []engine.StreamConfig, external map[string]bool) {
	external = make(map[string]bool, len(backend))
	byName := make(map[string]int, len(backend))
	for i, c := range backend {
		byName[c.Name] = i
	}
	merged = make([]engine.StreamConfig, 0, len(file)+len(backend))
	used := make([]bool, len(backend))
	for _, c := range file {
		if i, ok := byName[c.Name]; ok {
			c = backend[i]
			used[i] = true
			external[c.Name] = true
		}
		merged = append(merged, c)
	}
	for i, c := range backend {
		if !used[i] {
			merged = append(merged, c)
			external[c.Name] = true
		}
	}
	return merged, external
}

// externalClient is the running config_external client, nil when off.
func (rt *router) externalClient() *configext.Client {
	if rt.store == nil {
		return nil
	}
	return rt.store.ext.client.Load()
}

// lookupWait bounds how long a viewer of an unknown name is held.
const lookupWait = configext.LookupWait

// viewerOf answers a viewer's request for a stream that was found.
type viewerOf func(rt *router, rw *netio.ResponseWriter, req *netio.Request, name string, s *engine.Stream)

// acquireOrLookup serves a viewer request for name, starting the stream
// when it is on-demand: then is called with the stream when it is known,
// or when the config backend knows it (asked off the event loop, the viewer
// held up to lookupWait); otherwise the viewer gets 404. then runs on the
// loop, or on a goroutine of a held response. (then is a method expression,
// so the known-stream path allocates no closure.)
func (rt *router) acquireOrLookup(rw *netio.ResponseWriter, req *netio.Request, name string, then viewerOf) {
	s, err := rt.streams.Acquire(name)
	if err == nil {
		then(rt, rw, req, name, s)
		return
	}
	client := rt.externalClient()
	if !errors.Is(err, engine.ErrNotFound) || name == "" || client == nil {
		rt.acquireFailed(rw, name, err)
		return
	}
	rw.Hold()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), lookupWait)
		defer cancel()
		_, found, lerr := client.Lookup(ctx, name)
		if lerr != nil || !found {
			notFound(rw, name)
			return
		}
		// Apply ran before Lookup returned: the registry has the stream.
		s, err := rt.streams.Acquire(name)
		if err != nil {
			rt.acquireFailed(rw, name, err)
			return
		}
		then(rt, rw, req, name, s)
	}()
}

func (rt *router) acquireFailed(rw *netio.ResponseWriter, name string, err error) {
	if errors.Is(err, engine.ErrNotFound) || name == "" {
		notFound(rw, name)
		return
	}
	rw.Error(http.StatusServiceUnavailable, "stream_unavailable", err.Error())
}

// codeManagedExternally answers stream edits while config_external is on.
const codeManagedExternally = "managed_by_config_external"

// refuseWhileExternal answers 400 and returns true when config_external
// manages the streams.
func (c *apiCall) refuseWhileExternal() bool {
	if c.rt.store.current().effective.ConfigExternal == "" {
		return false
	}
	c.fail(&apiError{status: http.StatusBadRequest, code: codeManagedExternally,
		title: "streams are managed by the configuration backend (config_external): change them there"})
	return true
}
