package cluster

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/livedge/livedge/perf"
)

// newDrivenNode is a node whose polls the test feeds by hand, on a fake
// clock; nothing runs in the background.
func newDrivenNode(t *testing.T, cfg Config, local *fakeLocal) (*Node, *fakeClock) {
	t.Helper()
	clock := &fakeClock{t: time.Unix(1700000000, 0)}
	n := New(cfg, local, nil)
	n.now = clock.now
	return n, clock
}

func threePeers() Config {
	return Config{
		Self: "a", Public: "a.example.com", Key: "k",
		Peers: []PeerConfig{{Host: "10.0.0.2"}, {Host: "10.0.0.3", Public: "c.cdn.example.com:8443"}, {Host: "10.0.0.4"}},
	}
}

func req(name string, here ...string) Request {
	r := Request{Stream: Stream{Name: name}}
	for _, h := range here {
		switch h {
		case "running":
			r.Stream.Running = true
		case "startable":
			r.Stream.Startable = true
		case "redirected":
			r.Redirected = true
		}
	}
	return r
}

func checkDecision(t *testing.T, what string, got Decision, verdict Verdict, peer, public string) {
	t.Helper()
	if got.Verdict != verdict || got.Peer != peer || got.Public != public {
		t.Errorf("%s: got %+v, want verdict %d peer %q public %q", what, got, verdict, peer, public)
	}
}

func TestDecideAlone(t *testing.T) {
	for _, cfg := range []Config{{Self: "a"}, {Self: "a", Key: "k"}, {Self: "a", Peers: []PeerConfig{{Host: "b"}}}} {
		n := New(cfg, &fakeLocal{}, nil)
		checkDecision(t, "running", n.Decide(req("x", "running")), Serve, "", "")
		checkDecision(t, "startable", n.Decide(req("x", "startable")), Serve, "", "")
		checkDecision(t, "absent", n.Decide(req("x")), NotFound, "", "")
		checkDecision(t, "ingest", n.Decide(Request{Stream: Stream{Name: "x", Ingest: true, CaptureAt: "b"}}), Serve, "", "")
		if !n.Settled() || !n.Owns("x", "") || !n.Owns("x", "b") || !n.Alone() {
			t.Errorf("%+v: a server alone must say so, be settled and own every ingest stream", cfg)
		}
	}
	if New(Config{Self: "a", Key: "k", Peers: []PeerConfig{{Host: "b"}}}, &fakeLocal{}, nil).Alone() {
		t.Error("a server with a key and peers says it is alone")
	}
}

func TestDecideRedirectsAndBalances(t *testing.T) {
	local := &fakeLocal{}
	n, _ := newDrivenNode(t, threePeers(), local)
	checkDecision(t, "no peer heard yet", n.Decide(req("tv")), NotFound, "", "")

	feed(t, n, "10.0.0.2", answer{name: "b", public: "b.example.com", load: perf.Load{Clients: 10}, streams: []LocalStream{running("tv"), startable("radio")}})
	feed(t, n, "10.0.0.3", answer{name: "c", public: "ignored.example.com", load: perf.Load{Clients: 5}, streams: []LocalStream{running("tv")}})
	feed(t, n, "10.0.0.4", answer{name: "d", load: perf.Load{Clients: 0}, streams: []LocalStream{startable("tv"), startable("radio")}})

	checkDecision(t, "least loaded runner (clients)", n.Decide(req("tv")), Redirect, "c", "c.cdn.example.com:8443")
	checkDecision(t, "startable only, least loaded", n.Decide(req("radio")), Redirect, "d", "10.0.0.4")
	checkDecision(t, "nobody has it", n.Decide(req("none")), NotFound, "", "")
	checkDecision(t, "here", n.Decide(req("tv", "startable")), Serve, "", "")
	checkDecision(t, "redirected, not here", n.Decide(req("tv", "redirected")), NotFound, "", "")
	checkDecision(t, "redirected, here", n.Decide(req("tv", "running", "redirected")), Serve, "", "")

	// b and c over their limits: a non-overloaded peer that can start it
	// wins over overloaded runners.
	feed(t, n, "10.0.0.2", answer{name: "b", public: "b.example.com", load: perf.Load{Clients: 10, OutputKbit: 1000}, maxKbit: 1000, streams: []LocalStream{running("tv")}})
	feed(t, n, "10.0.0.3", answer{name: "c", load: perf.Load{Clients: 5, OutputKbit: 900}, maxKbit: 500, streams: []LocalStream{running("tv")}})
	checkDecision(t, "runners overloaded", n.Decide(req("tv")), Redirect, "d", "10.0.0.4")
	// d gone: the least used overloaded runner (usage mode now: b 1.0, c 1.8).
	fail(t, n, "10.0.0.4", reply{status: 403})
	checkDecision(t, "all overloaded", n.Decide(req("tv")), Redirect, "b", "b.example.com")
	if st := peerState(n, "10.0.0.4"); st.State != "forbidden" {
		t.Errorf("403 peer in state %q", st.State)
	}
}

