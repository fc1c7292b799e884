package netio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// Server serves HTTP/1.1 on gnet event loops.
type Server struct {
	cfg     Config
	handler Handler
	log     *slog.Logger
	stats   counters
	perIP   *ipLimiter
	// wpoll wakes connections whose file body waits for a full socket; set
	// by Start, closed once the loops exited.
	wpoll *writePoller
	// sendBufFor, when set, gives the SO_SNDBUF of an accepted socket by its
	// client address (0: the system's): tests make chosen sockets fill fast.
	sendBufFor func(netip.Addr) int
	// epoch anchors the monotonic clock connections use for timeouts.
	epoch time.Time
	// clock is a coarse now (since epoch), refreshed every tick: reading the
	// time on every request costs more than the timeouts need.
	clock atomic.Int64
	// tick is the period of the timeout sweep.
	tick time.Duration
	// date holds the current "Date: ...\r\n" line, refreshed every tick.
	date     atomic.Pointer[[]byte]
	stopping atomic.Bool

	loopsMu sync.Mutex
	loops   map[gnet.EventLoop]*loopState
	loopArr []*loopState

	mu       sync.Mutex
	started  bool
	eng      gnet.Engine
	addrs    []net.Addr
	booted   chan struct{} // closed at the first tick: loops are running
	runDone  chan struct{} // closed when gnet.Rotate returned
	bootOnce sync.Once
}

// NewServer returns a server for cfg (defaults filled in) and h.
func NewServer(cfg Config, h Handler) *Server {
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:     cfg,
		handler: h,
		log:     cfg.Logger.With("component", "netio"),
		perIP:   newIPLimiter(cfg.MaxConnsPerIP),
		epoch:   time.Now(),
		loops:   make(map[gnet.EventLoop]*loopState),
		booted:  make(chan struct{}),
		runDone: make(chan struct{}),
	}
	if bound := defaultMaxConns(); s.cfg.MaxConns > bound {
		s.log.Warn("max connections lowered to what the file descriptor limit allows",
			"configured", s.cfg.MaxConns, "used", bound)
		s.cfg.MaxConns = bound
	}
	s.tick = min(time.Second, cfg.HeaderTimeout/2, cfg.IdleTimeout/2)
	s.tick = max(s.tick, 10*time.Millisecond)
	d := dateLine(time.Now())
	s.date.Store(&d)
	return s
}

// now is the coarse clock: at most one tick behind the true time, so
// timeouts measured from it with a precise end are at most a tick long.
func (s *Server) now() time.Duration { return time.Duration(s.clock.Load()) }

func (s *Server) preciseNow() time.Duration { return time.Since(s.epoch) }

// Start binds every listener and returns once the event loops serve. A bind
// failure names its address.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("netio: server already started")
	}
	if len(s.cfg.Listen) == 0 {
		return errors.New("netio: no listen address")
	}
	hostports := make([]string, len(s.cfg.Listen))
	urls := make([]string, len(s.cfg.Listen))
	for i, entry := range s.cfg.Listen {
		hp, err := listenAddr(entry)
		if err != nil {
			return err
		}
		if slices.Contains(hostports[:i], hp) {
			return fmt.Errorf("listen %s: listed twice", entry)
		}
		hostports[i] = hp
		urls[i] = "tcp://" + hp
	}
	// gnet's error for a failed bind does not say which address failed, and
	// it leaves bound the listeners it opened before: try each first.
	for i, hp := range hostports {
		ln, err := net.Listen("tcp", hp)
		if err != nil {
			return fmt.Errorf("listen %s: %w", s.cfg.Listen[i], err)
		}
		_ = ln.Close()
	}
	wpoll, err := newWritePoller(s.log)
	if err != nil {
		return err
	}
	s.wpoll = wpoll
	s.started = true

	errc := make(chan error, 1)
	go func() {
		defer close(s.runDone)
		defer wpoll.close() // after the loops: no connection uses it any more
		err := gnet.Rotate(&eventHandler{s: s}, urls,
			gnet.WithMulticore(s.cfg.Multicore),
			gnet.WithReuseAddr(true),
			gnet.WithTicker(true),
			gnet.WithTCPNoDelay(gnet.TCPNoDelay),
			gnet.WithLogger(gnetLogger{s.log}),
		)
		select {
		case <-s.booted:
			if !s.stopping.Load() {
				s.log.Error("event loops stopped unexpectedly", "listen", s.cfg.Listen, "err", err)
			}
		default:
		}
		errc <- err
	}()
	select {
	case <-s.booted:
	case err := <-errc:
		if err == nil {
			err = errors.New("engine stopped at start")
		}
		return fmt.Errorf("listen %v: %w", s.cfg.Listen, err)
	}
	for _, hp := range hostports {
		s.addrs = append(s.addrs, s.boundAddr(hp))
	}
	s.log.Info("listening", "addrs", s.addrs)
	return nil
}

// boundAddr asks the kernel which address a listener got (port 0 picks one).
func (s *Server) boundAddr(hostport string) net.Addr {
	fallback := &net.TCPAddr{}
	if a, err := net.ResolveTCPAddr("tcp", hostport); err == nil {
		fallback = a
	}
	fd, err := s.eng.DupListener("tcp", hostport)
	if err != nil {
		return fallback
	}
	defer unix.Close(fd)
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return fallback
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(sa.Addr[:]).To16(), Port: sa.Port}
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(sa.Addr[:]), Port: sa.Port}
	}
	return fallback
}

// Addrs returns the bound listener addresses, in Config.Listen order.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]net.Addr(nil), s.addrs...)
}

