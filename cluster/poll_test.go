package cluster

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livedge/livedge/perf"
)

// Short periods so the tests run fast; no test asserts how long anything
// took, only that conditions are reached.
const (
	testFetch = 50 * time.Millisecond
	testStale = 400 * time.Millisecond
)

// tableServer serves one Node's ServeTable over HTTP on 127.0.0.1, as the
// daemon does, and counts the answers.
type tableServer struct {
	srv                   *httptest.Server
	node                  atomic.Pointer[Node]
	local                 *fakeLocal
	ok, unchanged, denied atomic.Int64
}

func newTableServer(t *testing.T) *tableServer {
	ts := &tableServer{local: &fakeLocal{}}
	ts.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := ts.node.Load()
		if r.URL.Path != TablePath || n == nil {
			http.NotFound(w, r)
			return
		}
		resp := n.ServeTable(r.Header.Get("Authorization"), r.Header.Get("If-None-Match"), time.Now())
		switch resp.Status {
		case http.StatusOK:
			ts.ok.Add(1)
		case http.StatusNotModified:
			ts.unchanged.Add(1)
		case http.StatusForbidden:
			ts.denied.Add(1)
		}
		for _, h := range resp.Header {
			w.Header().Set(h[0], h[1])
		}
		if len(resp.Body) > 0 {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(resp.Status)
		w.Write(resp.Body)
	}))
	t.Cleanup(ts.srv.Close)
	return ts
}

func (ts *tableServer) host() string { return ts.srv.Listener.Addr().String() }

// startGroup makes one node per server, each peering with all the others,
// named a, b, c... with public addresses NAME.example.com.
func startGroup(t *testing.T, key string, servers ...*tableServer) []*Node {
	t.Helper()
	nodes := make([]*Node, len(servers))
	for i, ts := range servers {
		name := string(rune('a' + i))
		cfg := Config{Self: name, Public: name + ".example.com", Key: key}
		for j, other := range servers {
			if j != i {
				cfg.Peers = append(cfg.Peers, PeerConfig{Host: other.host(), FetchTimeout: testFetch, StaleTimeout: testStale})
			}
		}
		nodes[i] = New(cfg, ts.local, nil)
		ts.node.Store(nodes[i])
	}
	for _, n := range nodes {
		n.Start()
		t.Cleanup(n.Close)
	}
	return nodes
}

func TestPollingEndToEnd(t *testing.T) {
	sa, sb, sc := newTableServer(t), newTableServer(t), newTableServer(t)
	sb.local.set(perf.Load{Clients: 9}, running("tv"), startable("radio"))
	sc.local.set(perf.Load{Clients: 2}, running("tv"))
	var changes atomic.Int64
	nodes := startGroup(t, "s3cret", sa, sb, sc)
	a := nodes[0]
	a.OnChange(func() { changes.Add(1) })

	waitFor(t, "a settles and sees b and c", func() bool {
		return a.Settled() && peerState(a, sb.host()).State == "live" && peerState(a, sc.host()).State == "live"
	})
	waitFor(t, "tv goes to the least loaded runner, c", func() bool {
		d := a.Decide(req("tv"))
		return d.Verdict == Redirect && d.Peer == "c" && d.Public == "c.example.com"
	})
	checkDecision(t, "radio, startable on b", a.Decide(req("radio")), Redirect, "b", "b.example.com")
	checkDecision(t, "nobody has it", a.Decide(req("none")), NotFound, "", "")

	// Unchanged tables cost 304s; the load still travels with them.
	waitFor(t, "304s from b", func() bool { return sb.unchanged.Load() >= 5 })
	okBefore := sc.ok.Load()
	sc.local.set(perf.Load{Clients: 20}, running("tv"))
	waitFor(t, "c's new load, now b is least loaded", func() bool { return a.Decide(req("tv")).Peer == "b" })
	if got := sc.ok.Load(); got != okBefore {
		t.Errorf("a load change cost %d full tables; want 304s only", got-okBefore)
	}
	if ps := peerState(a, sc.host()); ps.Load.Clients != 20 || ps.Name != "c" || ps.OnlineStreams != 1 {
		t.Errorf("peer c as a sees it: %+v", ps)
	}

	// A changed table is sent in full.
	sb.local.set(perf.Load{Clients: 9}, running("tv"), running("news"))
	waitFor(t, "news, new on b", func() bool { return a.Decide(req("news")).Peer == "b" })

	// Ingest ownership agrees on every server.
	for i := range 50 {
		stream := fmt.Sprintf("cam%d", i)
		owner := IngestOwner(stream, "", []string{"a", "b", "c"})
		for j, n := range nodes {
			if n.Owns(stream, "") != (owner == string(rune('a'+j))) {
				t.Errorf("%s owned by %s, but server %d says Owns=%v", stream, owner, j, n.Owns(stream, ""))
			}
		}
	}

	// c stops: it goes stale, the live set changes, OnChange fires, and
	// viewers go to b.
	changesBefore := changes.Load()
	nodes[2].Close()
	sc.srv.Close()
	waitFor(t, "c dead", func() bool { return peerState(a, sc.host()).State == "dead" })
	waitFor(t, "OnChange after c died", func() bool { return changes.Load() > changesBefore })
	checkDecision(t, "tv without c", a.Decide(req("tv")), Redirect, "b", "b.example.com")
	for i := range 50 {
		stream := fmt.Sprintf("cam%d", i)
		if a.Owns(stream, "") != (IngestOwner(stream, "", []string{"a", "b"}) == "a") {
			t.Errorf("%s: a's ownership ignores c's death", stream)
		}
	}
	if ps := peerState(a, sc.host()); ps.Error == "" || ps.LastContact.IsZero() {
		t.Errorf("dead peer c: %+v", ps)
	}
}