func TestDecideOverloadedHere(t *testing.T) {
	local := &fakeLocal{}
	cfg := threePeers()
	cfg.MaxBitrateKbit = 1000
	n, _ := newDrivenNode(t, cfg, local)
	feed(t, n, "10.0.0.2", answer{name: "b", load: perf.Load{OutputKbit: 100}, maxKbit: 1000, streams: []LocalStream{startable("tv")}})
	feed(t, n, "10.0.0.3", answer{name: "c", load: perf.Load{OutputKbit: 800}, maxKbit: 1000, streams: []LocalStream{running("tv")}})
	feed(t, n, "10.0.0.4", answer{name: "d", load: perf.Load{OutputKbit: 5000}, maxKbit: 1000, streams: []LocalStream{running("tv")}})

	local.set(perf.Load{OutputKbit: 999})
	n.refresh()
	checkDecision(t, "under the limit", n.Decide(req("tv", "running")), Serve, "", "")

	local.set(perf.Load{OutputKbit: 1000})
	n.refresh()
	checkDecision(t, "over: a runner first", n.Decide(req("tv", "running")), Redirect, "c", "c.cdn.example.com:8443")
	checkDecision(t, "over, but redirected", n.Decide(req("tv", "running", "redirected")), Serve, "", "")
	checkDecision(t, "over: startable peer", n.Decide(req("x", "running")), Serve, "", "")

	feed(t, n, "10.0.0.3", answer{name: "c", load: perf.Load{OutputKbit: 1000}, maxKbit: 1000, streams: []LocalStream{running("tv")}})
	checkDecision(t, "over: runners over too, startable peer", n.Decide(req("tv", "running")), Redirect, "b", "10.0.0.2")
	feed(t, n, "10.0.0.2", answer{name: "b", load: perf.Load{OutputKbit: 1000}, maxKbit: 1000, streams: []LocalStream{startable("tv")}})
	checkDecision(t, "over: everybody over", n.Decide(req("tv", "running")), Serve, "", "")
}

func TestDecideModes(t *testing.T) {
	for _, tc := range []struct {
		mode Mode
		want string
	}{{ModeClients, "b"}, {ModeBitrate, "c"}, {ModeUsage, "d"}} {
		cfg := threePeers()
		cfg.Balance = tc.mode
		n, _ := newDrivenNode(t, cfg, &fakeLocal{})
		feed(t, n, "10.0.0.2", answer{name: "b", load: perf.Load{Clients: 1, OutputKbit: 900}, maxKbit: 1000, streams: []LocalStream{running("tv")}})
		feed(t, n, "10.0.0.3", answer{name: "c", load: perf.Load{Clients: 9, OutputKbit: 800}, maxKbit: 1000, streams: []LocalStream{running("tv")}})
		feed(t, n, "10.0.0.4", answer{name: "d", load: perf.Load{Clients: 9, OutputKbit: 850}, maxKbit: 10000, streams: []LocalStream{running("tv")}})
		if d := n.Decide(req("tv")); d.Peer != tc.want {
			t.Errorf("mode %s: redirected to %q, want %q", tc.mode, d.Peer, tc.want)
		}
	}
	// PeerConfig.MaxBitrateKbit overrides what the peer reports.
	cfg := threePeers()
	cfg.Balance = ModeUsage
	cfg.Peers[0].MaxBitrateKbit = 100000
	n, _ := newDrivenNode(t, cfg, &fakeLocal{})
	feed(t, n, "10.0.0.2", answer{name: "b", load: perf.Load{OutputKbit: 900}, maxKbit: 1000, streams: []LocalStream{running("tv")}})
	feed(t, n, "10.0.0.3", answer{name: "c", load: perf.Load{OutputKbit: 100}, maxKbit: 1000, streams: []LocalStream{running("tv")}})
	if d := n.Decide(req("tv")); d.Peer != "b" {
		t.Errorf("configured max_bitrate ignored: redirected to %q", d.Peer)
	}
}

