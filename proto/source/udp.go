package source

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/livedge/livedge/engine"
	"github.com/livedge/livedge/proto/mpegts"
)

// udpReceiveBuffer is the socket receive buffer asked for: about 1 s of a
// 30 Mbit/s stream, so a scheduling hiccup does not drop datagrams.
const udpReceiveBuffer = 4 << 20

// udpSource receives MPEG-TS datagrams on a unicast address or a multicast
// group.
type udpSource struct {
	addr  netip.AddrPort // bind address; the group for multicast
	iface string         // multicast: IPv4 address or name of the interface to join on ("" any)
	idle  time.Duration
	log   *slog.Logger
}

// newUDP parses udp://[IFACE@]ADDR:PORT. ADDR may be empty or 0.0.0.0 (all
// local addresses); IFACE (multicast only) is the IPv4 address or the name
// of the interface that joins the group.
func newUDP(u *url.URL, in engine.InputConfig, log *slog.Logger) (*udpSource, error) {
	if u.Opaque != "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("input %s: udp URL is udp://[IFACE@]ADDR:PORT", u.Redacted())
	}
	port, err := strconv.ParseUint(u.Port(), 10, 16)
	if err != nil || port == 0 {
		return nil, fmt.Errorf("input %s: udp needs a port 1-65535", u.Redacted())
	}
	addr := netip.IPv4Unspecified()
	if host := u.Hostname(); host != "" {
		addr, err = netip.ParseAddr(host)
		if err != nil || !addr.Is4() {
			return nil, fmt.Errorf("input %s: udp address %q is not an IPv4 address", u.Redacted(), host)
		}
	}
	s := &udpSource{addr: netip.AddrPortFrom(addr, uint16(port)), idle: idleGuard(in), log: log}
	if u.User != nil {
		if _, hasPassword := u.User.Password(); hasPassword {
			return nil, fmt.Errorf("input %s: udp URL takes an interface, not credentials", u.Redacted())
		}
		s.iface = u.User.Username()
		if !addr.IsMulticast() {
			return nil, fmt.Errorf("input %s: an interface is only for a multicast group", u.Redacted())
		}
		if ip, err := netip.ParseAddr(s.iface); err == nil && !ip.Is4() {
			return nil, fmt.Errorf("input %s: interface address %q is not IPv4", u.Redacted(), s.iface)
		}
	}
	return s, nil
}

// Run receives until ctx ends, the socket fails or no datagram came for the
// idle guard.
func (s *udpSource) Run(ctx context.Context, sink engine.Sink) error {
	conn, err := s.listen(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// Closing the socket is what interrupts a Read blocked in the demuxer.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	err = mpegts.NewDemuxer(sink, s.log).Run(ctx, &datagramReader{conn: conn, idle: s.idle})
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	return fmt.Errorf("udp %s: %w", s.addr, err)
}

// listen binds the socket (SO_REUSEADDR, so that several streams and tests
// can share a port or group) and joins the group for multicast.
func (s *udpSource) listen(ctx context.Context) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		return rawControl(c, func(fd int) error {
			return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
		})
	}}
	pc, err := lc.ListenPacket(ctx, "udp4", s.addr.String())
	if err != nil {
		return nil, fmt.Errorf("udp listen %s: %w", s.addr, err)
	}
	conn := pc.(*net.UDPConn)
	raw, err := conn.SyscallConn()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("udp %s: %w", s.addr, err)
	}
	// SO_RCVBUFFORCE passes net.core.rmem_max with CAP_NET_ADMIN; without
	// it the kernel caps SO_RCVBUF, which is still the best we can get.
	if rawControl(raw, func(fd int) error {
		return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, udpReceiveBuffer)
	}) != nil {
		if err := conn.SetReadBuffer(udpReceiveBuffer); err != nil {
			s.log.Warn("udp: cannot set the receive buffer", "error", err)
		}
	}
	if s.addr.Addr().IsMulticast() {
		if err := s.join(raw); err != nil {
			conn.Close()
			return nil, err
		}
	}
	return conn, nil
}

