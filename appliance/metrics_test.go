package appliance

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livedge/livedge/engine"
	"github.com/livedge/livedge/netio"
	"github.com/livedge/livedge/proto/httpts"
)

// promSeries is one parsed sample: family name, labels, value.
type promSeries struct {
	name   string
	labels map[string]string
	value  float64
}

var (
	promNameRe  = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	promLabelRe = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// parseExposition checks text against the Prometheus text format 0.0.4 and
// our naming rules, and returns its samples. Rules: every sample's family
// has one HELP and one TYPE line before its samples; a family's samples
// are contiguous; names and label names are valid; label values use only
// the \\ \" \n escapes; counters end in _total; no series appears twice.
func parseExposition(text string) ([]promSeries, error) {
	help := map[string]bool{}
	typ := map[string]string{}
	done := map[string]bool{} // families whose samples ended
	seen := map[string]bool{}
	current := ""
	var out []promSeries
	if !strings.HasSuffix(text, "\n") {
		return nil, fmt.Errorf("page does not end with a line feed")
	}
	for n, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		where := fmt.Sprintf("line %d %q", n+1, line)
		if rest, ok := strings.CutPrefix(line, "# "); ok {
			kind, rest, _ := strings.Cut(rest, " ")
			name, arg, _ := strings.Cut(rest, " ")
			switch kind {
			case "HELP":
				if help[name] {
					return nil, fmt.Errorf("%s: second HELP", where)
				}
				if err := checkHelpEscapes(arg); err != nil {
					return nil, fmt.Errorf("%s: %v", where, err)
				}
				help[name] = true
			case "TYPE":
				if typ[name] != "" {
					return nil, fmt.Errorf("%s: second TYPE", where)
				}
				switch arg {
				case "counter", "gauge", "untyped", "summary", "histogram":
				default:
					return nil, fmt.Errorf("%s: bad type", where)
				}
				if arg == "counter" && !strings.HasSuffix(name, "_total") {
					return nil, fmt.Errorf("%s: counter not named _total", where)
				}
				typ[name] = arg
			default:
				return nil, fmt.Errorf("%s: unknown comment", where)
			}
			if !promNameRe.MatchString(name) {
				return nil, fmt.Errorf("%s: bad metric name", where)
			}
			if done[name] || (current != "" && current != name) {
				if current != "" {
					done[current] = true
				}
			}
			if done[name] {
				return nil, fmt.Errorf("%s: family %s continues after another", where, name)
			}
			current = name
			continue
		}
		s, err := parseSample(line)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", where, err)
		}
		if !help[s.name] || typ[s.name] == "" {
			return nil, fmt.Errorf("%s: sample without HELP and TYPE", where)
		}
		if s.name != current {
			return nil, fmt.Errorf("%s: sample of %s among family %s", where, s.name, current)
		}
		key := line[:strings.LastIndexByte(line, ' ')]
		if seen[key] {
			return nil, fmt.Errorf("%s: duplicate series", where)
		}
		seen[key] = true
		out = append(out, s)
	}
	for name := range typ {
		if !help[name] {
			return nil, fmt.Errorf("family %s has TYPE but no HELP", name)
		}
	}
	return out, nil
}

func checkHelpEscapes(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			if i+1 == len(s) || (s[i+1] != '\\' && s[i+1] != 'n') {
				return fmt.Errorf("bad escape in HELP")
			}
			i++
		}
	}
	return nil
}

