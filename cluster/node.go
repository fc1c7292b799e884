package cluster

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livedge/livedge/perf"
)

// Timing bounds applied to a PeerConfig.
const (
	// minFetchTimeout keeps a mistyped fetch_timeout from polling a peer in
	// a busy loop.
	minFetchTimeout = 10 * time.Millisecond
	// maxRefreshPeriod bounds how old this server's own table may be when a
	// peer polls it.
	maxRefreshPeriod = 500 * time.Millisecond
)

// Node is this server's member of a cluster: it polls every peer, answers
// their polls (ServeTable), decides where each viewer goes (Decide) and
// which cluster_ingest streams this server captures (Owns).
//
// Concurrency: Decide, Owns, Settled and ServeTable read immutable
// snapshots published atomically and never block; the pollers, the own-table
// refresher and the change notifier are goroutines of the Node; Start,
// Update and Close may be called from any goroutine.
type Node struct {
	local Local
	log   *slog.Logger
	// now and fetch are the clock and the transport; the simulation tests
	// replace them.
	now   func() time.Time
	fetch fetchFunc

	snap    atomic.Pointer[snapshot]
	own     atomic.Pointer[ownTable]
	ownLoad atomic.Pointer[perf.Load]

	// changed holds a pending OnChange notification (capacity 1: changes
	// coalesce while the callbacks run).
	changed chan struct{}

	mu        sync.Mutex // guards what follows
	cfg       Config
	peers     []*peer
	settled   bool
	callbacks []func()
	// timers: staleness timers are armed (between Start and Close).
	timers bool

	run                  sync.Mutex // serializes Start, Update and Close; guards what follows
	started, closed      bool
	stopWork, stopNotify context.CancelFunc
	work, notify         sync.WaitGroup
	client               *http.Client
}

// New makes a node; nothing runs until Start. Self "" is the OS hostname.
// PeerConfig defaults: FetchTimeout 0 is DefaultFetchTimeout (at least
// 10 ms), StaleTimeout 0 is DefaultStaleTimeout, and a StaleTimeout under
// twice the FetchTimeout is raised to that, so one late answer does not
// make a peer flap. A nil log discards.
func New(cfg Config, local Local, log *slog.Logger) *Node {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &Node{
		local:   local,
		log:     log,
		now:     time.Now,
		changed: make(chan struct{}, 1),
		client:  newPeerClient(),
	}
	n.fetch = httpFetcher{client: n.client}.fetch
	n.mu.Lock()
	n.applyConfigLocked(cfg)
	n.publishLocked()
	n.mu.Unlock()
	return n
}

// Start builds this server's table, then starts one poller per peer, the
// table refresher and the OnChange notifier. Without a key or peers nothing
// polls: the node is a server alone. Start after Start or Close does
// nothing.
func (n *Node) Start() {
	n.run.Lock()
	defer n.run.Unlock()
	if n.started || n.closed {
		return
	}
	n.started = true
	ctx, cancel := context.WithCancel(context.Background())
	n.stopNotify = cancel
	n.notify.Add(1)
	go n.notifyLoop(ctx)
	n.mu.Lock()
	n.timers = true
	n.mu.Unlock()
	n.startWorkLocked()
}

// Close stops every goroutine of the node and waits for them. The node
// keeps answering Decide, Owns and ServeTable from its last snapshot.
func (n *Node) Close() {
	n.run.Lock()
	defer n.run.Unlock()
	if n.closed {
		return
	}
	n.closed = true
	n.stopWorkLocked()
	if n.stopNotify != nil {
		n.stopNotify()
		n.notify.Wait()
	}
	n.mu.Lock()
	n.timers = false
	for _, p := range n.peers {
		p.stopTimer()
	}
	n.mu.Unlock()
	n.client.CloseIdleConnections()
}

// Update applies a reloaded config. Peers whose Host is unchanged keep their
// state (table, load, last contact, ETag); others start "connecting". The
// pollers restart, so every peer is polled at once. Settled stays true once
// reached: peers added later are live from their first answer, and a node
// already capturing streams does not drop them while it polls newcomers.
func (n *Node) Update(cfg Config) {
	n.run.Lock()
	defer n.run.Unlock()
	n.stopWorkLocked()
	n.mu.Lock()
	n.applyConfigLocked(cfg)
	changed := n.publishLocked()
	n.mu.Unlock()
	if changed {
		n.signalChange()
	}
	if n.started && !n.closed {
		n.startWorkLocked()
	}
}

// OnChange registers fn, called from a goroutine of the node (never with a
// lock of the node held) after the set of live servers changed, after the
// first poll round settled, and after Update changed this server's name or
// turned peering on or off: what Owns answers may then have changed, and
// the daemon re-applies cluster_ingest ownership. It is also called once
// soon after Start. Calls are serialized and coalesce: several changes
// during one call produce one more call.
func (n *Node) OnChange(fn func()) {
	n.mu.Lock()
	n.callbacks = append(n.callbacks, fn)
	n.mu.Unlock()
}