// Stop closes the listeners and every connection (streaming responses end:
// their feeds are closed) and returns when the event loops have exited, or
// with ctx's error. It must not be called from a handler.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	started := s.started
	eng := s.eng
	s.mu.Unlock()
	if !started {
		return nil
	}
	select {
	case <-s.runDone:
		return nil
	default:
	}
	s.stopping.Store(true)
	// Engine.Stop polls for the end every 500 ms; runDone tells sooner.
	go func() { _ = eng.Stop(ctx) }()
	select {
	case <-s.runDone:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("netio stop: %w", ctx.Err())
	}
}

// loopFor returns the state of an event loop, made on its first connection.
func (s *Server) loopFor(el gnet.EventLoop) *loopState {
	s.loopsMu.Lock()
	defer s.loopsMu.Unlock()
	l := s.loops[el]
	if l == nil {
		l = newLoopState(s, el)
		s.loops[el] = l
		s.loopArr = append(s.loopArr, l)
	}
	return l
}

func (s *Server) loopList() []*loopState {
	s.loopsMu.Lock()
	defer s.loopsMu.Unlock()
	return s.loopArr
}

// eventHandler receives gnet's events.
type eventHandler struct {
	gnet.BuiltinEventEngine
	s         *Server
	lastSweep time.Duration // only OnTick touches it
}

func (h *eventHandler) OnBoot(eng gnet.Engine) gnet.Action {
	h.s.eng = eng // Start holds s.mu and reads it after booted
	return gnet.None
}

// busyResponses answer connections refused at accept, by refusal.
var busyResponses = [numRefusals][]byte{
	refusedMaxConns:      busyResponse("too_many_connections", "too many open connections"),
	refusedMaxConnsPerIP: busyResponse("too_many_connections", "too many open connections from your address"),
	refusedShutdown:      busyResponse("shutting_down", "the server is shutting down"),
}

func busyResponse(code, title string) []byte {
	body := appendErrorJSON(nil, 503, code, title)
	b := appendStatusLine(nil, 503)
	b = append(b, "Server: livedge\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	return append(b, body...)
}

func (h *eventHandler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	s := h.s
	s.stats.accepted.Add(1)
	if s.stopping.Load() {
		return s.refuse(c, refusedShutdown)
	}
	// Counted before the check, so that loops accepting at the same time
	// cannot overshoot the limit together.
	if s.stats.open.Add(1) > int64(s.cfg.MaxConns) {
		s.stats.open.Add(-1)
		return s.refuse(c, refusedMaxConns)
	}
	ip := remoteIP(c)
	key := ipKey(ip)
	if !s.perIP.acquire(key) {
		s.stats.open.Add(-1)
		return s.refuse(c, refusedMaxConnsPerIP)
	}
	if s.sendBufFor != nil {
		if n := s.sendBufFor(ip); n > 0 {
			_ = c.SetWriteBuffer(n)
		}
	}
	c.SetContext(newConnState(s, s.loopFor(c.EventLoop()), c, ip, key))
	return nil, gnet.None
}

// refuse answers 503 and closes; OnClose counts the close as conn_limit
// (the connection has no state).
func (s *Server) refuse(c gnet.Conn, r refusal) ([]byte, gnet.Action) {
	s.stats.refused[r].Add(1)
	return busyResponses[r], gnet.Close
}

func (h *eventHandler) OnClose(c gnet.Conn, err error) gnet.Action {
	cs, _ := c.Context().(*connState)
	if cs == nil {
		h.s.stats.closed[reasonConnLimit].Add(1)
		return gnet.None
	}
	cs.onClose(err)
	return gnet.None
}

func (h *eventHandler) OnTraffic(c gnet.Conn) gnet.Action {
	cs, _ := c.Context().(*connState)
	if cs == nil {
		return gnet.Close
	}
	return cs.onTraffic()
}

// resumePoll is the ticker period while connections wait for their output
// to drain.
const resumePoll = 20 * time.Millisecond

// OnTick runs on gnet's ticker goroutine, not on a loop: it refreshes the
// clock and the Date line and queues the timeout sweep onto every loop each
// tick, and resume checks more often while connections are paused.
func (h *eventHandler) OnTick() (time.Duration, gnet.Action) {
	s := h.s
	now := s.preciseNow()
	s.clock.Store(int64(now))
	s.bootOnce.Do(func() { close(s.booted) })
	sweep := now-h.lastSweep >= s.tick
	if sweep {
		h.lastSweep = now
		d := dateLine(time.Now())
		s.date.Store(&d)
	}
	delay := s.tick
	for _, l := range s.loopList() {
		if sweep {
			l.scheduleSweep()
		}
		if l.pausedN.Load() > 0 {
			l.scheduleResume()
			delay = resumePoll
		}
	}
	return delay, gnet.None
}

// gnetLogger routes gnet's logs to slog. gnet's Info is chatter, so it goes
// to Debug; Fatalf must not exit the process.
type gnetLogger struct{ log *slog.Logger }

func (l gnetLogger) Debugf(format string, args ...any) {
	l.log.Debug("gnet: " + fmt.Sprintf(format, args...))
}
func (l gnetLogger) Infof(format string, args ...any) {
	l.log.Debug("gnet: " + fmt.Sprintf(format, args...))
}
func (l gnetLogger) Warnf(format string, args ...any) {
	l.log.Warn("gnet: " + fmt.Sprintf(format, args...))
}
func (l gnetLogger) Errorf(format string, args ...any) {
	l.log.Error("gnet: " + fmt.Sprintf(format, args...))
}
func (l gnetLogger) Fatalf(format string, args ...any) {
	l.log.Error("gnet: "+fmt.Sprintf(format, args...), "pid", os.Getpid())
}
