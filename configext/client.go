package configext

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livedge/livedge/engine"
)

// Defaults of Options.
const (
	DefaultInterval = 2500 * time.Millisecond
	DefaultTimeout  = 5 * time.Second
)

// Options configure a Client.
type Options struct {
	// URL of the backend: a path ending in /streams is the list endpoint,
	// any other path a base. KEY@host is sent as Bearer KEY, user:pass@host
	// as Basic.
	URL string
	// Interval between cycles, jittered by ±20% (0: DefaultInterval, which
	// gives the protocol's 2 to 3 s).
	Interval time.Duration
	// Timeout of one request (0: DefaultTimeout).
	Timeout time.Duration
	// Running names the streams running here now; the names the list does
	// not hold are asked for each cycle. Nil: none.
	Running func() []string
	// Apply receives the whole desired set of backend streams, sorted by
	// name, whenever it changes; calls never overlap. It is never called
	// because of a failure: an outage leaves the last set in force. It
	// must not call Lookup (Lookup waits for Apply).
	Apply func(streams []engine.StreamConfig)
	// Log gets one line per change of state (nil: slog.Default()).
	Log *slog.Logger
	// HTTPClient makes the requests (nil: a client of its own).
	HTTPClient *http.Client
}

// Status is config_external_status of GET /streamer/api/v3/config/stats.
type Status struct {
	// Status is "loaded" or "error"; "" before the first answer.
	Status string `json:"status,omitempty"`
	// Code is the HTTP status of the failed request (0: no answer); 200
	// with an error means the answer held invalid streams, which were
	// skipped.
	Code  int    `json:"code,omitempty"`
	Error string `json:"error,omitempty"`
	// While is "refresh" (the periodic cycle) or "request" (a dynamic name).
	While string `json:"while,omitempty"`
}

// Status values.
const (
	StatusLoaded = "loaded"
	StatusError  = "error"
	WhileRefresh = "refresh"
	WhileRequest = "request"
)

// Counters are cumulative figures for metrics.
type Counters struct {
	Cycles   uint64 // refresh cycles attempted
	Requests uint64 // HTTP requests made
	Failures uint64 // requests that failed
	Bytes    uint64 // response body bytes read
	Applies  uint64 // calls of Options.Apply
	Lookups  uint64 // dynamic names asked for (including ones answered from a batch)
}

type counters struct {
	cycles, requests, failures, bytes, applies, lookups atomic.Uint64
}

// features are what the list endpoint's headers switched on.
type features struct {
	separate   bool // X-Config-Server-Separate-Endpoints: true
	dynamicOff bool // X-Config-Server-Dynamic-Streams: false
	episodes   bool // X-Config-Server-Episodes: true
}

func featuresOf(h http.Header) features {
	return features{
		separate:   headerIs(h, headerSeparate, "true"),
		dynamicOff: headerIs(h, headerDynamic, "false"),
		episodes:   headerIs(h, headerEpisodes, "true"),
	}
}

func headerIs(h http.Header, key, want string) bool {
	return strings.EqualFold(strings.TrimSpace(h.Get(key)), want)
}

// desiredStream is a stream of the desired set with what only configext
// needs of it.
type desiredStream struct {
	cfg engine.StreamConfig
	// episodes: the stream's dvr.episodes_url, nil when it has none.
	episodes *string
}

// Client polls a config backend and keeps the desired set of its streams.
type Client struct {
	o     Options
	be    backend
	fetch fetcher
	log   *slog.Logger
	stats counters

	// refreshMu keeps one cycle at a time; pages is its ETag cache.
	refreshMu sync.Mutex
	pages     map[string]cachedPage

	// applyMu orders commits of the desired set with their Apply calls.
	applyMu sync.Mutex

	mu       sync.Mutex
	loaded   bool // a cycle has succeeded
	feat     features
	desired  map[string]desiredStream
	dynamic  map[string]time.Time // names Lookup added, and when
	negative map[string]time.Time // names the backend did not know, and when
	pending  *lookupBatch
	batches  int // lookup batches waiting or in flight
	status   Status
	stateKey string // what a change of state is judged by

	ep episodeCache
}