// Alone tells whether this server has no peering (no key or no peers):
// every decision is then "serve here", so callers may skip asking.
func (n *Node) Alone() bool { return n.snap.Load().alone }

// Settled tells whether the first poll round is over: every peer answered
// or failed once since Start (a server alone is settled at once). Before
// then this server does not know who is live, and Owns is false for every
// stream it would own only by rendezvous hashing.
func (n *Node) Settled() bool { return n.snap.Load().settled }

// Owns tells whether this server should capture the cluster_ingest stream
// now: it is IngestOwner(stream, captureAt, live servers) as this server
// sees them. Before Settled, only a stream whose capture_at names this
// server is owned. A server alone owns every stream.
//
// Hand-over: when the owner dies, every server sees it stale after
// StaleTimeout and the next owner (by the same function) starts capturing,
// within StaleTimeout of its last answer. When a server joins or returns,
// it claims its streams as soon as its first poll round is over; the
// interim owner drops them when it next polls the returner and sees it live,
// at most one FetchTimeout later: two servers capture a stream at once only
// for that one poll period. While a partition lasts, each side owns every
// stream among its own servers; after it heals the same one-poll-period
// bound applies.
func (n *Node) Owns(stream, captureAt string) bool {
	s := n.snap.Load()
	if s.alone {
		return true
	}
	owner, known := s.ingestOwner(stream, captureAt)
	return known && owner == ownerSelf
}

// peeringOn tells whether the node polls anyone.
func peeringOn(cfg *Config) bool { return cfg.Key != "" && len(cfg.Peers) > 0 }

func (n *Node) startWorkLocked() {
	n.mu.Lock()
	on := peeringOn(&n.cfg)
	period := refreshPeriod(&n.cfg)
	peers := slices.Clone(n.peers)
	n.mu.Unlock()
	if !on {
		return
	}
	// Our table is ready before any peer is polled, so a peer polling back
	// at once finds it.
	n.refresh()
	ctx, cancel := context.WithCancel(context.Background())
	n.stopWork = cancel
	n.work.Add(1 + len(peers))
	go n.refreshLoop(ctx, period)
	for _, p := range peers {
		go n.pollLoop(ctx, p)
	}
}

func (n *Node) stopWorkLocked() {
	if n.stopWork == nil {
		return
	}
	n.stopWork()
	n.work.Wait()
	n.stopWork = nil
}

func (n *Node) notifyLoop(ctx context.Context) {
	defer n.notify.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.changed:
		}
		n.mu.Lock()
		callbacks := slices.Clone(n.callbacks)
		n.mu.Unlock()
		for _, fn := range callbacks {
			fn()
		}
	}
}

func (n *Node) signalChange() {
	select {
	case n.changed <- struct{}{}:
	default:
	}
}

// applyConfigLocked installs cfg, carrying over the peers whose Host stays.
func (n *Node) applyConfigLocked(cfg Config) {
	cfg = normalizeConfig(cfg)
	old := make(map[string]*peer, len(n.peers))
	for _, p := range n.peers {
		if _, dup := old[p.cfg.Host]; !dup {
			old[p.cfg.Host] = p
		}
	}
	peers := make([]*peer, 0, len(cfg.Peers))
	for _, pc := range cfg.Peers {
		p, ok := old[pc.Host]
		if ok {
			delete(old, pc.Host)
			p.cfg = pc
		} else {
			p = &peer{cfg: pc, state: stateConnecting}
		}
		peers = append(peers, p)
	}
	for _, p := range n.peers {
		if !slices.Contains(peers, p) {
			p.removed = true
			p.stopTimer()
		}
	}
	n.cfg, n.peers = cfg, peers
}

func normalizeConfig(cfg Config) Config {
	if cfg.Self == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "localhost"
		}
		cfg.Self = host
	}
	cfg.Peers = slices.Clone(cfg.Peers)
	for i := range cfg.Peers {
		pc := &cfg.Peers[i]
		if pc.FetchTimeout <= 0 {
			pc.FetchTimeout = DefaultFetchTimeout
		}
		pc.FetchTimeout = max(pc.FetchTimeout, minFetchTimeout)
		if pc.StaleTimeout <= 0 {
			pc.StaleTimeout = DefaultStaleTimeout
		}
		pc.StaleTimeout = max(pc.StaleTimeout, 2*pc.FetchTimeout)
	}
	return cfg
}

// refreshPeriod is how often this server's table is rebuilt: the shortest
// fetch_timeout of its peers, at most maxRefreshPeriod, so a peer never
// reads a table older than about one of its polls.
func refreshPeriod(cfg *Config) time.Duration {
	period := maxRefreshPeriod
	for _, pc := range cfg.Peers {
		period = min(period, pc.FetchTimeout)
	}
	return max(period, minFetchTimeout)
}

// requestTimeout bounds one poll: twice the period (at least 1 s, so a
// large table over a slow link still arrives), never past the stale
// timeout.
func requestTimeout(pc PeerConfig) time.Duration {
	return min(pc.StaleTimeout, max(2*pc.FetchTimeout, time.Second))
}
