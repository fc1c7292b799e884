package appliance

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livedge/livedge/configext"
	"github.com/livedge/livedge/engine"
	"github.com/livedge/livedge/netio"
	"github.com/livedge/livedge/proto/httpts"
	"github.com/livedge/livedge/proto/mpegts"
)

// GET /metrics answers in the Prometheus text exposition format 0.0.4,
// written here (it is a few lines of append; the client library would bring
// a registry, reflection and locks per metric for what is one snapshot).
const metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

// metricsMaxAge is how long one rendering answers scrapes: with 10,000
// streams a page is megabytes, and scrapers that come together (an HA pair
// of Prometheus servers, a dashboard) share it.
const metricsMaxAge = time.Second

// metricsExporter renders /metrics off the event loop, one rendering at a
// time, and keeps the last page for metricsMaxAge. Its zero value is ready;
// the daemon sets netStats.
type metricsExporter struct {
	// netStats reads the HTTP server's counters; nil leaves them out.
	netStats func() netio.Stats

	mu        sync.Mutex
	page      *metricsPage    // the last rendering; nil before the first
	rendering bool            // a goroutine is rendering the next page
	waiting   []metricsWaiter // held scrapes that the next page answers

	// scratch belongs to the rendering goroutine (rendering == true): the
	// buffers it reuses from one rendering to the next.
	scratch metricsScratch
}

type metricsWaiter struct {
	rw   *netio.ResponseWriter
	gzip bool
}

// metricsPage is one rendering. Its bodies are never modified once made:
// netio writes them with writev from every connection that was given them,
// for as long as each takes, and says nothing when it is done, so a page's
// bodies cannot go back to a pool; they are left to the GC.
type metricsPage struct {
	body []byte
	at   time.Time

	gzipOnce sync.Once
	gzipDone atomic.Bool
	gzipped  []byte
}

// serveMetrics answers GET and HEAD /metrics. On the event loop it only
// looks up the cached page; rendering and compressing run on a goroutine
// (rw.Hold), so a scrape of 10,000 streams never stalls viewers.
func (rt *router) serveMetrics(rw *netio.ResponseWriter, req *netio.Request) {
	if rt.store != nil && !allowed(rt.store.current().effective, req.Header, accessView) {
		rw.SetHeader("WWW-Authenticate", authChallenge)
		rw.Error(http.StatusUnauthorized, "unauthorized", "valid credentials required")
		return
	}
	gz := acceptsGzip(req.Header.Get("Accept-Encoding"))
	m := &rt.metrics
	m.mu.Lock()
	if p := m.page; p != nil && time.Since(p.at) < metricsMaxAge {
		m.mu.Unlock()
		if gz && !p.gzipDone.Load() {
			rw.Hold()
			go p.write(rw, true)
			return
		}
		p.write(rw, gz)
		return
	}
	rw.Hold()
	m.waiting = append(m.waiting, metricsWaiter{rw: rw, gzip: gz})
	start := !m.rendering
	m.rendering = true
	m.mu.Unlock()
	if start {
		go m.render(rt)
	}
}

// render makes a new page and answers every scrape that waits for it.
func (m *metricsExporter) render(rt *router) {
	var p *metricsPage
	defer func() {
		// A bug here must not leave scrapes held forever nor stop later
		// renderings: answer 500 and let the next scrape try again.
		failure := recover()
		if failure != nil {
			slog.Error("metrics rendering failed", "panic", fmt.Sprint(failure))
		}
		m.mu.Lock()
		if p != nil {
			m.page = p
		}
		waiting := m.waiting
		m.waiting = nil
		m.rendering = false
		m.mu.Unlock()
		for _, w := range waiting {
			if p == nil {
				w.rw.Error(http.StatusInternalServerError, "internal_error", "metrics rendering failed")
				continue
			}
			p.write(w.rw, w.gzip)
		}
	}()
	sc := &m.scratch
	sc.collect(rt, m.netStats)
	p = &metricsPage{body: sc.format(), at: time.Now()}
}

// write sends the page; off the loop when it has to compress first.
func (p *metricsPage) write(rw *netio.ResponseWriter, gz bool) {
	body := p.body
	if gz {
		body = p.gzip()
		rw.SetHeader("Content-Encoding", "gzip")
	}
	rw.SetHeader("Vary", "Accept-Encoding")
	rw.SetHeader("Cache-Control", "no-cache")
	rw.Write(http.StatusOK, metricsContentType, body)
}