func TestDecideTiesAtRandom(t *testing.T) {
	n, _ := newDrivenNode(t, threePeers(), &fakeLocal{})
	for _, host := range []string{"10.0.0.2", "10.0.0.3", "10.0.0.4"} {
		feed(t, n, host, answer{name: "n" + host, load: perf.Load{Clients: 3}, streams: []LocalStream{running("tv")}})
	}
	wins := map[string]int{}
	for range 3000 {
		wins[n.Decide(req("tv")).Peer]++
	}
	for name, c := range wins {
		if c < 850 || c > 1150 {
			t.Errorf("%s won %d of 3000 ties", name, c)
		}
	}
	if len(wins) != 3 {
		t.Errorf("winners %v", wins)
	}
}

func TestDecideStalePeer(t *testing.T) {
	n, clock := newDrivenNode(t, threePeers(), &fakeLocal{})
	feed(t, n, "10.0.0.2", answer{name: "b", streams: []LocalStream{running("tv")}})
	clock.advance(DefaultStaleTimeout - time.Millisecond)
	fail(t, n, "10.0.0.2", reply{err: fmt.Errorf("connection refused")})
	n.expireAll(clock.now())
	if d := n.Decide(req("tv")); d.Verdict != Redirect {
		t.Fatalf("a failed poll within stale_timeout dropped the peer: %+v", d)
	}
	if st := peerState(n, "10.0.0.2"); st.State != "live" || !strings.Contains(st.Error, "refused") {
		t.Errorf("peer state %+v", st)
	}
	clock.advance(time.Millisecond)
	n.expireAll(clock.now())
	checkDecision(t, "stale peer", n.Decide(req("tv")), NotFound, "", "")
	if st := peerState(n, "10.0.0.2"); st.State != "dead" || st.LastContact.IsZero() || st.Name != "b" {
		t.Errorf("stale peer state %+v", st)
	}
}

func TestIngestOwnership(t *testing.T) {
	n, _ := newDrivenNode(t, threePeers(), &fakeLocal{})
	ingest := func(name, captureAt string, flags ...string) Request {
		r := req(name, flags...)
		r.Stream.Ingest, r.Stream.CaptureAt = true, captureAt
		return r
	}
	// Before the first round: only capture_at naming a known server decides.
	if n.Settled() || n.Owns("cam", "") || !n.Owns("cam", "a") || n.Owns("cam", "b") {
		t.Fatal("ownership before the first poll round")
	}
	checkDecision(t, "unsettled, capture_at here", n.Decide(ingest("cam", "a")), Serve, "", "")
	checkDecision(t, "unsettled, unknown owner, startable", n.Decide(ingest("cam", "", "startable")), Serve, "", "")
	checkDecision(t, "unsettled, unknown owner, absent", n.Decide(ingest("cam", "")), NotFound, "", "")
	feed(t, n, "10.0.0.2", answer{name: "b"})
	checkDecision(t, "unsettled, capture_at live peer", n.Decide(ingest("cam", "b")), Redirect, "b", "10.0.0.2")
	feed(t, n, "10.0.0.3", answer{name: "c"})
	if n.Settled() {
		t.Fatal("settled before every peer answered")
	}
	fail(t, n, "10.0.0.4", reply{err: fmt.Errorf("timeout")})
	if !n.Settled() {
		t.Fatal("not settled after every peer answered or failed")
	}
	live := []string{"a", "b", "c"}
	for i := range 200 {
		stream := fmt.Sprintf("cam%d", i)
		owner := IngestOwner(stream, "", live)
		if n.Owns(stream, "") != (owner == "a") {
			t.Fatalf("%s: Owns = %v, owner %s", stream, n.Owns(stream, ""), owner)
		}
		d := n.Decide(ingest(stream, ""))
		if owner == "a" {
			checkDecision(t, stream, d, Serve, "", "")
			continue
		}
		if d.Verdict != Redirect || d.Peer != owner {
			t.Fatalf("%s owned by %s: %+v", stream, owner, d)
		}
		checkDecision(t, stream+" redirected here, not running", n.Decide(ingest(stream, "", "redirected", "startable")), NotFound, "", "")
		checkDecision(t, stream+" redirected here, still running", n.Decide(ingest(stream, "", "redirected", "running")), Serve, "", "")
	}
	// capture_at dead: hashing over the live ones.
	if n.Owns("cam1", "d") != (IngestOwner("cam1", "", live) == "a") {
		t.Error("capture_at of a dead server not ignored")
	}
}

