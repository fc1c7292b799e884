package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const (
	readBufSize  = 64 << 10
	maxRedirects = 5
	// streamLowat is the SO_RCVLOWAT of a TS stream: the goroutine wakes
	// once per 16 KiB instead of once per server write, which is most of the
	// CPU a viewer costs.
	streamLowat = 16 << 10
)

// readBufs lends read buffers for the duration of one read callback, so
// memory follows the number of running goroutines, not of viewers.
var readBufs = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

// get fetches u on the viewer's keep-alive connection, following redirects,
// and hands the body to mode. It returns the final URL; the status is in
// v.resp.status.
func (v *viewer) get(ctx context.Context, u *url.URL, mode bodyMode) (*url.URL, error) {
	for hop := 0; ; hop++ {
		if err := v.roundTrip(ctx, u, mode); err != nil {
			return u, err
		}
		st := v.resp.status
		if st < 300 || st >= 400 || st == 304 || v.resp.location == "" {
			return u, nil
		}
		if hop == maxRedirects {
			return u, classified(errStatus, fmt.Errorf("GET %s: more than %d redirects", u.Redacted(), maxRedirects))
		}
		next, err := u.Parse(v.resp.location)
		if err != nil || next.Scheme != "http" || next.Host == "" {
			return u, classified(errStatus, fmt.Errorf("GET %s: unusable redirect to %q", u.Redacted(), v.resp.location))
		}
		u = next
	}
}

// roundTrip sends one request and reads its response, on the open
// connection when it goes to the same host, else on a new one. A reused
// connection that the server closed while idle is retried once.
func (v *viewer) roundTrip(ctx context.Context, u *url.URL, mode bodyMode) error {
	for attempt := 0; ; attempt++ {
		if v.nc != nil && v.host != u.Host {
			v.closeConn()
		}
		reused := v.nc != nil
		if !reused {
			if err := v.connect(ctx, u); err != nil {
				return err
			}
		}
		err := v.exchange(u, mode)
		if err == nil {
			if !v.resp.keepAlive {
				v.closeConn()
			}
			return nil
		}
		v.closeConn()
		if reused && attempt == 0 && v.respBytes == 0 && ctx.Err() == nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			continue
		}
		return v.ioError(u, err)
	}
}

func (v *viewer) connect(ctx context.Context, u *url.URL) error {
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	c, err := v.r.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return classified(errConnect, err) // net.OpError names both addresses
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		c.Close()
		return classified(errOther, fmt.Errorf("connect %s: not a TCP connection", addr))
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		tc.Close()
		return classified(errOther, fmt.Errorf("connect %s: %w", addr, err))
	}
	v.nc, v.rc, v.host, v.lowat = tc, rc, u.Host, false
	// Closing the connection is what interrupts a viewer blocked in a read
	// when the run ends.
	v.stopClose = context.AfterFunc(ctx, func() { tc.Close() })
	return nil
}

func (v *viewer) closeConn() {
	if v.nc == nil {
		return
	}
	v.stopClose()
	v.nc.Close()
	v.nc, v.rc, v.stopClose = nil, nil, nil
}

// exchange writes a GET for u and reads the response to its end (for a TS
// stream: until the stream fails or the run ends).
func (v *viewer) exchange(u *url.URL, mode bodyMode) error {
	v.resp.reset()
	v.mode = mode
	v.respBytes = 0
	v.readErr = nil
	if err := v.armDeadline(v.r.now()); err != nil {
		return err
	}
	bp := readBufs.Get().(*[]byte)
	req := appendRequest((*bp)[:0], u)
	_, err := v.nc.Write(req)
	readBufs.Put(bp)
	if err != nil {
		return err
	}
	for {
		err := v.rc.Read(v.readFn)
		if err == nil {
			err = v.readErr
		}
		switch {
		case err == nil && v.resp.done():
			return nil
		case err == nil:
			continue
		case errors.Is(err, io.EOF):
			return v.resp.eof()
		case errors.Is(err, os.ErrDeadlineExceeded) && v.lowat:
			// Maybe a slow stream that never fills the low-water mark: take
			// it back to 1 byte, and go on if bytes are waiting.
			v.setLowat(false)
			if v.queued() == 0 {
				return err
			}
			if err := v.armDeadline(v.r.now()); err != nil {
				return err
			}
			continue
		}
		return err
	}
}

// appendRequest writes the GET request for u.
func appendRequest(b []byte, u *url.URL) []byte {
	b = append(b, "GET "...)
	b = append(b, u.RequestURI()...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, u.Host...)
	b = append(b, "\r\nUser-Agent: livedge-load\r\nAccept: */*\r\n\r\n"...)
	return b
}