// gzip compresses the page once, for every scrape that asks for it
// (Prometheus does: a page of 10,000 streams shrinks about tenfold).
func (p *metricsPage) gzip() []byte {
	p.gzipOnce.Do(func() {
		var out bytes.Buffer
		out.Grow(len(p.body)/8 + 64)
		w := gzipWriters.Get().(*gzip.Writer)
		w.Reset(&out)
		_, _ = w.Write(p.body) // a bytes.Buffer takes everything
		_ = w.Close()
		gzipWriters.Put(w)
		p.gzipped = out.Bytes()
		p.gzipDone.Store(true)
	})
	return p.gzipped
}

// gzipWriters keeps compressors (about 1 MiB of state each) for reuse.
var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed) // a valid level: no error
	return w
}}

// acceptsGzip reads Accept-Encoding: gzip listed without q=0.
func acceptsGzip(h string) bool {
	for part := range strings.SplitSeq(h, ",") {
		coding, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		for param := range strings.SplitSeq(params, ";") {
			k, v, _ := strings.Cut(param, "=")
			if strings.EqualFold(strings.TrimSpace(k), "q") {
				q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				return err == nil && q > 0
			}
		}
		return true
	}
	return false
}

// metricsScratch is a snapshot of everything /metrics shows, in buffers
// reused from one rendering to the next.
type metricsScratch struct {
	streams []streamSample
	// arena holds each stream's escaped `stream="NAME"` label pair; a
	// sample's label indexes it, so no string is made per stream.
	arena []byte

	configured, running int
	hasNet              bool
	net                 netio.Stats

	// hasExternal: config_external is on; extStatus and extCounters are
	// its client's.
	hasExternal         bool
	extStatus           configext.Status
	extCounters         configext.Counters
	hasSessions         bool
	bytesOut, untracked uint64

	pool mpegts.PoolStats

	// peerStates counts the cluster's peers by state; nil without peers.
	peerStates map[string]uint64
	redirects  uint64

	proc    procReader
	procOK  bool
	procSt  procStats
	runtime []metrics.Sample

	lastSize   int       // bytes of the last page, to size the next
	lastRender float64   // seconds the last rendering took
	started    time.Time // when this rendering began
}

// streamSample is one running stream's figures.
type streamSample struct {
	label     [2]int // arena[label[0]:label[1]]
	status    engine.Status
	startTime float64 // unix seconds
	hub       httpts.HubStats
	// usage comes from the session table when there is one.
	usage    streamUsage
	hasUsage bool
}

// collect snapshots the streams, the server, the process and the runtime.
func (sc *metricsScratch) collect(rt *router, netStats func() netio.Stats) {
	sc.started = time.Now()
	now := sc.started
	running := rt.streams.Running()
	sc.running = len(running)
	if rt.store != nil {
		sc.configured = len(rt.store.current().effective.Streams)
	} else {
		sc.configured = len(rt.streams.ConfiguredAll())
	}
	sc.streams = sc.streams[:0]
	sc.arena = sc.arena[:0]
	for _, s := range running {
		from := len(sc.arena)
		sc.arena = appendLabelPair(sc.arena, "stream", s.Name())
		smp := streamSample{label: [2]int{from, len(sc.arena)}, status: s.Status()}
		smp.startTime = float64(now.Add(-smp.status.Lifetime).UnixMilli()) / 1000
		if out, ok := s.Packager().(*outputs); ok {
			smp.hub = out.ts.Stats()
		}
		if rt.sessions != nil {
			smp.usage, smp.hasUsage = rt.sessions.usage(s.Name()), true
		}
		sc.streams = append(sc.streams, smp)
	}
	sc.hasSessions = rt.sessions != nil
	if sc.hasSessions {
		sc.bytesOut, sc.untracked = rt.sessions.bytesOut.Load(), rt.sessions.untracked.Load()
	}
	sc.hasNet = netStats != nil
	if sc.hasNet {
		sc.net = netStats()
	}
	ext := rt.externalClient()
	sc.hasExternal = ext != nil
	if sc.hasExternal {
		sc.extStatus, sc.extCounters = ext.Status(), ext.Counters()
	}
	sc.pool = rt.pool.Stats()
	sc.peerStates = nil
	if rt.cluster != nil {
		if peers := rt.cluster.Peers(); len(peers) > 0 {
			sc.peerStates = map[string]uint64{}
			for _, p := range peers {
				sc.peerStates[p.State]++
			}
		}
		sc.redirects = rt.redirects.Load()
	}
	sc.readProcess()
	sc.readRuntime()
}

