package appliance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/livedge/livedge/appliance/config"
	"github.com/livedge/livedge/cluster"
	"github.com/livedge/livedge/engine"
	"github.com/livedge/livedge/netio"
	"github.com/livedge/livedge/proto/httpts"
	"github.com/livedge/livedge/proto/mpegts"
)

// DefaultConfigPath is read when no -c is given.
const DefaultConfigPath = "/etc/livedge/livedge.conf"

// ConfigSource says where the daemon's config comes from, so SIGHUP can read
// it again.
type ConfigSource struct {
	Path     string // "" = the embedded default
	Environ  []string
	Embedded bool
}

// Load reads and checks the config, environment overrides applied.
func (cs ConfigSource) Load() (*config.Config, error) {
	var cfg *config.Config
	if cs.Embedded {
		cfg = config.Default()
	} else {
		var err error
		if cfg, err = config.Load(cs.Path); err != nil {
			return nil, err
		}
	}
	if err := cfg.ApplyEnv(cs.Environ); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Name is how logs refer to the config.
func (cs ConfigSource) Name() string {
	if cs.Embedded {
		return "embedded default config"
	}
	return cs.Path
}

// maxConnsPerIP maps the config's per-address limit onto netio's: unset
// takes netio's default, 0 means no limit.
func maxConnsPerIP(n *int) int {
	switch {
	case n == nil:
		return 0
	case *n == 0:
		return netio.NoLimit
	}
	return *n
}

// shutdownGrace bounds SIGTERM handling: listeners, viewers and streams.
const shutdownGrace = 1500 * time.Millisecond

// node is a wired daemon: the config store, the stream registry, the
// session table and the router that serves them.
type node struct {
	log     *slog.Logger
	store   *configStore
	streams *engine.Registry
	router  *router
	cluster *cluster.Node
	stopBg  chan struct{}
	bgDone  chan struct{}
}

// newNode loads the config and wires the daemon; start applies the config.
func newNode(cs ConfigSource, log *slog.Logger) (*node, error) {
	// The packagers' options come from the config, read below; no stream
	// starts before then.
	outs := &outputOptions{}
	streams := engine.NewRegistry(engine.RegistryOptions{
		Log:      log,
		Open:     openSource,
		Packager: func(s *engine.Stream) engine.Packager { return outs.newOutputs(s) },
	})
	store, err := newConfigStore(cs, streams, log)
	if err != nil {
		streams.Close()
		return nil, err
	}
	eff := store.current().effective
	policy, _ := httpts.ParsePolicy(eff.SlowViewer) // validated with the config
	outs.pool = mpegts.NewPool(eff.MemoryPool, 0)
	outs.ts = httpts.Options{QueueLimit: int(eff.ViewerQueueLimit), Policy: policy}
	rt := &router{
		pool:      outs.pool,
		streams:   streams,
		store:     store,
		sessions:  newSessionTable(),
		startWait: engine.OnDemandStartWait,
		startedAt: time.Now(),
	}
	cn := newClusterNode(store.current().effective, streams, rt, log)
	rt.cluster = cn
	store.owns = cn.Owns
	store.onPublish = func(c *config.Config) { cn.Update(clusterConfig(c)) }
	return &node{log: log, store: store, streams: streams, router: rt, cluster: cn,
		stopBg: make(chan struct{}), bgDone: make(chan struct{})}, nil
}

// start applies the config and starts the background work.
func (n *node) start() engine.ReconcileResult {
	res := n.store.start()
	n.startCluster()
	n.store.startExternal()
	n.router.ready.Store(true)
	cfg := n.store.current().effective
	if cfg.EditAuth == nil && cfg.ViewAuth == nil {
		n.log.Warn("the API at " + apiBase + " is open to anyone: set edit_auth to guard it")
	}
	if !n.store.persisted() {
		n.log.Info("running the embedded default config: API changes live in memory only")
	}
	go n.background()
	return res
}

// background updates the output rate and ends idle HLS sessions, once a second.
func (n *node) background() {
	defer close(n.bgDone)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastBytes, lastTime := n.router.sessions.bytesOut.Load(), time.Now()
	for {
		select {
		case <-n.stopBg:
			return
		case now := <-tick.C:
			bytes := n.router.sessions.bytesOut.Load()
			if dt := now.Sub(lastTime).Seconds(); dt > 0 {
				n.router.outputKbit.Store(uint64(float64(bytes-lastBytes) * 8 / 1000 / dt))
			}
			lastBytes, lastTime = bytes, now
			st := n.store.current()
			n.router.sessions.sweep(now, func(name string) bool {
				_, ok := st.streamByName(name)
				return ok
			})
		}
	}
}

// close stops the streams and the background work.
func (n *node) close() {
	select {
	case <-n.stopBg:
	default:
		close(n.stopBg)
		if n.router.ready.Load() {
			<-n.bgDone
		}
	}
	// The config backend's client and the cluster first, so they change no
	// stream as the streams stop.
	n.store.stopExternal()
	n.cluster.Close()
	n.streams.Close()
}

// Run starts the daemon and serves until SIGTERM or SIGINT (exit cleanly) or
// a fatal error. SIGHUP reloads the config.
func Run(cs ConfigSource, log *slog.Logger) error {
	n, err := newNode(cs, log)
	if err != nil {
		return err
	}
	cfg := n.store.current().effective
	srv := netio.NewServer(netio.Config{
		Listen:        cfg.HTTP,
		HeaderTimeout: time.Duration(cfg.HTTPHeaderTimeout) * time.Second,
		IdleTimeout:   time.Duration(cfg.HTTPIdleTimeout) * time.Second,
		MaxConns:      cfg.MaxConnections,
		MaxConnsPerIP: maxConnsPerIP(cfg.MaxConnectionsPerIP),
		Multicore:     true,
		Logger:        log,
	}, n.router)
	n.router.metrics.netStats = srv.Stats
	if err := srv.Start(); err != nil {
		n.close()
		return fmt.Errorf("start http: %w", err)
	}
	res := n.start()
	log.Info("livedge started", "config", cs.Name(), "http", cfg.HTTP, "streams", len(cfg.Streams), "static_started", len(res.Started))

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	for sig := range sigs {
		if sig != syscall.SIGHUP {
			log.Info("shutting down", "signal", sig.String())
			break
		}
		if err := n.store.reload(); err != nil {
			log.Error("config reload refused, running config kept", "err", err)
		}
	}

	n.router.stopping.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	stopErr := srv.Stop(ctx)
	done := make(chan struct{})
	go func() { n.close(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		log.Warn("streams still stopping at exit")
	}
	if stopErr != nil && !errors.Is(stopErr, context.DeadlineExceeded) {
		return fmt.Errorf("stop http: %w", stopErr)
	}
	return nil
}