// parseSample reads `name{a="x",b="y"} value`.
func parseSample(line string) (promSeries, error) {
	s := promSeries{labels: map[string]string{}}
	i := strings.IndexAny(line, "{ ")
	if i <= 0 {
		return s, fmt.Errorf("no value")
	}
	s.name = line[:i]
	if !promNameRe.MatchString(s.name) {
		return s, fmt.Errorf("bad metric name %q", s.name)
	}
	rest := line[i:]
	if rest[0] == '{' {
		rest = rest[1:]
		for {
			eq := strings.IndexByte(rest, '=')
			if eq <= 0 {
				return s, fmt.Errorf("bad label list")
			}
			lname := rest[:eq]
			if !promLabelRe.MatchString(lname) || strings.HasPrefix(lname, "__") {
				return s, fmt.Errorf("bad label name %q", lname)
			}
			if _, dup := s.labels[lname]; dup {
				return s, fmt.Errorf("label %s twice", lname)
			}
			rest = rest[eq+1:]
			if rest == "" || rest[0] != '"' {
				return s, fmt.Errorf("label %s: value not quoted", lname)
			}
			var val strings.Builder
			j := 1
			for ; j < len(rest) && rest[j] != '"'; j++ {
				if rest[j] == '\n' {
					return s, fmt.Errorf("raw line feed in label value")
				}
				if rest[j] != '\\' {
					val.WriteByte(rest[j])
					continue
				}
				j++
				if j == len(rest) {
					return s, fmt.Errorf("label %s: unterminated escape", lname)
				}
				switch rest[j] {
				case '\\':
					val.WriteByte('\\')
				case '"':
					val.WriteByte('"')
				case 'n':
					val.WriteByte('\n')
				default:
					return s, fmt.Errorf("label %s: bad escape \\%c", lname, rest[j])
				}
			}
			if j == len(rest) {
				return s, fmt.Errorf("label %s: unterminated value", lname)
			}
			s.labels[lname] = val.String()
			rest = rest[j+1:]
			if strings.HasPrefix(rest, ",") {
				rest = rest[1:]
				if strings.HasPrefix(rest, "}") { // trailing comma is allowed
					rest = rest[1:]
					break
				}
				continue
			}
			if !strings.HasPrefix(rest, "}") {
				return s, fmt.Errorf("label list not closed")
			}
			rest = rest[1:]
			break
		}
	}
	if !strings.HasPrefix(rest, " ") {
		return s, fmt.Errorf("no space before value")
	}
	fields := strings.Fields(rest)
	if len(fields) < 1 || len(fields) > 2 {
		return s, fmt.Errorf("want value [timestamp]")
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return s, fmt.Errorf("bad value: %v", err)
	}
	s.value = v
	return s, nil
}

// find returns the value of the series with name and labels (nil: none).
func find(samples []promSeries, name string, labels ...string) (float64, bool) {
next:
	for _, s := range samples {
		if s.name != name || len(s.labels) != len(labels)/2 {
			continue
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if s.labels[labels[i]] != labels[i+1] {
				continue next
			}
		}
		return s.value, true
	}
	return 0, false
}

// fakeScratch is a snapshot of n made-up streams, as collect would make it.
func fakeScratch(names ...string) *metricsScratch {
	sc := &metricsScratch{configured: len(names) + 1, running: len(names), hasSessions: true, bytesOut: 12345, untracked: 2,
		hasNet: true, net: netio.Stats{Accepted: 10, Open: 3, Requests: 42, Streaming: 2,
			Closed:  map[string]uint64{"client": 5, "idle_timeout": 2},
			Refused: map[string]uint64{"max_connections": 1}},
		started: time.Now()}
	sc.readProcess()
	sc.readRuntime()
	for i, name := range names {
		from := len(sc.arena)
		sc.arena = appendLabelPair(sc.arena, "stream", name)
		sc.streams = append(sc.streams, streamSample{
			label: [2]int{from, len(sc.arena)},
			status: engine.Status{Name: name, Alive: i%2 == 0, InputIndex: 0, InputBitrate: 1500, BytesIn: uint64(1e6 + i),
				LastFrameAge: 40 * time.Millisecond, Lifetime: time.Minute, Restarts: 1},
			startTime: 1.7e9 + 0.25,
			hub:       httpts.HubStats{Viewers: 3, Resyncs: 4, Dropped: 5},
			usage:     streamUsage{HLS: 7, MPEGTS: 3, BytesOut: 1 << 40},
			hasUsage:  true,
		})
	}
	return sc
}