func (sc *metricsScratch) readProcess() {
	st, err := sc.proc.read()
	sc.procSt, sc.procOK = st, st != (procStats{})
	if err != nil {
		slog.Debug("metrics: process figures incomplete", "err", err)
	}
}

// goRuntimeMetrics are the Go runtime's figures, by runtime/metrics key
// (cheap to read: no stop-the-world, unlike runtime.ReadMemStats). The names
// are client_golang's, so existing Go dashboards work.
var goRuntimeMetrics = []struct{ key, name, typ, help string }{
	{"/sched/goroutines:goroutines", "go_goroutines", promGauge, "Number of goroutines that currently exist."},
	{"/sched/gomaxprocs:threads", "go_gomaxprocs", promGauge, "Value of GOMAXPROCS: threads that may run Go code at once."},
	{"/gc/cycles/total:gc-cycles", "go_gc_cycles_total", promCounter, "Completed garbage collection cycles."},
	{"/cpu/classes/gc/total:cpu-seconds", "go_gc_cpu_seconds_total", promCounter, "CPU time spent on garbage collection (estimate)."},
	{"/memory/classes/heap/objects:bytes", "go_memstats_heap_alloc_bytes", promGauge, "Bytes of allocated heap objects, live or not yet swept."},
	{"/gc/heap/objects:objects", "go_memstats_heap_objects", promGauge, "Number of allocated heap objects."},
	{"/gc/heap/goal:bytes", "go_memstats_next_gc_bytes", promGauge, "Heap size at which the next garbage collection ends."},
	{"/memory/classes/total:bytes", "go_memstats_sys_bytes", promGauge, "Bytes of memory mapped by the Go runtime."},
}

func (sc *metricsScratch) readRuntime() {
	if sc.runtime == nil {
		sc.runtime = make([]metrics.Sample, len(goRuntimeMetrics))
		for i, m := range goRuntimeMetrics {
			sc.runtime[i].Name = m.key
		}
	}
	metrics.Read(sc.runtime)
}

// streamFamilies are the per-stream metric families; each series is one
// label set after stream="NAME" and where its value comes from (false: the
// stream has no such sample now).
var streamFamilies = []struct {
	name, typ, help string
	series          []streamSeries
}{
	{"livedge_stream_alive", promGauge, "1 when the stream received a frame in the last 3 s, else 0.",
		[]streamSeries{{"", func(s *streamSample) (float64, bool) { return bool01(s.status.Alive), true }}}},
	{"livedge_stream_viewers", promGauge, "Viewers now by protocol: HTTP MPEG-TS connections, and HLS sessions (the requests from one address and user agent, ended 20 s after the last).",
		[]streamSeries{
			{`,protocol="hls"`, func(s *streamSample) (float64, bool) { return float64(s.usage.HLS), s.hasUsage }},
			{`,protocol="mpegts"`, func(s *streamSample) (float64, bool) {
				if s.hasUsage {
					return float64(s.usage.MPEGTS), true
				}
				return float64(s.hub.Viewers), true
			}},
		}},
	{"livedge_stream_bytes_in_total", promCounter, "Bytes received from the stream's source.",
		[]streamSeries{{"", func(s *streamSample) (float64, bool) { return float64(s.status.BytesIn), true }}}},
	{"livedge_stream_bytes_out_total", promCounter, "Bytes sent to the stream's viewers over HLS and HTTP MPEG-TS.",
		[]streamSeries{{"", func(s *streamSample) (float64, bool) { return float64(s.usage.BytesOut), s.hasUsage }}}},
	{"livedge_stream_input_bitrate_bits_per_second", promGauge, "Bitrate of the input over the last second; 0 while the stream is not alive.",
		[]streamSeries{{"", func(s *streamSample) (float64, bool) { return float64(s.status.InputBitrate) * 1000, true }}}},
	{"livedge_stream_input_index", promGauge, "Position in the stream's config of the input in use (failover), -1 when none.",
		[]streamSeries{{"", func(s *streamSample) (float64, bool) { return float64(s.status.InputIndex), true }}}},
	{"livedge_stream_source_restarts_total", promCounter, "Source starts after the first: retries and failovers.",
		[]streamSeries{{"", func(s *streamSample) (float64, bool) { return float64(s.status.Restarts), true }}}},
	{"livedge_stream_resyncs_total", promCounter, "Times an HTTP MPEG-TS viewer that fell behind was moved to the newest keyframe.",
		[]streamSeries{{"", func(s *streamSample) (float64, bool) { return float64(s.hub.Resyncs), true }}}},
	{"livedge_stream_dropped_viewers_total", promCounter, "HTTP MPEG-TS viewers disconnected because they kept falling behind.",
		[]streamSeries{{"", func(s *streamSample) (float64, bool) { return float64(s.hub.Dropped), true }}}},
	{"livedge_stream_last_frame_age_seconds", promGauge, "Seconds since the stream's last frame; absent before its first.",
		[]streamSeries{{"", func(s *streamSample) (float64, bool) {
			age := s.status.LastFrameAge
			return age.Seconds(), age > 0 || s.status.Alive
		}}}},
	{"livedge_stream_start_time_seconds", promGauge, "When the running stream started, in unix seconds.",
		[]streamSeries{{"", func(s *streamSample) (float64, bool) { return s.startTime, true }}}},
}