// join adds the socket to the multicast group on the chosen interface.
func (s *udpSource) join(raw syscall.RawConn) error {
	var ifaceAddr netip.Addr
	if s.iface != "" {
		var err error
		ifaceAddr, err = interfaceIPv4(s.iface)
		if err != nil {
			return fmt.Errorf("udp %s: %w", s.addr, err)
		}
	}
	mreq := &unix.IPMreq{Multiaddr: s.addr.Addr().As4()}
	if ifaceAddr.IsValid() {
		mreq.Interface = ifaceAddr.As4()
	}
	err := rawControl(raw, func(fd int) error {
		if err := unix.SetsockoptIPMreq(fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP, mreq); err != nil {
			return err
		}
		// Only this group's datagrams: by default Linux also delivers those of
		// groups other sockets joined on the same port.
		return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_ALL, 0)
	})
	if err != nil {
		return fmt.Errorf("udp join %s on %q: %w", s.addr.Addr(), s.iface, err)
	}
	s.log.Info("udp: joined multicast group", "group", s.addr, "interface", s.iface)
	return nil
}

// interfaceIPv4 resolves an interface given by IPv4 address or by name.
func interfaceIPv4(iface string) (netip.Addr, error) {
	if ip, err := netip.ParseAddr(iface); err == nil {
		return ip, nil
	}
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("interface %q: %w", iface, err)
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("interface %q: %w", iface, err)
	}
	for _, a := range addrs {
		if ipNet, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(ipNet.IP.To4()); ok {
				return ip, nil
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("interface %q has no IPv4 address", iface)
}

func rawControl(c syscall.RawConn, f func(fd int) error) error {
	var ferr error
	if err := c.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// maxDatagram is the largest UDP payload.
const maxDatagram = 65535

// datagramReader turns datagrams into a byte stream for the demuxer: each
// Read returns (part of) one datagram, RTP header removed. Junk datagrams
// pass through; the demuxer skips them.
type datagramReader struct {
	conn      *net.UDPConn
	idle      time.Duration
	refreshed time.Time // when the idle deadline was last pushed back
	buf       []byte    // for a caller buffer smaller than a datagram
	pending   []byte    // rest of the last datagram
}

func (r *datagramReader) Read(p []byte) (int, error) {
	if len(r.pending) > 0 {
		n := copy(p, r.pending)
		r.pending = r.pending[n:]
		return n, nil
	}
	for {
		// Pushing the deadline once a second is enough for a guard of seconds.
		if now := time.Now(); now.Sub(r.refreshed) >= time.Second {
			if err := r.conn.SetReadDeadline(now.Add(r.idle)); err != nil {
				return 0, err
			}
			r.refreshed = now
		}
		dst := p
		if len(p) < maxDatagram {
			if r.buf == nil {
				r.buf = make([]byte, maxDatagram)
			}
			dst = r.buf
		}
		n, err := r.conn.Read(dst)
		if err != nil {
			if isTimeout(err) {
				return 0, fmt.Errorf("no datagram for %s", r.idle)
			}
			return 0, err
		}
		payload := stripRTP(dst[:n])
		if len(payload) == 0 {
			continue
		}
		if len(p) >= maxDatagram {
			return copy(p, payload), nil // moves the payload to the front of p
		}
		c := copy(p, payload)
		r.pending = payload[c:]
		return c, nil
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// stripRTP returns the MPEG-TS payload of an RTP datagram (RFC 2250), or
// the datagram itself when it is not RTP. RTP version 2 starts with 0b10,
// raw TS with the sync byte 0x47, so they cannot be confused.
func stripRTP(d []byte) []byte {
	if len(d) < 12 || d[0]>>6 != 2 {
		return d
	}
	end := len(d)
	if d[0]&0x20 != 0 { // padding: the last byte counts it
		end -= int(d[end-1])
	}
	hl := 12 + 4*int(d[0]&0x0f)
	if d[0]&0x10 != 0 && hl+4 <= end { // header extension
		hl += 4 + 4*(int(d[hl+2])<<8|int(d[hl+3]))
	}
	if hl >= end || d[hl] != 0x47 {
		return d // not TS over RTP after all: let the demuxer resync
	}
	return d[hl:end]
}