func TestMetricsExposition(t *testing.T) {
	evil := "we\"ird\\name\nwith ünïcode \xff"
	sc := fakeScratch("a", evil)
	page := string(sc.format())
	samples, err := parseExposition(page)
	if err != nil {
		t.Fatalf("%v\n%s", err, page)
	}
	want := []struct {
		name   string
		labels []string
		value  float64
	}{
		{"livedge_streams_configured", nil, 3},
		{"livedge_streams_running", nil, 2},
		{"livedge_stream_viewers", []string{"stream", "a", "protocol", "hls"}, 7},
		{"livedge_stream_viewers", []string{"stream", "a", "protocol", "mpegts"}, 3},
		{"livedge_stream_alive", []string{"stream", "a"}, 1},
		{"livedge_stream_bytes_in_total", []string{"stream", "a"}, 1e6},
		{"livedge_stream_bytes_out_total", []string{"stream", "a"}, 1 << 40},
		{"livedge_stream_input_bitrate_bits_per_second", []string{"stream", "a"}, 1.5e6},
		{"livedge_stream_source_restarts_total", []string{"stream", "a"}, 1},
		{"livedge_stream_resyncs_total", []string{"stream", "a"}, 4},
		{"livedge_stream_dropped_viewers_total", []string{"stream", "a"}, 5},
		{"livedge_stream_last_frame_age_seconds", []string{"stream", "a"}, 0.04},
		{"livedge_stream_start_time_seconds", []string{"stream", "a"}, 1.7e9 + 0.25},
		// The odd name comes back as it went in, its invalid byte as U+FFFD.
		{"livedge_stream_alive", []string{"stream", string([]rune(evil))}, 0},
		{"livedge_stream_bytes_in_total", []string{"stream", string([]rune(evil))}, 1e6 + 1},
		{"livedge_output_bytes_total", nil, 12345},
		{"livedge_http_connections_accepted_total", nil, 10},
		{"livedge_http_connections_open", nil, 3},
		{"livedge_http_connections_closed_total", []string{"reason", "client"}, 5},
		{"livedge_http_connections_refused_total", []string{"reason", "max_connections"}, 1},
		{"livedge_http_requests_total", nil, 42},
	}
	for _, w := range want {
		got, ok := find(samples, w.name, w.labels...)
		if !ok || math.Abs(got-w.value) > 1e-9*math.Abs(w.value) {
			t.Errorf("%s%q = %v (found %v), want %v", w.name, w.labels, got, ok, w.value)
		}
	}
	// Process and runtime figures are real; check they are there and sane.
	for _, name := range []string{"process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds",
		"process_start_time_seconds", "go_goroutines", "go_memstats_heap_alloc_bytes", "go_gc_cycles_total"} {
		if _, ok := find(samples, name); !ok {
			t.Errorf("%s missing", name)
		}
	}
	if v, _ := find(samples, "process_resident_memory_bytes"); v < 1<<20 {
		t.Errorf("process_resident_memory_bytes = %v", v)
	}
	if v, _ := find(samples, "process_open_fds"); v < 3 {
		t.Errorf("process_open_fds = %v", v)
	}
	if v, _ := find(samples, "process_start_time_seconds"); math.Abs(v-float64(time.Now().Unix())) > 3600 {
		t.Errorf("process_start_time_seconds = %v, now %d", v, time.Now().Unix())
	}
	if v, _ := find(samples, "go_goroutines"); v < 1 {
		t.Errorf("go_goroutines = %v", v)
	}
}

