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
	// live names the live servers, this one included, sorted; liveKeys are
	// their rendezvous keys, livePeer their index in peers (ownerSelf for
	// this server).
	live     []string
	liveKeys []uint64
	livePeer []int
	// peers are the live peers, the only redirect targets.
	peers []livePeer
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

	order := make([]int, 0, 1+len(s.peers))
	order = append(order, ownerSelf)
	for i := range s.peers {
		order = append(order, i)
	}
	nameOf := func(i int) string {
		if i == ownerSelf {
			return s.self
		}
		return s.peers[i].name
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(nameOf(a), nameOf(b)) })
	for _, i := range order {
		s.live = append(s.live, nameOf(i))
		s.liveKeys = append(s.liveKeys, serverKey(nameOf(i)))
		s.livePeer = append(s.livePeer, i)
	}

	prev := n.snap.Load()
	n.snap.Store(s)
	return prev == nil || prev.settled != s.settled || prev.alone != s.alone || !slices.Equal(prev.live, s.live)
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
	best, bestScore := 0, rendezvousScore(sk, s.liveKeys[0])
	for i := 1; i < len(s.live); i++ {
		score := rendezvousScore(sk, s.liveKeys[i])
		if score > bestScore || score == bestScore && s.live[i] < s.live[best] {
			best, bestScore = i, score
		}
	}
	return s.livePeer[best], true
}
