package netio

import (
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// fileBody is a response body being sent from a file by sendfile.
type fileBody struct {
	f    *os.File
	fd   int
	off  int64 // next byte to send
	end  int64 // offset just past the body
	keep bool  // the connection stays open after the body
	// progress is when the socket last took bytes: the write timeout.
	progress time.Duration
}

// sendfileTurn bounds what one connection sends in one turn on its loop, so
// that a fast reader of a large file does not hold up the loop's other
// connections: past it the body waits for its next turn like a full socket.
const sendfileTurn = 1 << 20

// startFile runs on the loop: it writes the head the normal way, then the
// body from f by sendfile, before any later response of the connection.
func (cs *connState) startFile(rw *ResponseWriter, status int, ctype string, f *os.File, off, length int64) {
	cs.current = nil
	keep := rw.req.KeepAlive && !cs.s.stopping.Load()
	clen := int64(-1) // 1xx, 204 and 304 carry neither body nor Content-Length
	if bodyAllowed(status) {
		clen = length
	}
	hdr := cs.appendHead(cs.hdr[:0], status, ctype, rw.extra, clen, keep)
	cs.one[0] = hdr
	cs.writev(cs.one[:])
	cs.one[0] = nil
	cs.hdr = hdr[:0]
	if cs.closed || clen <= 0 || rw.req.Method == "HEAD" {
		_ = f.Close()
		cs.afterResponse(keep, reasonNone)
		return
	}
	cs.file = fileBody{f: f, fd: int(f.Fd()), off: off, end: off + length, keep: keep, progress: cs.s.now()}
	cs.state = stSending
	cs.s.stats.files.Add(1)
	cs.sendFile()
}

// sendFile sends the file body while the socket takes it, up to one turn.
// sendfile writes behind gnet's back, so it runs only while gnet holds no
// output of the connection (the head, when the socket was full): that
// keeps the bytes in order.
func (cs *connState) sendFile() {
	fb := &cs.file
	if !cs.gnetDrained() {
		if !cs.closed {
			cs.waitWritable(true)
		}
		return
	}
	sock := cs.gc.Fd()
	sent := int64(0)
	for fb.off < fb.end {
		if sent >= sendfileTurn {
			cs.waitWritable(false)
			return
		}
		n, err := unix.Sendfile(sock, fb.fd, &fb.off, int(min(fb.end-fb.off, sendfileTurn-sent)))
		if n > 0 {
			sent += int64(n)
			cs.s.stats.sentBytes.Add(uint64(n))
			fb.progress = cs.s.now()
		}
		switch {
		case err == nil && n > 0:
		case errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.EAGAIN):
			cs.waitWritable(true)
			return
		case err == nil: // n == 0: the file ends before the promised length
			cs.s.log.Warn("file body cut short: the file is shorter than its Content-Length",
				"missing", fb.end-fb.off)
			cs.abortFile(reasonInternal)
			return
		case isPeerGone(err):
			cs.abortFile(reasonClient)
			return
		default:
			cs.s.log.Warn("sendfile failed", "err", err)
			cs.abortFile(reasonInternal)
			return
		}
	}
	keep := fb.keep
	cs.endFile()
	cs.afterResponse(keep, reasonNone)
}

func isPeerGone(err error) bool {
	return errors.Is(err, unix.EPIPE) || errors.Is(err, unix.ECONNRESET) || errors.Is(err, unix.ETIMEDOUT) ||
		errors.Is(err, unix.EHOSTUNREACH) || errors.Is(err, unix.ENETUNREACH)
}

// waitWritable has the write poller wake the connection when its socket
// takes more; full says the socket (or gnet's queue) was full, rather than
// the turn over.
func (cs *connState) waitWritable(full bool) {
	if full {
		cs.s.stats.sendWaits.Add(1)
	}
	if !cs.armWritable() {
		cs.abortFile(reasonInternal)
	}
}

// abortFile gives up a body after part of it went out: only closing tells
// the client that the response is incomplete.
func (cs *connState) abortFile(r closeReason) {
	cs.endFile()
	cs.requestClose(r)
}

// endFile closes the body's file, once.
func (cs *connState) endFile() {
	if cs.file.f == nil {
		return
	}
	_ = cs.file.f.Close()
	cs.file = fileBody{}
	cs.s.stats.files.Add(-1)
}