// armDeadline gives the connection -timeout from now to make progress.
func (v *viewer) armDeadline(now int64) error {
	v.deadlineAt = now
	return v.nc.SetDeadline(v.r.start.Add(time.Duration(now) + v.r.cfg.timeout))
}

// setLowat raises SO_RCVLOWAT for streaming or lowers it back to 1 byte.
func (v *viewer) setLowat(on bool) {
	n := 1
	if on {
		n = streamLowat
	}
	set := func(fd uintptr) { _ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVLOWAT, n) }
	if v.fd >= 0 {
		set(uintptr(v.fd)) // inside the read callback
	} else if v.rc != nil {
		_ = v.rc.Control(set)
	}
	v.lowat = on
}

// queued returns the bytes waiting in the socket's receive queue.
func (v *viewer) queued() int {
	n := 0
	_ = v.rc.Control(func(fd uintptr) { n, _ = unix.IoctlGetInt(int(fd), unix.SIOCINQ) })
	return n
}

// onReadable is the raw read callback: it reads into a borrowed buffer and
// processes the bytes on the spot. It returns false to wait for more data,
// true when the response is complete or an error is set.
func (v *viewer) onReadable(fd uintptr) bool {
	bp := readBufs.Get().(*[]byte)
	buf := *bp
	v.fd = int(fd)
	defer func() {
		v.fd = -1
		readBufs.Put(bp)
	}()
	for {
		n, err := syscall.Read(int(fd), buf)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return false
		case err != nil:
			v.readErr = err
			return true
		case n == 0:
			v.readErr = io.EOF
			return true
		}
		if err := v.onData(buf[:n]); err != nil {
			v.readErr = err
			return true
		}
		if v.resp.done() {
			return true
		}
		if n < len(buf) {
			// Drained: the poller wakes us on the next arrival.
			return false
		}
	}
}

// onData runs the received bytes through the response parser.
func (v *viewer) onData(p []byte) error {
	v.bytes.Add(int64(len(p)))
	v.respBytes += len(p)
	now := v.r.now()
	for len(p) > 0 {
		if v.resp.done() {
			return classified(errProtocol, fmt.Errorf("%d bytes after the end of the response", len(p)))
		}
		inHeader := !v.resp.inBody()
		n, body, err := v.resp.next(p)
		if err != nil {
			return classified(errProtocol, err)
		}
		if n == 0 && !v.resp.done() {
			return classified(errProtocol, errors.New("response parser made no progress"))
		}
		p = p[n:]
		if inHeader && v.resp.inBody() && v.resp.status == 200 && v.mode == modeTS {
			v.setLowat(true)
		}
		if len(body) > 0 && v.resp.status == 200 {
			if err := v.onBody(now, body); err != nil {
				return err
			}
		}
	}
	if v.firstByteAt != 0 && now-v.deadlineAt > int64(v.r.cfg.timeout/4) {
		// Slide the idle deadline, coarsely: re-arming a timer per read
		// would cost more than the read.
		return v.armDeadline(now)
	}
	return nil
}

// onBody handles one piece of a 200 response body.
func (v *viewer) onBody(now int64, body []byte) error {
	switch v.mode {
	case modeTS:
		if v.firstByteAt == 0 {
			v.firstMedia(now)
		}
		return v.onStream(now, body)
	case modeSegment:
		if v.firstByteAt == 0 {
			v.firstMedia(now)
		}
	case modePlaylist:
		if len(*v.plBuf)+len(body) > maxPlaylistBytes {
			return classified(errProtocol, fmt.Errorf("playlist larger than %d bytes", maxPlaylistBytes))
		}
		*v.plBuf = append(*v.plBuf, body...)
	}
	return nil
}

// ioError classifies a failed exchange; errors already classified pass.
func (v *viewer) ioError(u *url.URL, err error) error {
	var ve *viewerError
	if errors.As(err, &ve) {
		return err
	}
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		if v.respBytes == 0 {
			return classified(errTimeout, fmt.Errorf("GET %s: no response within %s", u.Redacted(), v.r.cfg.timeout))
		}
		return classified(errTimeout, fmt.Errorf("GET %s: no data for %s", u.Redacted(), v.r.cfg.timeout))
	case errors.Is(err, errUnexpectedEOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return classified(errClosed, fmt.Errorf("GET %s: %w", u.Redacted(), err))
	}
	return classified(errOther, fmt.Errorf("GET %s: %w", u.Redacted(), err))
}