// The checker itself must refuse what Prometheus refuses.
func TestParseExpositionRefuses(t *testing.T) {
	for _, bad := range []string{
		"a 1\n", // no HELP/TYPE
		"# HELP a x\n# TYPE a gauge\na{b=\"\\x\"} 1\n",                            // bad escape
		"# HELP a x\n# TYPE a counter\na 1\n",                                     // counter without _total
		"# HELP a x\n# TYPE a gauge\na 1\n# HELP b x\n# TYPE b gauge\nb 1\na 2\n", // family split
		"# HELP a x\n# TYPE a gauge\na{b=\"1\"} 1\na{b=\"1\"} 2\n",                // duplicate
		"# HELP a x\n# TYPE a gauge\na{1b=\"1\"} 1\n",                             // bad label name
		"# HELP a x\n# TYPE a gauge\na one\n",                                     // bad value
	} {
		if _, err := parseExposition(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestPromValue(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 42: "42", -1: "-1", 0.04: "0.04", 1e300: "1e+300",
		math.Inf(1): "+Inf", math.Inf(-1): "-Inf", 1700000000.25: "1700000000.25", 1e-7: "1e-07", 1e20: "1e+20"} {
		if got := string(appendPromValue(nil, v)); got != want {
			t.Errorf("%v: %q, want %q", v, got, want)
		}
	}
	if got := string(appendPromValue(nil, math.NaN())); got != "NaN" {
		t.Errorf("NaN: %q", got)
	}
}

func TestAcceptsGzip(t *testing.T) {
	for h, want := range map[string]bool{
		"": false, "gzip": true, "GZIP": true, "deflate, gzip;q=0.5": true, "gzip;q=0": false,
		"gzip; q=0.0": false, "br, identity": false, "x-gzip": false, " gzip ; q=1 ": true,
	} {
		if got := acceptsGzip(h); got != want {
			t.Errorf("%q: %v", h, got)
		}
	}
}

func TestParseProcStat(t *testing.T) {
	// comm with spaces and a parenthesis, as proc(5) allows.
	line := "1234 (live dge) x) S 1 1234 1234 0 -1 4194560 2000 0 0 0 250 150 0 0 20 0 12 0 5000 123456789 2500 " +
		"18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
	st, err := parseProcStat([]byte(line), 1_700_000_000, 4096)
	if err != nil {
		t.Fatal(err)
	}
	want := procStats{CPUSeconds: 4, Threads: 12, StartTime: 1_700_000_050, VirtualBytes: 123456789, ResidentBytes: 2500 * 4096}
	if st != want {
		t.Fatalf("got %+v\nwant %+v", st, want)
	}
	for _, bad := range []string{"", "1 (x) S 1 2 3", "1 (x" + strings.Repeat(" 1", 30), "1 (x)" + strings.Repeat(" z", 30)} {
		if _, err := parseProcStat([]byte(bad), 0, 4096); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	if bt, err := parseBootTime([]byte("cpu 1 2\nbtime 1699999999\nprocesses 5\n")); err != nil || bt != 1699999999 {
		t.Errorf("btime %d %v", bt, err)
	}
}

// countFDs must agree with a plain directory read.
func TestCountFDs(t *testing.T) {
	var r procReader
	n, err := r.countFDs()
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	// ReadDir's own descriptor shows in its listing; countFDs leaves its out.
	if want := len(entries) - 1; n != want {
		t.Fatalf("countFDs %d, ReadDir says %d", n, want)
	}
}

// metricsNode is a daemon in process with the server's stats wired as the
// daemon wires them.
func metricsNode(t *testing.T, conf string) string {
	t.Helper()
	return newTestNode(t, conf).base
}

func scrape(t *testing.T, method, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "identity")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	// A bare transport: no transparent gzip, so the test sees the wire.
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableCompression: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestServeMetrics(t *testing.T) {
	base := metricsNode(t, "stream live { input testsrc://?size=320x176&gop=1; static; }\nstream idle { input testsrc://; }\n")
	// Wait for the static stream's first frames, so it is alive.
	deadline := time.Now().Add(10 * time.Second)
	var samples []promSeries
	for {
		resp, body := scrape(t, "GET", base+"/metrics")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != metricsContentType {
			t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		var err error
		if samples, err = parseExposition(string(body)); err != nil {
			t.Fatalf("%v\n%s", err, body)
		}
		if v, _ := find(samples, "livedge_stream_alive", "stream", "live"); v == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream never alive:\n%s", body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if v, ok := find(samples, "livedge_streams_configured"); !ok || v != 2 {
		t.Errorf("livedge_streams_configured %v %v", v, ok)
	}
	if v, ok := find(samples, "livedge_streams_running"); !ok || v != 1 {
		t.Errorf("livedge_streams_running %v %v", v, ok)
	}
	if v, _ := find(samples, "livedge_stream_bytes_in_total", "stream", "live"); v <= 0 {
		t.Errorf("bytes in %v", v)
	}
	if v, _ := find(samples, "livedge_http_connections_accepted_total"); v < 1 {
		t.Errorf("accepted %v", v)
	}
	if _, ok := find(samples, "livedge_stream_alive", "stream", "idle"); ok {
		t.Errorf("a stream that does not run has samples")
	}

	// A viewer shows up by protocol.
	req, _ := http.NewRequest("GET", base+"/live/mpegts", nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	viewer, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer viewer.Body.Close()
	if _, err := io.ReadFull(viewer.Body, make([]byte, 188*10)); err != nil {
		t.Fatal(err)
	}
	for {
		_, body := scrape(t, "GET", base+"/metrics")
		samples, _ = parseExposition(string(body))
		if v, _ := find(samples, "livedge_stream_viewers", "stream", "live", "protocol", "mpegts"); v == 1 {
			break
		}
		if time.Now().After(deadline.Add(5 * time.Second)) {
			t.Fatalf("viewer not counted:\n%s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// gzip for scrapers that ask; HEAD gets the headers only.
	resp, body := scrape(t, "GET", base+"/metrics", "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q", resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseExposition(string(plain)); err != nil {
		t.Fatalf("gzipped page: %v", err)
	}
	resp, body = scrape(t, "HEAD", base+"/metrics")
	if resp.StatusCode != 200 || len(body) != 0 {
		t.Fatalf("HEAD: %d, %d bytes", resp.StatusCode, len(body))
	}
	if resp, _ := scrape(t, "POST", base+"/metrics"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
}

// Scrapes that come together share one rendering: they get the same page.
func TestMetricsScrapesShareRendering(t *testing.T) {
	base := metricsNode(t, "stream live { input testsrc://?size=320x176; static; }\n")
	const scrapers = 8
	var wg sync.WaitGroup
	pages := make([]string, scrapers)
	start := make(chan struct{})
	for i := range pages {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, body := scrape(t, "GET", base+"/metrics")
			pages[i] = string(body)
		}()
	}
	close(start)
	wg.Wait()
	distinct := map[string]bool{}
	for _, p := range pages {
		distinct[p] = true
	}
	// All within metricsMaxAge of each other on an idle machine: one or
	// two renderings, never one per scrape.
	if len(distinct) > 2 {
		t.Fatalf("%d scrapes made %d different pages", scrapers, len(distinct))
	}
}

func TestMetricsViewAuth(t *testing.T) {
	base := metricsNode(t, "view_auth viewer viewerpw;\nstream live { input testsrc://; }\n")
	resp, _ := scrape(t, "GET", base+"/metrics")
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("no credentials: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	resp, body := scrape(t, "GET", base+"/metrics", "Authorization", "Basic dmlld2VyOnZpZXdlcnB3") // viewer:viewerpw
	if resp.StatusCode != 200 {
		t.Fatalf("with credentials: %d %s", resp.StatusCode, body)
	}
}

// Every line of a page is short and there are a dozen per stream: check the
// page's size scales as expected, so a regression that repeats a family
// per stream shows.
func TestMetricsPageSize(t *testing.T) {
	sc := fakeScratch(streamNames(1000)...)
	page := sc.format()
	lines := 0
	sc2 := bufio.NewScanner(bytes.NewReader(page))
	for sc2.Scan() {
		lines++
	}
	if lines < 12*1000 || lines > 14*1000+200 {
		t.Fatalf("%d lines for 1000 streams", lines)
	}
}

func streamNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("channel-%05d", i)
	}
	return names
}

// BenchmarkMetricsFormat10k renders the page of 10,000 streams (the
// snapshot is taken once; collect is benchmarked by BenchmarkMetricsRender).
func BenchmarkMetricsFormat10k(b *testing.B) {
	sc := fakeScratch(streamNames(10_000)...)
	b.ReportAllocs()
	var size int
	for b.Loop() {
		size = len(sc.format())
	}
	b.ReportMetric(float64(size), "bytes/page")
}

// BenchmarkMetricsRender10k is a whole rendering of 10,000 running streams
// of a real registry: collect from the streams, the session table, /proc
// and the runtime, then format.
func BenchmarkMetricsRender10k(b *testing.B) {
	streams := engine.NewRegistry(engine.RegistryOptions{
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Open:     func(engine.InputConfig) (engine.Source, error) { return idleSource{}, nil },
		Packager: newOutputs,
	})
	defer streams.Close()
	var configs []engine.StreamConfig
	for _, name := range streamNames(10_000) {
		configs = append(configs, engine.StreamConfig{Name: name, Static: true,
			Inputs: []engine.InputConfig{{URL: "testsrc://"}}})
	}
	streams.Apply(configs)
	rt := &router{streams: streams, sessions: newSessionTable()}
	stats := func() netio.Stats {
		return netio.Stats{Closed: map[string]uint64{"client": 1}, Refused: map[string]uint64{"shutdown": 0}}
	}
	var sc metricsScratch
	b.ReportAllocs()
	var size int
	for b.Loop() {
		sc.collect(rt, stats)
		size = len(sc.format())
	}
	if sc.running != 10_000 {
		b.Fatalf("%d streams running", sc.running)
	}
	b.ReportMetric(float64(size), "bytes/page")
}

// idleSource is a source that sends nothing until stopped.
type idleSource struct{}

func (idleSource) Run(ctx context.Context, _ engine.Sink) error {
	<-ctx.Done()
	return ctx.Err()
}

// FuzzPromLabel: any label value survives escaping and parsing unchanged
// (each invalid UTF-8 byte as U+FFFD), and never breaks the page's structure.
func FuzzPromLabel(f *testing.F) {
	for _, s := range []string{"", "a", `"`, `\`, "\n", `\n`, "a\"b\\c\nd", "\xff\xfe", "ünï", "}", "=", ",", " 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		p := &promText{}
		p.family("x", promGauge, "help with \\ and\nline feed "+value)
		var lb []byte
		lb = appendLabelPair(lb, "stream", value)
		p.sampleLabelBytes("x", lb, `,protocol="hls"`, 1)
		samples, err := parseExposition(string(p.b))
		if err != nil {
			t.Fatalf("%v\n%q", err, p.b)
		}
		if len(samples) != 1 || samples[0].labels["stream"] != string([]rune(value)) {
			t.Fatalf("value %q came back as %q", value, samples[0].labels["stream"])
		}
		_ = acceptsGzip(value)
	})
}

// FuzzProcStat: /proc parsers never panic and refuse what they cannot read.
func FuzzProcStat(f *testing.F) {
	f.Add([]byte("1234 (live dge) x) S 1 1234 1234 0 -1 4194560 2000 0 0 0 250 150 0 0 20 0 12 0 5000 123456789 2500 0 1\n"))
	f.Add([]byte("1 (x) S"))
	f.Add([]byte("btime 1700000000\n"))
	if data, err := os.ReadFile("/proc/self/stat"); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if st, err := parseProcStat(data, 1_700_000_000, 4096); err == nil && st.CPUSeconds < 0 {
			t.Fatalf("negative CPU time from %q", data)
		}
		_, _ = parseBootTime(data)
		if n := countDirents(data); n < 0 || n > len(data) {
			t.Fatalf("countDirents %d of %d bytes", n, len(data))
		}
	})
}