type streamSeries struct {
	tail  string
	value func(*streamSample) (float64, bool)
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// format writes the page. The body is a new slice sized from the last page
// (one allocation per rendering); everything else is reused.
func (sc *metricsScratch) format() []byte {
	p := &promText{b: make([]byte, 0, sc.lastSize+sc.lastSize/8+4096)}

	p.single("livedge_streams_configured", promGauge, "Streams in the config.", float64(sc.configured))
	p.single("livedge_streams_running", promGauge, "Streams running now (static, or on-demand with viewers).", float64(sc.running))
	for _, f := range streamFamilies {
		p.family(f.name, f.typ, f.help)
		for _, ser := range f.series {
			for i := range sc.streams {
				s := &sc.streams[i]
				if v, ok := ser.value(s); ok {
					p.sampleLabelBytes(f.name, sc.arena[s.label[0]:s.label[1]], ser.tail, v)
				}
			}
		}
	}
	if sc.hasSessions {
		p.single("livedge_output_bytes_total", promCounter, "Bytes sent to viewers of all streams.", float64(sc.bytesOut))
		p.single("livedge_hls_untracked_requests_total", promCounter, "HLS requests served but not counted in a session because the session table was full.", float64(sc.untracked))
	}
	if sc.hasNet {
		sc.formatNet(p)
	}
	if sc.hasExternal {
		sc.formatExternal(p)
	}
	sc.formatPool(p)
	if sc.peerStates != nil {
		labelled(p, "livedge_cluster_peers", promGauge, "Configured cluster peers, by state (live, dead, forbidden, connecting, ...).", "state", sc.peerStates)
		p.single("livedge_cluster_redirects_total", promCounter, "Viewers redirected to a peer.", float64(sc.redirects))
	}
	if sc.procOK {
		sc.formatProcess(p)
	}
	sc.formatRuntime(p)
	p.single("livedge_metrics_render_duration_seconds", promGauge, "Time the previous rendering of this page took.", sc.lastRender)

	sc.lastSize = len(p.b)
	sc.lastRender = time.Since(sc.started).Seconds()
	return p.b
}

func (sc *metricsScratch) formatNet(p *promText) {
	st := &sc.net
	p.single("livedge_http_connections_accepted_total", promCounter, "HTTP connections accepted.", float64(st.Accepted))
	p.single("livedge_http_connections_open", promGauge, "HTTP connections open now.", float64(st.Open))
	labelled(p, "livedge_http_connections_closed_total", promCounter,
		"HTTP connections closed, by reason (conn_limit counts those refused at accept).", "reason", st.Closed)
	labelled(p, "livedge_http_connections_refused_total", promCounter,
		"HTTP connections refused at accept (answered 503), by reason.", "reason", st.Refused)
	p.single("livedge_http_requests_total", promCounter, "HTTP requests parsed and answered, refused ones included.", float64(st.Requests))
	p.single("livedge_http_streaming_responses", promGauge, "Long-lived streaming responses (HTTP MPEG-TS) running now.", float64(st.Streaming))
	p.single("livedge_http_stream_waits_total", promCounter, "Times a streaming viewer's socket was full and its feed waited for it (back-pressure).", float64(st.StreamWaits))
	p.single("livedge_http_stream_queued_peak_bytes", promGauge, "Most bytes the network layer ever held copied for one streaming connection.", float64(st.StreamQueuedPeak))
	p.single("livedge_http_lagging_skips_total", promCounter, "Times a streaming viewer's queue overflowed and its feed skipped ahead.", float64(st.LaggingSkips))
	p.single("livedge_http_shared_bodies", promGauge, "Shared bodies (HLS segments) being sent now without copies.", float64(st.SharedBodies))
	p.single("livedge_http_body_waits_total", promCounter, "Times a shared body found its socket full and waited for it.", float64(st.BodyWaits))
	p.single("livedge_http_file_responses", promGauge, "File bodies being sent by sendfile now.", float64(st.Files))
	p.single("livedge_http_sendfile_bytes_total", promCounter, "File body bytes the kernel took by sendfile.", float64(st.SendfileBytes))
	p.single("livedge_http_sendfile_waits_total", promCounter, "Times a file body waited for its socket to take more.", float64(st.SendfileWaits))
}

func (sc *metricsScratch) formatPool(p *promText) {
	st := &sc.pool
	p.single("livedge_memory_pool_bytes", promGauge, "Size of the memory pool stream data lives in (memory_pool).", float64(st.Size))
	p.single("livedge_memory_pool_slab_bytes", promGauge, "Size of one slab of the memory pool.", float64(st.SlabSize))
	p.single("livedge_memory_pool_slabs_in_use", promGauge, "Slabs of the memory pool holding stream data now.", float64(st.InUse))
	p.single("livedge_memory_pool_heap_slabs", promGauge, "Slabs taken from the heap because the pool was exhausted, alive now.", float64(st.HeapInUse))
	p.single("livedge_memory_pool_heap_fallbacks_total", promCounter, "Times the memory pool was exhausted and a slab came from the heap (memory_pool too small).", float64(st.HeapFallbacks))
	p.single("livedge_memory_pool_oversize_chunks_total", promCounter, "Chunks larger than a slab, given heap memory of their own.", float64(st.Oversize))
}

func (sc *metricsScratch) formatExternal(p *promText) {
	c := &sc.extCounters
	p.single("livedge_config_external_up", promGauge, "1 when the last exchange with the config_external backend succeeded, 0 when it failed.",
		bool01(sc.extStatus.Status == configext.StatusLoaded))
	p.single("livedge_config_external_cycles_total", promCounter, "config_external refresh cycles attempted.", float64(c.Cycles))
	p.single("livedge_config_external_requests_total", promCounter, "HTTP requests made to the config_external backend.", float64(c.Requests))
	p.single("livedge_config_external_failures_total", promCounter, "Requests to the config_external backend that failed.", float64(c.Failures))
	p.single("livedge_config_external_response_bytes_total", promCounter, "Response body bytes read from the config_external backend.", float64(c.Bytes))
	p.single("livedge_config_external_applies_total", promCounter, "Times the config_external backend's set of streams changed and was applied.", float64(c.Applies))
	p.single("livedge_config_external_lookups_total", promCounter, "Unknown stream names asked of the config_external backend.", float64(c.Lookups))
}

// labelled writes a family with one sample per map entry, in key order.
func labelled(p *promText, name, typ, help, label string, m map[string]uint64) {
	p.family(name, typ, help)
	for _, k := range slices.Sorted(maps.Keys(m)) {
		var lb [64]byte
		p.sample(name, string(appendLabelPair(lb[:0], label, k)), float64(m[k]))
	}
}

func (sc *metricsScratch) formatProcess(p *promText) {
	st := &sc.procSt
	p.single("process_cpu_seconds_total", promCounter, "Total user and system CPU time spent in seconds.", st.CPUSeconds)
	p.single("process_resident_memory_bytes", promGauge, "Resident memory size in bytes.", float64(st.ResidentBytes))
	p.single("process_virtual_memory_bytes", promGauge, "Virtual memory size in bytes.", float64(st.VirtualBytes))
	p.single("process_start_time_seconds", promGauge, "Start time of the process since unix epoch in seconds.", st.StartTime)
	p.single("process_open_fds", promGauge, "Number of open file descriptors.", float64(st.OpenFDs))
	if st.MaxFDs > 0 {
		p.single("process_max_fds", promGauge, "Maximum number of open file descriptors.", float64(st.MaxFDs))
	}
	p.single("process_threads", promGauge, "Number of OS threads of the process.", float64(st.Threads))
}

func (sc *metricsScratch) formatRuntime(p *promText) {
	for i, m := range goRuntimeMetrics {
		var v float64
		switch s := sc.runtime[i].Value; s.Kind() {
		case metrics.KindUint64:
			v = float64(s.Uint64())
		case metrics.KindFloat64:
			v = s.Float64()
		default:
			continue // not in this Go release
		}
		p.single(m.name, m.typ, m.help, v)
	}
	p.family("go_info", promGauge, "Information about the Go environment.")
	var lb [64]byte
	p.sample("go_info", string(appendLabelPair(lb[:0], "version", runtime.Version())), 1)
}
