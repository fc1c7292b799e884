package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// configBackend is a config_external backend for tests: it lists its
// static streams, answers name queries for listed and dynamic streams, and
// records every request.
type configBackend struct {
	srv *httptest.Server

	mu        sync.Mutex
	listed    map[string]string // static streams: name -> input URL
	dynamic   map[string]string // known only when asked by name
	failing   bool              // answer 500
	separate  bool              // X-Config-Server-Separate-Endpoints: true
	noDynamic bool              // X-Config-Server-Dynamic-Streams: false
	requests  []string          // path?query of every request
}

func newConfigBackend(t *testing.T) *configBackend {
	t.Helper()
	b := &configBackend{listed: map[string]string{}, dynamic: map[string]string{}}
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.srv.Close)
	return b
}

// url is the list endpoint, as config_external takes it.
func (b *configBackend) url() string { return b.srv.URL + "/streams" }

type backendStream struct {
	Name   string              `json:"name"`
	Static bool                `json:"static"`
	Inputs []map[string]string `json:"inputs"`
}

func (b *configBackend) serve(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.requests = append(b.requests, r.URL.RequestURI())
	if b.failing {
		http.Error(w, "backend down", http.StatusInternalServerError)
		return
	}
	switch {
	case r.URL.Path == "/streams":
		if b.separate {
			w.Header().Set("X-Config-Server-Separate-Endpoints", "true")
		}
		if b.noDynamic {
			w.Header().Set("X-Config-Server-Dynamic-Streams", "false")
		}
	case b.separate && (r.URL.Path == "/update_streams_list" || r.URL.Path == "/dynamic_streams_list"):
		if r.URL.Query().Get("name") == "" {
			http.Error(w, "name required", http.StatusBadRequest)
			return
		}
	default:
		http.NotFound(w, r)
		return
	}
	out := struct {
		Streams []backendStream `json:"streams"`
	}{Streams: []backendStream{}}
	add := func(name, input string, static bool) {
		out.Streams = append(out.Streams, backendStream{Name: name, Static: static, Inputs: []map[string]string{{"url": input}}})
	}
	if names := r.URL.Query().Get("name"); names != "" {
		for _, n := range strings.Split(names, ",") {
			if in, ok := b.listed[n]; ok {
				add(n, in, true)
			} else if in, ok := b.dynamic[n]; ok {
				add(n, in, false)
			}
		}
	} else {
		for n, in := range b.listed {
			add(n, in, true)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func (b *configBackend) set(f func(b *configBackend)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f(b)
}

func (b *configBackend) asked(query string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.ContainsFunc(b.requests, func(r string) bool { return strings.Contains(r, query) })
}

const (
	srcA = "testsrc://?bitrate=300k&size=320x176"
	srcB = "testsrc://?bitrate=250k&size=320x176"
)

// playsTS reads the start of /NAME/mpegts and says whether it is MPEG-TS.
func (s *server) playsTS(name string) (int, bool) {
	s.t.Helper()
	client := &http.Client{Timeout: 15 * time.Second}
	resp, err := client.Get(s.base + "/" + name + "/mpegts")
	if err != nil {
		s.t.Fatalf("GET /%s/mpegts: %v", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, false
	}
	buf := make([]byte, 188*8)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		return resp.StatusCode, false
	}
	for i := 0; i < len(buf); i += 188 {
		if buf[i] != 0x47 {
			return resp.StatusCode, false
		}
	}
	return resp.StatusCode, true
}

// externalStatus reads config_external_status of GET /config/stats.
func (s *server) externalStatus() map[string]any {
	s.t.Helper()
	var v struct {
		Status map[string]any `json:"config_external_status"`
	}
	if err := json.Unmarshal(s.mustCall(200, "GET", api+"/config/stats", "", ""), &v); err != nil {
		s.t.Fatal(err)
	}
	return v.Status
}

func (s *server) hasStream(name string) bool {
	code, _, _ := s.call("GET", api+"/streams/"+name, "", "")
	return code == http.StatusOK
}

// Streams appear, change and disappear as the backend says; API edits of
// streams are refused; a file stream the backend does not list runs from
// the file.
func TestConfigExternalStreams(t *testing.T) {
	t.Parallel()
	be := newConfigBackend(t)
	be.set(func(b *configBackend) { b.listed["x"] = srcA })
	s := startServer(t, fmt.Sprintf("config_external %s;\nstream f { input %s; static; }\n", be.url(), srcA))

	waitUntil(t, 20*time.Second, "x appears", func() bool { return s.hasStream("x") })
	if d := s.stream("x"); d.NamedBy != "external" || !d.Static {
		t.Fatalf("x: named_by %q static %v, want external and static", d.NamedBy, d.Static)
	}
	if code, ok := s.playsTS("x"); !ok {
		t.Fatalf("GET /x/mpegts: %d, no MPEG-TS", code)
	}

	// The file's stream: the backend is asked for it and does not know it.
	waitUntil(t, 20*time.Second, "the backend is asked for f", func() bool { return be.asked("name=f") })
	if d := s.stream("f"); d.NamedBy != "config" {
		t.Fatalf("f: named_by %q, want config", d.NamedBy)
	}
	if code, ok := s.playsTS("f"); !ok {
		t.Fatalf("GET /f/mpegts: %d, no MPEG-TS (file fallback)", code)
	}

	code, body, _ := s.call("PUT", api+"/streams/y", `{"inputs":[{"url":"`+srcA+`"}]}`, "")
	if code != http.StatusBadRequest || firstAPIError(t, body).Code != "managed_by_config_external" {
		t.Fatalf("PUT /streams/y: %d %s, want 400 managed_by_config_external", code, body)
	}
	if code, body, _ := s.call("DELETE", api+"/streams/f", "", ""); code != http.StatusBadRequest {
		t.Fatalf("DELETE /streams/f: %d %s, want 400", code, body)
	}

	// A changed input restarts x only.
	time.Sleep(time.Second) // lifetimes that can shrink
	xBefore, fBefore := lifetime(s.stream("x")), lifetime(s.stream("f"))
	be.set(func(b *configBackend) { b.listed["x"] = srcB })
	waitUntil(t, 20*time.Second, "x takes the new input", func() bool {
		d := s.stream("x")
		return len(d.Inputs) == 1 && d.Inputs[0].URL == srcB
	})
	if x := lifetime(s.stream("x")); x >= xBefore {
		t.Fatalf("x did not restart on its input change (lifetime %v -> %v)", xBefore, x)
	}
	if f := lifetime(s.stream("f")); f < fBefore {
		t.Fatalf("f restarted (lifetime %v -> %v)", fBefore, f)
	}

	// Gone from the backend: gone here.
	be.set(func(b *configBackend) { delete(b.listed, "x") })
	waitUntil(t, 20*time.Second, "x disappears", func() bool { return !s.hasStream("x") })
	if code, _ := s.playsTS("x"); code != http.StatusNotFound {
		t.Fatalf("GET /x/mpegts after removal: %d, want 404", code)
	}
	if !s.hasStream("f") {
		t.Fatal("the file's stream f went with the backend's x")
	}
}

// A backend outage changes no stream; the status goes to error and back.
func TestConfigExternalOutage(t *testing.T) {
	t.Parallel()
	be := newConfigBackend(t)
	be.set(func(b *configBackend) { b.listed["x"] = srcA })
	s := startServer(t, fmt.Sprintf("config_external %s;\n", be.url()))

	waitUntil(t, 20*time.Second, "x appears", func() bool { return s.hasStream("x") })
	waitUntil(t, 20*time.Second, "status loaded", func() bool { return s.externalStatus()["status"] == "loaded" })
	before := lifetime(s.stream("x"))

	be.set(func(b *configBackend) { b.failing = true })
	waitUntil(t, 20*time.Second, "status error", func() bool { return s.externalStatus()["status"] == "error" })
	if st := s.externalStatus(); st["code"] != float64(500) || st["while"] != "refresh" {
		t.Fatalf("config_external_status during the outage: %v", st)
	}
	time.Sleep(3 * time.Second) // another failed cycle or so
	during := lifetime(s.stream("x"))
	if during <= before {
		t.Fatalf("x restarted during the outage (lifetime %v -> %v)", before, during)
	}
	_, metrics, _ := s.get("/metrics")
	if !strings.Contains(string(metrics), "livedge_config_external_up 0") {
		t.Fatalf("/metrics during the outage lacks livedge_config_external_up 0")
	}

	be.set(func(b *configBackend) { b.failing = false })
	waitUntil(t, 20*time.Second, "status loaded again", func() bool { return s.externalStatus()["status"] == "loaded" })
	if after := lifetime(s.stream("x")); after <= during {
		t.Fatalf("x restarted after the outage (lifetime %v -> %v)", during, after)
	}
	_, metrics, _ = s.get("/metrics")
	for _, want := range []string{"livedge_config_external_up 1", "livedge_config_external_failures_total "} {
		if !strings.Contains(string(metrics), want) {
			t.Fatalf("/metrics lacks %q", want)
		}
	}
}

// A viewer of a name only the backend knows gets video; an unknown name
// gets 404; turning config_external off by the API frees the streams.
func TestConfigExternalDynamic(t *testing.T) {
	t.Parallel()
	be := newConfigBackend(t)
	be.set(func(b *configBackend) { b.dynamic["dyn"] = srcA })
	s := startServer(t, fmt.Sprintf("config_external %s;\n", be.url()))
	waitUntil(t, 20*time.Second, "status loaded", func() bool { return s.externalStatus()["status"] == "loaded" })

	code, body, _ := s.get("/dyn/index.m3u8")
	if code != http.StatusOK || !strings.HasPrefix(string(body), "#EXTM3U") {
		t.Fatalf("GET /dyn/index.m3u8: %d %s", code, body)
	}
	if !be.asked("name=dyn") {
		t.Fatal("the backend was not asked for dyn")
	}
	if d := s.stream("dyn"); d.NamedBy != "external" {
		t.Fatalf("dyn: named_by %q, want external", d.NamedBy)
	}
	if code, _, _ := s.get("/nope/index.m3u8"); code != http.StatusNotFound {
		t.Fatalf("GET /nope/index.m3u8: %d, want 404", code)
	}

	s.mustCall(200, "PUT", api+"/config", `{"config_external":null}`, "")
	if st := s.externalStatus(); st != nil {
		t.Fatalf("config_external_status after turning it off: %v", st)
	}
	if s.hasStream("dyn") {
		t.Fatal("dyn stayed after config_external was turned off")
	}
	s.mustCall(200, "PUT", api+"/streams/y", `{"inputs":[{"url":"`+srcA+`"}]}`, "")
	if code, _, _ := s.get("/zzz/index.m3u8"); code != http.StatusNotFound || be.asked("name=zzz") {
		t.Fatalf("GET /zzz/index.m3u8 with config_external off: %d, backend asked %v; want 404 and no request", code, be.asked("name=zzz"))
	}
}

// count says how many recorded requests contain query.
func (b *configBackend) count(query string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, r := range b.requests {
		if strings.Contains(r, query) {
			n++
		}
	}
	return n
}

// With separate endpoints, a burst of viewers of unknown names becomes one
// dynamic_streams_list request naming them all, and every viewer gets video.
func TestConfigExternalDynamicBurst(t *testing.T) {
	t.Parallel()
	be := newConfigBackend(t)
	names := []string{"d1", "d2", "d3", "d4", "d5"}
	be.set(func(b *configBackend) {
		b.separate = true
		for _, n := range names {
			b.dynamic[n] = srcA
		}
	})
	s := startServer(t, fmt.Sprintf("config_external %s;\n", be.url()))
	waitUntil(t, 20*time.Second, "status loaded", func() bool { return s.externalStatus()["status"] == "loaded" })

	var wg sync.WaitGroup
	codes := make([]int, len(names))
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := (&http.Client{Timeout: 20 * time.Second}).Get(s.base + "/" + n + "/index.m3u8")
			if err == nil {
				codes[i] = resp.StatusCode
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Fatalf("viewer of %s: status %d", names[i], c)
		}
	}
	if n := be.count("/dynamic_streams_list?"); n != 1 {
		t.Fatalf("%d dynamic_streams_list requests for a burst of %d names, want 1: %v", n, len(names), be.recorded())
	}
	if be.count("/streams?name=") != 0 {
		t.Fatalf("name queries went to /streams despite separate endpoints: %v", be.recorded())
	}
	waitUntil(t, 20*time.Second, "the diff goes to update_streams_list", func() bool { return be.asked("/update_streams_list?name=") })
	if code, ok := s.playsTS("d3"); !ok {
		t.Fatalf("d3 does not play: %d", code)
	}
}

// The backend goes away for 30 s (connections refused) and comes back on the
// same address: no stream stops or restarts, and the status says so.
func TestConfigExternalBackendGone30s(t *testing.T) {
	t.Parallel()
	be := newConfigBackend(t)
	be.set(func(b *configBackend) { b.listed["x"] = srcA })
	addr := be.srv.Listener.Addr().String()
	s := startServer(t, fmt.Sprintf("config_external %s;\n", be.url()))
	waitUntil(t, 20*time.Second, "x appears", func() bool { return s.hasStream("x") })
	waitUntil(t, 20*time.Second, "status loaded", func() bool { return s.externalStatus()["status"] == "loaded" })
	before := lifetime(s.stream("x"))

	be.srv.Close()
	waitUntil(t, 20*time.Second, "status error", func() bool { return s.externalStatus()["status"] == "error" })
	time.Sleep(30 * time.Second)
	if code, ok := s.playsTS("x"); !ok {
		t.Fatalf("x stopped playing during the outage: %d", code)
	}
	during := lifetime(s.stream("x"))
	if during <= before {
		t.Fatalf("x restarted during the outage (lifetime %v -> %v)", before, during)
	}

	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	back := httptest.NewUnstartedServer(http.HandlerFunc(be.serve))
	back.Listener.Close()
	back.Listener = l
	back.Start()
	t.Cleanup(back.Close)
	waitUntil(t, 20*time.Second, "status loaded again", func() bool { return s.externalStatus()["status"] == "loaded" })
	if after := lifetime(s.stream("x")); after <= during {
		t.Fatalf("x restarted after the outage (lifetime %v -> %v)", during, after)
	}
}

// recorded is a copy of the requests so far.
func (b *configBackend) recorded() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.requests)
}

// X-Config-Server-Dynamic-Streams: false makes unknown names 404 at once,
// without asking the backend.
func TestConfigExternalDynamicOff(t *testing.T) {
	t.Parallel()
	be := newConfigBackend(t)
	be.set(func(b *configBackend) {
		b.noDynamic = true
		b.dynamic["zz"] = srcA
	})
	s := startServer(t, fmt.Sprintf("config_external %s;\n", be.url()))
	waitUntil(t, 20*time.Second, "status loaded", func() bool { return s.externalStatus()["status"] == "loaded" })
	if code, _, _ := s.get("/zz/index.m3u8"); code != http.StatusNotFound {
		t.Fatalf("unknown name with dynamic streams off: %d, want 404", code)
	}
	if be.asked("name=zz") {
		t.Fatalf("backend asked for zz although it turned dynamic streams off: %v", be.recorded())
	}
}
