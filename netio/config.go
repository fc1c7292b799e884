package netio

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// Config is the network layer's configuration. Zero fields take defaults.
type Config struct {
	// Listen holds "[ADDR:]PORT" entries: "8080", "127.0.0.1:8080",
	// "[::1]:8080". A bare port listens on all addresses (IPv4 and IPv6).
	// Port 0 picks a free port; Server.Addrs tells which.
	Listen []string
	// HeaderTimeout bounds the time a client may take to send a request,
	// from its first byte (or from connecting, for the first request): the
	// slowloris defence. Request bodies get HeaderTimeout since the last
	// bytes received. Default 10 s.
	HeaderTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle between requests, and
	// connections whose queued output made no progress for this long.
	// Default 60 s.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request line plus header block. Default 16 KiB.
	MaxHeaderBytes int
	// MaxBodyBytes bounds a request body. Default 4 MiB.
	MaxBodyBytes int
	// MaxQueuedBytes bounds the bytes queued in user space per connection:
	// a keep-alive connection over it stops reading requests until it
	// drains. A streaming response holds at most one batch of its feed (see
	// Feed); one larger than this is Lagging. Default 2 MiB.
	MaxQueuedBytes int
	// MaxConns bounds open connections; more are answered 503 and closed.
	// It keeps the process below its file descriptor limit (gnet stops the
	// whole engine when accept fails), so a larger value is lowered to that
	// bound. Default: RLIMIT_NOFILE minus a reserve.
	MaxConns int
	// MaxConnsPerIP bounds the open connections from one client address (an
	// IPv6 client counts by its /64, which one host commonly owns whole);
	// more are answered 503 and closed. 0 takes DefaultMaxConnsPerIP, NoLimit
	// (any negative value) turns the limit off: load tests from one host
	// need that.
	MaxConnsPerIP int
	// Multicore runs one event loop per CPU instead of one.
	Multicore bool
	Logger    *slog.Logger
}

// Defaults of Config fields.
const (
	DefaultHeaderTimeout  = 10 * time.Second
	DefaultIdleTimeout    = 60 * time.Second
	DefaultMaxHeaderBytes = 16 << 10
	DefaultMaxBodyBytes   = 4 << 20
	DefaultMaxQueuedBytes = 2 << 20
	// DefaultMaxConnsPerIP is generous for viewers behind one NAT (a
	// household, an office) watching a few streams each, and still keeps a
	// single host from taking the whole connection budget of a public edge.
	DefaultMaxConnsPerIP = 100
)

// NoLimit as MaxConnsPerIP turns the per-address limit off.
const NoLimit = -1

// fdReserve is kept free of connections for files, upstream sockets and the
// listeners themselves.
const fdReserve = 256

func (c Config) withDefaults() Config {
	if c.HeaderTimeout <= 0 {
		c.HeaderTimeout = DefaultHeaderTimeout
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxQueuedBytes <= 0 {
		c.MaxQueuedBytes = DefaultMaxQueuedBytes
	}
	if c.MaxConns <= 0 {
		c.MaxConns = defaultMaxConns()
	}
	switch {
	case c.MaxConnsPerIP == 0:
		c.MaxConnsPerIP = DefaultMaxConnsPerIP
	case c.MaxConnsPerIP < 0:
		c.MaxConnsPerIP = NoLimit
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func defaultMaxConns() int {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || lim.Cur > 1<<30 {
		return 1 << 20
	}
	n := int(lim.Cur) - fdReserve
	if tenth := int(lim.Cur) * 9 / 10; tenth < n {
		n = tenth
	}
	return max(n, 16)
}

// listenAddr turns a "[ADDR:]PORT" entry into the host:port gnet binds.
func listenAddr(entry string) (string, error) {
	if entry == "" {
		return "", fmt.Errorf("listen %q: empty address", entry)
	}
	if _, err := strconv.ParseUint(entry, 10, 16); err == nil {
		return ":" + entry, nil
	}
	host, port, err := net.SplitHostPort(entry)
	if err != nil {
		return "", fmt.Errorf("listen %q: %w", entry, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", fmt.Errorf("listen %q: bad port %q", entry, port)
	}
	if host != "" {
		if _, err := netip.ParseAddr(host); err != nil {
			return "", fmt.Errorf("listen %q: address must be an IP: %w", entry, err)
		}
	}
	return net.JoinHostPort(host, port), nil
}
