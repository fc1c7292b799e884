package cluster

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/livedge/livedge/perf"
)

// fakeLocal is a server's streams and load, set by the test.
type fakeLocal struct {
	mu      sync.Mutex
	streams []LocalStream
	load    perf.Load
}

func (l *fakeLocal) Load() perf.Load {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.load
}

func (l *fakeLocal) Streams() []LocalStream {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.streams)
}

func (l *fakeLocal) set(load perf.Load, streams ...LocalStream) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.load, l.streams = load, streams
}

func running(name string) LocalStream   { return LocalStream{Name: name, Running: true, Startable: true} }
func startable(name string) LocalStream { return LocalStream{Name: name, Startable: true} }

// answer is what a peer answers to one poll, for feeding a Node directly.
type answer struct {
	name, public string
	load         perf.Load
	maxKbit      uint64
	streams      []LocalStream
}

func (a answer) reply(t *testing.T) reply {
	t.Helper()
	body, err := encodeTable(a.name, a.public, normalizeStreams(a.streams))
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: 200, etag: tableETag(body), load: formatLoad(a.load, a.maxKbit), body: body}
}

// feed records a good answer of the peer at host.
func feed(t *testing.T, n *Node, host string, a answer) {
	t.Helper()
	n.observe(peerAt(t, n, host), a.reply(t), n.now())
}

// fail records a failed poll of the peer at host.
func fail(t *testing.T, n *Node, host string, r reply) {
	t.Helper()
	n.observe(peerAt(t, n, host), r, n.now())
}

func peerAt(t *testing.T, n *Node, host string) *peer {
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, p := range n.peers {
		if p.cfg.Host == host {
			return p
		}
	}
	t.Fatalf("no peer %s", host)
	return nil
}

// fakeClock is a settable clock for nodes driven without goroutines.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func peerState(n *Node, host string) PeerState {
	for _, ps := range n.Peers() {
		if ps.Host == host {
			return ps
		}
	}
	return PeerState{}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// liveNames are the names of a snapshot's live servers, in its order.
func liveNames(s *snapshot) []string {
	names := make([]string, 0, len(s.live))
	for _, l := range s.live {
		names = append(names, l.name)
	}
	return names
}
