package cluster

import "math/rand/v2"

var (
	serveHere = Decision{Verdict: Serve}
	notFound  = Decision{Verdict: NotFound}
)

// Decide says what to do with a viewer's request: serve it here, redirect
// it to a peer, or answer not found. It runs on the event loop: it reads
// the current snapshot, makes no I/O and no allocation.
//
// The rules, "here" meaning Running or Startable on this server:
//
//   - A server alone (no key or no peers) serves what it has (and every
//     cluster_ingest stream, all of which it owns); the rest is NotFound.
//   - cluster_ingest streams go to their owner (see Owns): this server
//     serves when it is the owner; otherwise a request is redirected to the
//     owner, or, when it came redirected already, served only if the
//     stream still runs here (a hand-over in progress) and NotFound
//     otherwise. Before Settled, when the owner is not known yet, the
//     stream is served if it is here, else NotFound.
//   - A request that came through a peer's redirect is never redirected
//     again: Serve if here, else NotFound. When the tables of two servers
//     disagree the viewer gets the stream or a 404, never a ping-pong.
//   - A stream here is served here, unless this server is Overloaded: then
//     it goes to the least loaded live peer that is not overloaded and runs
//     it, else one that can start it; with none, it is served here anyway.
//   - A stream not here goes to the least loaded live peer that runs it and
//     is not overloaded, else that can start it and is not overloaded, else
//     (all of them over their limit) that runs it, else that can start it.
//     Nobody: NotFound.
//
// "Least loaded" is by the balancing mode (Pick); ties are broken at random.
func (n *Node) Decide(req Request) Decision {
	s := n.snap.Load()
	st := &req.Stream
	here := st.Running || st.Startable
	if s.alone {
		if here || st.Ingest {
			return serveHere
		}
		return notFound
	}
	if st.Ingest {
		return s.decideIngest(req.Redirected, st, here)
	}
	if here {
		if req.Redirected || !n.overloadedHere(s) {
			return serveHere
		}
		if d, ok := s.pickPeer(st.Name, false); ok {
			return d
		}
		return serveHere
	}
	if !req.Redirected {
		if d, ok := s.pickPeer(st.Name, true); ok {
			return d
		}
	}
	return notFound
}

func (s *snapshot) decideIngest(redirected bool, st *Stream, here bool) Decision {
	owner, known := s.ingestOwner(st.Name, st.CaptureAt)
	switch {
	case !known:
		if here {
			return serveHere
		}
		return notFound
	case owner == ownerSelf:
		return serveHere
	case redirected:
		if st.Running {
			return serveHere
		}
		return notFound
	}
	p := &s.peers[owner]
	return Decision{Verdict: Redirect, Peer: p.name, Public: p.public}
}

// overloadedHere tells whether this server is at or over its limit, by the
// load read at the last table refresh.
func (n *Node) overloadedHere(s *snapshot) bool {
	load := n.ownLoad.Load()
	return load != nil && Overloaded(*load, s.maxBitrateKbit)
}

// Preference tiers of a redirect target, best first.
const (
	tierRunning = iota
	tierStartable
	tierRunningOverloaded
	tierStartableOverloaded
	tiers
)

// pickPeer is the live peer a viewer of stream goes to: the least loaded of
// the best tier present (see Decide), ties at random. Overloaded peers are
// considered only when allowOverloaded.
func (s *snapshot) pickPeer(stream string, allowOverloaded bool) (Decision, bool) {
	var best, ties [tiers]int
	for i := range s.peers {
		p := &s.peers[i]
		flags := p.streams[stream]
		if flags == 0 {
			continue
		}
		tier := tierRunning
		if flags&flagRunning == 0 {
			tier = tierStartable
		}
		if p.overloaded {
			if !allowOverloaded {
				continue
			}
			tier += tierRunningOverloaded
		}
		if ties[tier] == 0 {
			best[tier], ties[tier] = i, 1
			continue
		}
		b := &s.peers[best[tier]]
		switch compareLoad(s.mode, p.load, p.maxBitrateKbit, b.load, b.maxBitrateKbit) {
		case -1:
			best[tier], ties[tier] = i, 1
		case 0:
			ties[tier]++
			if rand.IntN(ties[tier]) == 0 {
				best[tier] = i
			}
		}
	}
	for tier := range tiers {
		if ties[tier] > 0 {
			p := &s.peers[best[tier]]
			return Decision{Verdict: Redirect, Peer: p.name, Public: p.public}, true
		}
	}
	return Decision{}, false
}