// New checks the options; Run starts polling.
func New(o Options) (*Client, error) {
	be, err := parseBackend(o.URL)
	if err != nil {
		return nil, err
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Running == nil {
		o.Running = func() []string { return nil }
	}
	if o.Apply == nil {
		o.Apply = func([]engine.StreamConfig) {}
	}
	hc := o.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxResponseHeaderBytes = 1 << 20
		hc = &http.Client{Transport: tr}
	}
	c := &Client{
		o:        o,
		be:       be,
		log:      o.Log.With("config_external", be.display),
		pages:    map[string]cachedPage{},
		desired:  map[string]desiredStream{},
		dynamic:  map[string]time.Time{},
		negative: map[string]time.Time{},
	}
	c.fetch = fetcher{http: hc, maxBody: maxBody, stats: &c.stats}
	c.ep.init()
	return c, nil
}

// Run polls until ctx ends: a cycle at once, then one every Interval,
// jittered so that a fleet started together spreads its requests.
func (c *Client) Run(ctx context.Context) {
	for {
		_ = c.Refresh(ctx) // failures are in Status and logged once per change
		d := c.o.Interval
		d += time.Duration((rand.Float64()*0.4 - 0.2) * float64(d))
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Status returns the state of the last exchange with the backend.
func (c *Client) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// Counters returns cumulative figures.
func (c *Client) Counters() Counters {
	return Counters{
		Cycles:   c.stats.cycles.Load(),
		Requests: c.stats.requests.Load(),
		Failures: c.stats.failures.Load(),
		Bytes:    c.stats.bytes.Load(),
		Applies:  c.stats.applies.Load(),
		Lookups:  c.stats.lookups.Load(),
	}
}

// Desired returns the current desired set of backend streams, sorted by name.
func (c *Client) Desired() []engine.StreamConfig {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.snapshotLocked()
}

func (c *Client) snapshotLocked() []engine.StreamConfig {
	list := make([]engine.StreamConfig, 0, len(c.desired))
	for _, d := range c.desired {
		list = append(list, d.cfg)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return list
}

// commit installs a new desired set and calls Apply when it changed (or
// was never applied). c.applyMu must be held, so that Apply calls come in
// the order of commits; c.mu must not.
func (c *Client) commit(next map[string]desiredStream, force bool) {
	c.mu.Lock()
	changed := force || !sameSet(c.desired, next)
	c.desired = next
	var snap []engine.StreamConfig
	if changed {
		snap = c.snapshotLocked()
	}
	c.mu.Unlock()
	c.ep.prune(next)
	if changed {
		c.stats.applies.Add(1)
		c.o.Apply(snap)
	}
}

func sameSet(a, b map[string]desiredStream) bool {
	if len(a) != len(b) {
		return false
	}
	for name, x := range a {
		y, ok := b[name]
		if !ok || !reflect.DeepEqual(x.cfg, y.cfg) {
			return false
		}
	}
	return true
}

// setStatus records the outcome of an exchange and logs a change of state:
// the kind of outcome, not its text, so that a backend failing the same
// way each cycle logs once.
func (c *Client) setStatus(st Status, detail ...any) {
	key := st.Status + "/" + st.While + "/" + strconv.Itoa(st.Code)
	c.mu.Lock()
	c.status = st
	changed := key != c.stateKey
	c.stateKey = key
	c.mu.Unlock()
	if !changed {
		return
	}
	if st.Status == StatusLoaded {
		c.log.Info("config_external loaded", detail...)
		return
	}
	args := append([]any{"while", st.While, "code", st.Code, "error", st.Error}, detail...)
	c.log.Warn("config_external error", args...)
}

// fail records a failed exchange.
func (c *Client) fail(while string, err error) {
	st := Status{Status: StatusError, While: while, Error: err.Error()}
	var fe *fetchError
	if errors.As(err, &fe) {
		st.Code = fe.Code
	}
	c.setStatus(st)
}
