package cluster

import (
	"fmt"
	"testing"

	"github.com/livedge/livedge/perf"
)

// benchNode is a node with 20 live peers, each running 500 and able to
// start 10,000 streams (stream i runs on peers i%20, (i+7)%20, (i+13)%20).
func benchNode(tb testing.TB) *Node {
	const nPeers, nStreams = 20, 10000
	cfg := Config{Self: "self", Key: "k", Balance: ModeUsage}
	for p := range nPeers {
		cfg.Peers = append(cfg.Peers, PeerConfig{Host: fmt.Sprintf("10.0.0.%d", p+1)})
	}
	n := New(cfg, &fakeLocal{}, nil)
	for p := range nPeers {
		streams := make([]LocalStream, nStreams)
		for i := range streams {
			streams[i] = LocalStream{Name: fmt.Sprintf("s%05d", i), Startable: true}
			if i%nPeers == p || (i+7)%nPeers == p || (i+13)%nPeers == p {
				streams[i].Running = true
			}
		}
		body, err := encodeTable(fmt.Sprintf("peer%02d", p), "", normalizeStreams(streams))
		if err != nil {
			tb.Fatal(err)
		}
		load := formatLoad(perf.Load{Clients: 100 + p, OutputKbit: uint64(1000 * (p + 1))}, 100000)
		n.mu.Lock()
		pr := n.peers[p]
		n.mu.Unlock()
		n.observe(pr, reply{status: 200, etag: tableETag(body), load: load, body: body}, n.now())
	}
	if len(n.snap.Load().peers) != nPeers {
		tb.Fatalf("%d live peers", len(n.snap.Load().peers))
	}
	return n
}

var benchRequests = map[string]Request{
	"redirect":       {Stream: Stream{Name: "s04242"}},
	"serve":          {Stream: Stream{Name: "s04242", Running: true}},
	"notfound":       {Stream: Stream{Name: "nowhere"}},
	"ingest":         {Stream: Stream{Name: "s04242", Ingest: true}},
	"ingest-capture": {Stream: Stream{Name: "s04242", Ingest: true, CaptureAt: "peer19"}},
}

// TestDecideAllocatesNothing: Decide runs on the event loop, per request.
func TestDecideAllocatesNothing(t *testing.T) {
	n := benchNode(t)
	for name, r := range benchRequests {
		if allocs := testing.AllocsPerRun(200, func() { n.Decide(r) }); allocs != 0 {
			t.Errorf("Decide %s: %.1f allocations", name, allocs)
		}
	}
	if d := n.Decide(benchRequests["redirect"]); d.Verdict != Redirect {
		t.Errorf("redirect case decided %+v", d)
	}
	if allocs := testing.AllocsPerRun(200, func() { n.Owns("s04242", "") }); allocs != 0 {
		t.Errorf("Owns: %.1f allocations", allocs)
	}
}

func BenchmarkDecide(b *testing.B) {
	n := benchNode(b)
	for _, name := range []string{"redirect", "serve", "notfound", "ingest", "ingest-capture"} {
		r := benchRequests[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				n.Decide(r)
			}
		})
	}
}

func BenchmarkServeTableNotModified(b *testing.B) {
	local := &fakeLocal{}
	streams := make([]LocalStream, 10000)
	for i := range streams {
		streams[i] = running(fmt.Sprintf("s%05d", i))
	}
	local.set(perf.Load{Clients: 5000, OutputKbit: 9000000}, streams...)
	n := New(Config{Self: "a", Key: "k", Peers: []PeerConfig{{Host: "b"}}}, local, nil)
	n.refresh()
	now := n.now()
	auth := Sign("k", now)
	etag := n.own.Load().etag
	b.ReportAllocs()
	for b.Loop() {
		if resp := n.ServeTable(auth, etag, now); resp.Status != 304 {
			b.Fatal(resp.Status)
		}
	}
}

func BenchmarkParseTable10k(b *testing.B) {
	streams := make([]LocalStream, 10000)
	for i := range streams {
		streams[i] = running(fmt.Sprintf("channel/%05d", i))
	}
	body, _ := encodeTable("edge1", "edge1.example.com", normalizeStreams(streams))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseTable(body); err != nil {
			b.Fatal(err)
		}
	}
}