func TestPollingWrongKey(t *testing.T) {
	sa, sb := newTableServer(t), newTableServer(t)
	sb.local.set(perf.Load{}, running("tv"))
	a := New(Config{Self: "a", Key: "right", Peers: []PeerConfig{{Host: sb.host(), FetchTimeout: testFetch, StaleTimeout: testStale}}}, sa.local, nil)
	b := New(Config{Self: "b", Key: "wrong", Peers: []PeerConfig{{Host: sa.host(), FetchTimeout: testFetch, StaleTimeout: testStale}}}, sb.local, nil)
	sa.node.Store(a)
	sb.node.Store(b)
	for _, n := range []*Node{a, b} {
		n.Start()
		t.Cleanup(n.Close)
	}
	waitFor(t, "both forbidden", func() bool {
		return peerState(a, sb.host()).State == "forbidden" && peerState(b, sa.host()).State == "forbidden"
	})
	if ps := peerState(a, sb.host()); !strings.Contains(ps.Error, "wrong cluster_key") {
		t.Errorf("forbidden peer error %q does not give the reason", ps.Error)
	}
	checkDecision(t, "a wrong-key peer is never a target", a.Decide(req("tv")), NotFound, "", "")
	if !a.Settled() || !a.Owns("cam", "") {
		t.Error("a server whose peers refuse it owns every ingest stream")
	}
	if sa.ok.Load()+sb.ok.Load() != 0 {
		t.Error("a table was served to a wrong key")
	}
}

func TestPollingHostilePeers(t *testing.T) {
	hostile := map[string]http.HandlerFunc{
		"oversized": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set(LoadHeader, "clients=0 output_kbit=0")
			w.Write([]byte(`{"hostname":"x","pad":"`))
			chunk := []byte(strings.Repeat("x", 1<<16))
			for range MaxTableBytes/len(chunk) + 1 {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		},
		"garbage": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set(LoadHeader, "clients=0 output_kbit=0")
			w.Write([]byte(`{"hostname":"x","running":["../../etc"]}`))
		},
		"hanging": func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() },
		"redirect": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://127.0.0.1:1/", http.StatusFound)
		},
	}
	want := map[string]string{"oversized": "larger than", "garbage": "running[0]", "hanging": "deadline", "redirect": "status 302"}
	cfg := Config{Self: "a", Key: "k"}
	hosts := map[string]string{}
	for name, h := range hostile {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		hosts[name] = srv.Listener.Addr().String()
		pc := PeerConfig{Host: hosts[name], FetchTimeout: testFetch, StaleTimeout: testStale}
		if name == "oversized" { // 8 MiB takes a while under the race detector
			pc.FetchTimeout, pc.StaleTimeout = 5*time.Second, 20*time.Second
		}
		cfg.Peers = append(cfg.Peers, pc)
	}
	a := New(cfg, &fakeLocal{}, nil)
	a.Start()
	t.Cleanup(a.Close)
	waitFor(t, "first round over", a.Settled)
	for name, host := range hosts {
		ps := peerState(a, host)
		if ps.State != "dead" || !strings.Contains(ps.Error, want[name]) {
			t.Errorf("%s peer: state %q error %q, want dead with %q", name, ps.State, ps.Error, want[name])
		}
	}
}

