package cluster

import (
	"cmp"
	"slices"

	"github.com/livedge/livedge/perf"
)

// snapshot is what Decide, Owns, Settled and ServeTable read: immutable once
// published, rebuilt (cheaply: the peers' tables are shared, not copied) on
// every poll result, staleness and config change.
type snapshot struct {
	self, public, key string
	maxBitrateKbit    uint64
	// mode is the effective balancing mode (never "").
	mode Mode
	// alone: no key or no peers; every decision is local.
	alone, settled bool
	// live are the live servers, this one included, sorted by name.
	live []liveServer
	// peers are the live peers, the only redirect targets.
	peers []livePeer
}

// liveServer is a live server as ownership sees it.
type liveServer struct {
	name string
	// key is its rendezvous key, computed once per snapshot.
	key uint64
	// peer is its index in snapshot.peers (ownerSelf for this server).
	peer int
}

// ownerSelf is the owner index of this server.
const ownerSelf = -1

// livePeer is a live peer as decisions see it.
type livePeer struct {
	name, public   string
	load           perf.Load
	maxBitrateKbit uint64
	overloaded     bool
	streams        map[string]streamFlags
}

// publishLocked builds and stores a snapshot from the peers' state and tells
// whether what Owns answers may have changed (the live servers, Settled,
// alone).
func (n *Node) publishLocked() bool {
	cfg := &n.cfg
	s := &snapshot{
		self:           cfg.Self,
		public:         cfg.Public,
		key:            cfg.Key,
		maxBitrateKbit: cfg.MaxBitrateKbit,
		alone:          !peeringOn(cfg),
	}
	if !s.alone && !n.settled {
		n.settled = true
		for _, p := range n.peers {
			n.settled = n.settled && p.answered
		}
	}
	s.settled = s.alone || n.settled

	seen := map[string]string{cfg.Self: "this server"}
	for _, p := range n.peers {
		p.conflict = ""
		if s.alone || p.state != stateLive || p.table == nil {
			continue
		}
		if first, dup := seen[p.table.name]; dup {
			p.conflict = first
			continue
		}
		seen[p.table.name] = p.cfg.Host
		limit := p.maxBitrateKbit()
		s.peers = append(s.peers, livePeer{
			name:           p.table.name,
			public:         p.public(),
			load:           p.load,
			maxBitrateKbit: limit,
			overloaded:     Overloaded(p.load, limit),
			streams:        p.table.streams,
		})
	}
	s.mode = effectiveMode(cfg.Balance, cfg.MaxBitrateKbit, s.peers)

	s.indexLive()

	prev := n.snap.Load()
	n.snap.Store(s)
	return prev == nil || prev.settled != s.settled || prev.alone != s.alone ||
		!slices.EqualFunc(prev.live, s.live, func(a, b liveServer) bool { return a.name == b.name })
}

// indexLive lists this server and the live peers in s.live.
func (s *snapshot) indexLive() {
	s.live = make([]liveServer, 0, 1+len(s.peers))
	s.live = append(s.live, liveServer{name: s.self, key: serverKey(s.self), peer: ownerSelf})
	for i := range s.peers {
		s.live = append(s.live, liveServer{name: s.peers[i].name, key: serverKey(s.peers[i].name), peer: i})
	}
	slices.SortFunc(s.live, func(a, b liveServer) int { return cmp.Compare(a.name, b.name) })
}

// effectiveMode resolves the balancing mode: the configured one, else usage
// when a limit is known (this server's, or a live peer's, configured or
// reported), else clients.
func effectiveMode(configured Mode, selfMax uint64, peers []livePeer) Mode {
	switch configured {
	case ModeClients, ModeBitrate, ModeUsage:
		return configured
	}
	if selfMax > 0 {
		return ModeUsage
	}
	for i := range peers {
		if peers[i].maxBitrateKbit > 0 {
			return ModeUsage
		}
	}
	return ModeClients
}

// ingestOwner is IngestOwner over this snapshot's live servers, without
// allocating: the index of the owning peer, or ownerSelf. known is false
// before Settled when capture_at does not name a live server: the owner
// then depends on servers not heard from yet.
func (s *snapshot) ingestOwner(stream, captureAt string) (owner int, known bool) {
	if captureAt != "" {
		if captureAt == s.self {
			return ownerSelf, true
		}
		for i := range s.peers {
			if s.peers[i].name == captureAt {
				return i, true
			}
		}
	}
	if !s.settled {
		return 0, false
	}
	sk := streamKey(stream)
	best, bestScore := 0, rendezvousScore(sk, s.live[0].key)
	for i := 1; i < len(s.live); i++ {
		score := rendezvousScore(sk, s.live[i].key)
		if score > bestScore || score == bestScore && s.live[i].name < s.live[best].name {
			best, bestScore = i, score
		}
	}
	return s.live[best].peer, true
}
