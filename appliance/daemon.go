package appliance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/livedge/livedge/appliance/config"
	"github.com/livedge/livedge/engine"
	"github.com/livedge/livedge/netio"
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

// shutdownGrace bounds SIGTERM handling: listeners, viewers and streams.
const shutdownGrace = 1500 * time.Millisecond

// Run starts the daemon and serves until SIGTERM or SIGINT (exit cleanly) or
// a fatal error. SIGHUP reloads the config.
func Run(cs ConfigSource, log *slog.Logger) error {
	cfg, err := cs.Load()
	if err != nil {
		return err
	}
	streams := engine.NewRegistry(engine.RegistryOptions{
		Log:      log,
		Open:     openSource,
		Packager: newOutputs,
	})
	srv := netio.NewServer(netio.Config{
		Listen:    cfg.HTTP,
		Multicore: true,
		Logger:    log,
	}, &router{streams: streams, startWait: engine.OnDemandStartWait})
	if err := srv.Start(); err != nil {
		streams.Close()
		return fmt.Errorf("start http: %w", err)
	}
	res := streams.Apply(cfg.Streams)
	log.Info("livedge started", "config", cs.Name(), "http", cfg.HTTP, "streams", len(cfg.Streams), "static_started", len(res.Started))

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	for sig := range sigs {
		if sig != syscall.SIGHUP {
			log.Info("shutting down", "signal", sig.String())
			break
		}
		next, err := cs.Load()
		if err != nil {
			log.Error("config reload refused, running config kept", "err", err)
			continue
		}
		if !slices.Equal(next.HTTP, cfg.HTTP) {
			log.Warn("http listeners change on restart only", "running", cfg.HTTP, "configured", next.HTTP)
		}
		cfg = next
		res := streams.Apply(cfg.Streams)
		log.Info("config reloaded", "started", res.Started, "restarted", res.Restarted, "stopped", res.Stopped)
	}

	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	stopErr := srv.Stop(ctx)
	done := make(chan struct{})
	go func() { streams.Close(); close(done) }()
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