// TestSnapshotOwnerMatchesIngestOwner: the allocation-free owner of a
// snapshot is IngestOwner over the same live servers.
func TestSnapshotOwnerMatchesIngestOwner(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	for range 50 {
		s := &snapshot{self: fmt.Sprintf("srv%d", rnd.IntN(30)), settled: true}
		names := []string{s.self}
		for range rnd.IntN(12) {
			name := fmt.Sprintf("srv%d", rnd.IntN(30))
			if slices.Contains(names, name) {
				continue
			}
			names = append(names, name)
			s.peers = append(s.peers, livePeer{name: name})
		}
		s.indexLive()
		for i := range 100 {
			stream, captureAt := fmt.Sprintf("tv%d", i), ""
			if i%5 == 0 {
				captureAt = fmt.Sprintf("srv%d", rnd.IntN(30))
			}
			want := IngestOwner(stream, captureAt, names)
			idx, known := s.ingestOwner(stream, captureAt)
			got := s.self
			if idx != ownerSelf {
				got = s.peers[idx].name
			}
			if !known || got != want {
				t.Fatalf("live %v, %s capture_at %q: snapshot owner %s, IngestOwner %s", names, stream, captureAt, got, want)
			}
		}
	}
}

func TestPeersSelfAndConflict(t *testing.T) {
	cfg := threePeers()
	n, _ := newDrivenNode(t, cfg, &fakeLocal{})
	feed(t, n, "10.0.0.2", answer{name: "a"}) // ourselves
	feed(t, n, "10.0.0.3", answer{name: "c", streams: []LocalStream{running("tv")}})
	feed(t, n, "10.0.0.4", answer{name: "c", streams: []LocalStream{running("tv")}})
	states := map[string]string{}
	for _, ps := range n.Peers() {
		states[ps.Host] = ps.State
	}
	if states["10.0.0.2"] != "self" || states["10.0.0.3"] != "live" || states["10.0.0.4"] != "conflict" {
		t.Fatalf("states %v", states)
	}
	if got := liveNames(n.snap.Load()); !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("live servers %v", got)
	}
	ps := peerState(n, "10.0.0.3")
	if ps.Name != "c" || ps.OnlineStreams != 1 || ps.TotalStreams != 1 || ps.Public != "c.cdn.example.com:8443" {
		t.Errorf("peer state %+v", ps)
	}

	n.Update(Config{Self: "a", Peers: cfg.Peers}) // no key: peering off
	for _, ps := range n.Peers() {
		if ps.State != "off" {
			t.Errorf("peering off, peer %s in state %q", ps.Host, ps.State)
		}
	}
}

func TestUpdateKeepsPeers(t *testing.T) {
	n, _ := newDrivenNode(t, threePeers(), &fakeLocal{})
	feed(t, n, "10.0.0.2", answer{name: "b", streams: []LocalStream{running("tv")}})
	cfg := threePeers()
	cfg.Peers = []PeerConfig{{Host: "10.0.0.9"}, {Host: "10.0.0.2", Public: "new.example.com"}}
	n.Update(cfg)
	checkDecision(t, "kept peer", n.Decide(req("tv")), Redirect, "b", "new.example.com")
	if st := peerState(n, "10.0.0.9"); st.State != "connecting" {
		t.Errorf("new peer state %q", st.State)
	}
	if len(n.Peers()) != 2 {
		t.Errorf("peers after update: %+v", n.Peers())
	}
}
