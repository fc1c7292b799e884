package configext

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livedge/livedge/engine"
)

var itoa = strconv.Itoa

// testBackend is a config backend that records every request. Listed
// streams come back from the list endpoint; known streams only from name
// queries.
type testBackend struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	listed   []string          // names in list order
	configs  map[string]string // name → stream JSON, listed or known
	known    map[string]bool   // answered to name queries though not listed
	episodes map[string]string // media → response body
	pageSize int               // 0: one page
	header   http.Header       // extra headers of the list endpoint
	etags    bool
	// fault, when set, may answer a request itself (returns true).
	fault func(w http.ResponseWriter, r *http.Request) bool
	reqs  []recorded
}

type recorded struct {
	Path        string
	Endpoint    string // last path element
	RawQuery    string
	Query       url.Values
	Auth        string
	IfNoneMatch string
}

func newTestBackend(t testing.TB) *testBackend {
	b := &testBackend{
		t: t, configs: map[string]string{}, known: map[string]bool{},
		episodes: map[string]string{}, header: http.Header{},
	}
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.srv.Close)
	return b
}

// url is the backend's base URL with path.
func (b *testBackend) url(path string) string { return b.srv.URL + path }

// stream makes a valid stream JSON.
func stream(name string, extra ...string) string {
	fields := []string{fmt.Sprintf(`"name":%q`, name), fmt.Sprintf(`"inputs":[{"url":"udp://239.0.0.1:%d"}]`, 1000+len(name))}
	fields = append(fields, extra...)
	return "{" + strings.Join(fields, ",") + "}"
}

func (b *testBackend) setListed(streams ...string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, n := range b.listed {
		if !b.known[n] {
			delete(b.configs, n)
		}
	}
	b.listed = b.listed[:0]
	for _, s := range streams {
		name := nameOf(s)
		b.listed = append(b.listed, name)
		b.configs[name] = s
	}
}

func (b *testBackend) setKnown(streams ...string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range streams {
		name := nameOf(s)
		b.known[name] = true
		b.configs[name] = s
	}
}

func nameOf(s string) string {
	var v struct{ Name string }
	_ = json.Unmarshal([]byte(s), &v)
	return v.Name
}

func (b *testBackend) setFault(f func(w http.ResponseWriter, r *http.Request) bool) {
	b.mu.Lock()
	b.fault = f
	b.mu.Unlock()
}

func (b *testBackend) requests() []recorded {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.reqs)
}

func (b *testBackend) reset() {
	b.mu.Lock()
	b.reqs = nil
	b.mu.Unlock()
}

// named returns the requests to an endpoint.
func (b *testBackend) named(endpoint string, withName bool) []recorded {
	var out []recorded
	for _, r := range b.requests() {
		if r.Endpoint == endpoint && r.Query.Has("name") == withName {
			out = append(out, r)
		}
	}
	return out
}

func (b *testBackend) serve(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	rec := recorded{
		Path: r.URL.Path, Endpoint: r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:],
		RawQuery: r.URL.RawQuery, Query: r.URL.Query(),
		Auth: r.Header.Get("Authorization"), IfNoneMatch: r.Header.Get("If-None-Match"),
	}
	b.reqs = append(b.reqs, rec)
	fault := b.fault
	b.mu.Unlock()
	if fault != nil && fault(w, r) {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	q := r.URL.Query()
	switch rec.Endpoint {
	case "streams", "update_streams_list", "dynamic_streams_list":
		if !q.Has("name") {
			b.serveList(w, q.Get("cursor"), rec.IfNoneMatch)
			return
		}
		var out []string
		for n := range strings.SplitSeq(q.Get("name"), ",") {
			if c, ok := b.configs[n]; ok {
				out = append(out, c)
			}
		}
		fmt.Fprintf(w, `{"streams":[%s]}`, strings.Join(out, ","))
	case "episodes":
		body, ok := b.episodes[q.Get("media")]
		if !ok {
			body = `{"episodes":[]}`
		}
		if code, err := strconv.Atoi(body); err == nil {
			w.WriteHeader(code)
			return
		}
		fmt.Fprint(w, body)
	default:
		http.NotFound(w, r)
	}
}

// serveList answers a page of the list; b.mu is held.
func (b *testBackend) serveList(w http.ResponseWriter, cursor, ifNoneMatch string) {
	start, _ := strconv.Atoi(cursor)
	end := len(b.listed)
	if b.pageSize > 0 {
		end = min(start+b.pageSize, end)
	}
	var body bytes.Buffer
	body.WriteString(`{"streams":[`)
	for i, n := range b.listed[start:end] {
		if i > 0 {
			body.WriteByte(',')
		}
		body.WriteString(b.configs[n])
	}
	body.WriteString(`]`)
	if end < len(b.listed) {
		fmt.Fprintf(&body, `,"next":"%d"`, end)
	}
	body.WriteString(`}`)
	for k, v := range b.header {
		w.Header()[k] = v
	}
	if b.etags {
		sum := sha256.Sum256(body.Bytes())
		etag := `"` + hex.EncodeToString(sum[:8]) + `"`
		w.Header().Set("ETag", etag)
		if ifNoneMatch == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	_, _ = w.Write(body.Bytes())
}

// applyRecorder keeps what Apply received and plays the registry: the
// streams applied are the streams running.
type applyRecorder struct {
	mu    sync.Mutex
	calls [][]engine.StreamConfig
}

func (a *applyRecorder) apply(s []engine.StreamConfig) {
	a.mu.Lock()
	a.calls = append(a.calls, s)
	a.mu.Unlock()
}

func (a *applyRecorder) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.calls)
}

func (a *applyRecorder) last() []engine.StreamConfig {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.calls) == 0 {
		return nil
	}
	return a.calls[len(a.calls)-1]
}

func (a *applyRecorder) lastNames() []string {
	var names []string
	for _, s := range a.last() {
		names = append(names, s.Name)
	}
	return names
}

// running plays the registry: what was applied last runs.
func (a *applyRecorder) running() []string { return a.lastNames() }

// logBuffer collects log output safely.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newTestClient makes a client of b with the recorder as registry.
func newTestClient(t testing.TB, rawURL string, a *applyRecorder, logs *logBuffer, extra ...func(*Options)) *Client {
	t.Helper()
	if logs == nil {
		logs = &logBuffer{}
	}
	o := Options{URL: rawURL, Running: a.running, Apply: a.apply, Log: logs.logger(), Timeout: 2 * time.Second}
	for _, f := range extra {
		f(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
