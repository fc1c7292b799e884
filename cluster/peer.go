package cluster

import (
	"errors"
	"fmt"
	"time"

	"github.com/livedge/livedge/engine"
	"github.com/livedge/livedge/perf"
)

// States of a peer, as PeerState shows them.
const (
	// stateConnecting: no answer yet since the peer was configured.
	stateConnecting = "connecting"
	// stateLive: its last good answer is younger than its stale_timeout.
	stateLive = "live"
	// stateDead: never answered, or not for stale_timeout.
	stateDead = "dead"
	// stateForbidden: it answered 403 (wrong cluster_key or clocks apart);
	// it is never a redirect target nor counted live.
	stateForbidden = "forbidden"
	// stateSelf: its table carries this server's own name: the peer list
	// names this server itself (the same config on every server), and it
	// is ignored.
	stateSelf = "self"
	// stateConflict: live, but another peer reported the same name first;
	// ignored until the names differ.
	stateConflict = "conflict"
	// stateOff: peering is off here (no cluster_key): nobody is polled.
	stateOff = "off"
)

// peer is one configured peer and what this server knows of it. Everything
// but cfg's identity is guarded by Node.mu.
type peer struct {
	cfg PeerConfig
	// removed: a config reload dropped the peer; late results are ignored.
	removed bool
	state   string
	// answered: it answered or failed once (for Settled).
	answered bool
	// table is the last good table (immutable), etag its tag.
	table *peerTable
	etag  string
	// load and reportedMax come from the last good answer's LoadHeader.
	load        perf.Load
	reportedMax uint64
	lastGood    time.Time
	err         string
	// conflict names the peer that reported the same name first ("" none).
	conflict   string
	staleTimer *time.Timer
}

func (p *peer) stopTimer() {
	if p.staleTimer != nil {
		p.staleTimer.Stop()
	}
}

// public is where viewers are sent: the configured public address, else
// what the peer reports, else the address this server polls it at.
func (p *peer) public() string {
	if p.cfg.Public != "" {
		return p.cfg.Public
	}
	if p.table != nil && p.table.public != "" {
		return p.table.public
	}
	return p.cfg.Host
}

// maxBitrateKbit is the peer's limit: configured here, else reported.
func (p *peer) maxBitrateKbit() uint64 {
	if p.cfg.MaxBitrateKbit > 0 {
		return p.cfg.MaxBitrateKbit
	}
	return p.reportedMax
}

// observe applies the result of one poll of p made at now.
func (n *Node) observe(p *peer, r reply, now time.Time) {
	o := interpret(r) // parsing a large table happens outside the lock
	n.mu.Lock()
	if p.removed {
		n.mu.Unlock()
		return
	}
	if o.kind == outcomeGood && o.table == nil && p.table == nil {
		o = outcome{kind: outcomeFailed, err: errors.New("answered 304 Not Modified but no table was received before")}
	}
	before := p.state
	p.answered = true
	switch o.kind {
	case outcomeGood:
		if o.table != nil {
			p.table, p.etag = o.table, o.etag
		}
		p.load, p.reportedMax = o.load, o.maxBitrateKbit
		p.lastGood, p.err = now, ""
		p.state = stateLive
		if p.table.name == n.cfg.Self {
			p.state = stateSelf
		}
		if n.timers {
			if p.staleTimer == nil {
				p.staleTimer = time.AfterFunc(p.cfg.StaleTimeout, func() { n.expire(p) })
			} else {
				p.staleTimer.Reset(p.cfg.StaleTimeout)
			}
		}
	case outcomeForbidden:
		p.state, p.err = stateForbidden, o.err.Error()
	default:
		p.err = o.err.Error()
		if p.state != stateLive && p.state != stateSelf {
			p.state = stateDead
		}
	}
	changed := n.publishLocked()
	host, after, name, errText := p.cfg.Host, p.state, p.name(), p.err
	n.mu.Unlock()
	if changed {
		n.signalChange()
	}
	if after != before {
		n.logTransition(host, name, before, after, errText)
	}
}

// expire marks p dead when its last good answer is StaleTimeout old; it
// runs from p's staleness timer.
func (n *Node) expire(p *peer) {
	n.mu.Lock()
	before := p.state
	expired := !p.removed && n.expireLocked(p, n.now())
	changed := expired && n.publishLocked()
	host, name, errText := p.cfg.Host, p.name(), p.err
	n.mu.Unlock()
	if changed {
		n.signalChange()
	}
	if expired {
		n.logTransition(host, name, before, stateDead, errText)
	}
}

// expireAll marks dead every peer whose last good answer is StaleTimeout
// old at now. The simulation drives staleness with it; a running node uses
// per-peer timers instead.
func (n *Node) expireAll(now time.Time) {
	n.mu.Lock()
	expired := false
	for _, p := range n.peers {
		if n.expireLocked(p, now) {
			expired = true
		}
	}
	changed := expired && n.publishLocked()
	n.mu.Unlock()
	if changed {
		n.signalChange()
	}
}

func (n *Node) expireLocked(p *peer, now time.Time) bool {
	if (p.state != stateLive && p.state != stateSelf) || now.Sub(p.lastGood) < p.cfg.StaleTimeout {
		return false
	}
	p.state = stateDead
	if p.err == "" {
		p.err = fmt.Sprintf("no answer for %v", p.cfg.StaleTimeout)
	}
	return true
}

func (p *peer) name() string {
	if p.table == nil {
		return ""
	}
	return p.table.name
}

func (n *Node) logTransition(host, name, before, after, errText string) {
	msg := "cluster peer " + after
	if after == stateLive {
		n.log.Info(msg, "peer", host, "name", name, "was", before)
		return
	}
	n.log.Warn(msg, "peer", host, "name", name, "was", before, "error", errText)
}

// Peers is every configured peer, in config order, as
// GET /streamer/api/v3/cluster/peers shows it.
func (n *Node) Peers() []PeerState {
	n.mu.Lock()
	defer n.mu.Unlock()
	on := peeringOn(&n.cfg)
	out := make([]PeerState, 0, len(n.peers))
	for _, p := range n.peers {
		ps := PeerState{
			Host:           p.cfg.Host,
			Name:           p.name(),
			Public:         p.public(),
			State:          p.state,
			LastContact:    p.lastGood,
			Error:          p.err,
			Load:           p.load,
			MaxBitrateKbit: p.maxBitrateKbit(),
		}
		if p.table != nil {
			ps.OnlineStreams, ps.TotalStreams = p.table.running, len(p.table.streams)
		}
		switch {
		case !on:
			ps.State = stateOff
		case p.conflict != "" && p.state == stateLive:
			ps.State = stateConflict
			ps.Error = fmt.Sprintf("name %s is also reported by %s; ignored", engine.QuoteShort(ps.Name), p.conflict)
		case p.state == stateSelf:
			ps.Error = "this peer is this server (it reports our own name); ignored"
		}
		out = append(out, ps)
	}
	return out
}