func TestServeTable(t *testing.T) {
	local := &fakeLocal{}
	local.set(perf.Load{Clients: 3, OutputKbit: 1500}, running("tv"))
	n := New(Config{Self: "a", Public: "a.example.com", Key: "k", MaxBitrateKbit: 9000, Peers: []PeerConfig{{Host: "127.0.0.1:1"}}}, local, nil)
	now := time.Now()
	if resp := n.ServeTable(Sign("k", now), "", now); resp.Status != http.StatusServiceUnavailable {
		t.Fatalf("before the first refresh: %d", resp.Status)
	}
	n.refresh()

	resp := n.ServeTable(Sign("nope", now), "", now)
	var e apiErrors
	if resp.Status != 403 || json.Unmarshal(resp.Body, &e) != nil || len(e.Errors) != 1 ||
		e.Errors[0].Status != "403" || e.Errors[0].Code != "cluster_key" || e.Errors[0].Title != "wrong cluster_key" {
		t.Fatalf("wrong key: %d %s", resp.Status, resp.Body)
	}
	if resp := n.ServeTable(Sign("k", now.Add(-2*time.Minute)), "", now); resp.Status != 403 {
		t.Fatalf("old timestamp: %d", resp.Status)
	}

	resp = n.ServeTable(Sign("k", now), "", now)
	headers := map[string]string{}
	for _, h := range resp.Header {
		headers[h[0]] = h[1]
	}
	wantBody := `{"hostname":"a","public":"a.example.com","running":["tv"],"startable":["tv"]}`
	if resp.Status != 200 || string(resp.Body) != wantBody || headers["ETag"] != tableETag(resp.Body) ||
		headers[LoadHeader] != "clients=3 output_kbit=1500 max_bitrate_kbit=9000" {
		t.Fatalf("table: %d %v %s", resp.Status, headers, resp.Body)
	}
	notModified := n.ServeTable(Sign("k", now), headers["ETag"], now)
	if notModified.Status != 304 || len(notModified.Body) != 0 || len(notModified.Header) != 2 || notModified.Header[1][0] != LoadHeader {
		t.Fatalf("If-None-Match: %+v", notModified)
	}
	local.set(perf.Load{}, running("tv"), running("radio"))
	n.refresh()
	if resp := n.ServeTable(Sign("k", now), headers["ETag"], now); resp.Status != 200 || !strings.Contains(string(resp.Body), "radio") {
		t.Fatalf("changed table answered %d %s", resp.Status, resp.Body)
	}
}

func TestUpdateWhileRunning(t *testing.T) {
	sa, sb := newTableServer(t), newTableServer(t)
	sb.local.set(perf.Load{}, running("tv"))
	nodes := startGroup(t, "k", sa, sb)
	a := nodes[0]
	waitFor(t, "a redirects tv to b", func() bool { return a.Decide(req("tv")).Peer == "b" })

	cfg := Config{Self: "a", Key: "k", Peers: []PeerConfig{{Host: sb.host(), Public: "new.example.com", FetchTimeout: testFetch, StaleTimeout: testStale}}}
	a.Update(cfg)
	if ps := peerState(a, sb.host()); ps.Name != "b" || ps.LastContact.IsZero() || ps.Public != "new.example.com" {
		t.Errorf("reload lost the peer's state: %+v", ps)
	}
	waitFor(t, "redirect to the new public address", func() bool { return a.Decide(req("tv")).Public == "new.example.com" })

	cfg.Key = ""
	a.Update(cfg)
	if ps := peerState(a, sb.host()); ps.State != "off" {
		t.Errorf("peering off, peer state %q", ps.State)
	}
	checkDecision(t, "alone again", a.Decide(req("tv")), NotFound, "", "")
	if !a.Owns("cam", "b") {
		t.Error("a server alone does not own every ingest stream")
	}
	a.Close()
	a.Close()
	a.Update(cfg) // after Close: applies, starts nothing
	a.Start()
}
