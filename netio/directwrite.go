package netio

import (
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"
)

// iovMax is the kernel's IOV_MAX: the most buffers one writev takes.
const iovMax = 1024

// writeDirect writes bufs to the socket with writev straight from the
// callers' memory, up to iovMax buffers a call, while the socket takes all
// it is given. It returns what the socket did not take (the first entry cut
// to its unsent part) and the number of bytes written; len(rest) > 0 means
// the socket is full.
//
// It writes behind gnet's back, so it runs only while gnet holds no output
// of the connection, which keeps the bytes in order. Unlike gnet's Writev
// it neither allocates (x/sys builds more than 8 iovecs on the heap) nor
// copies what the socket does not take: the caller decides what happens to
// the rest. The iovec array is the loop's, as nothing else writes on the
// loop meanwhile.
func (cs *connState) writeDirect(bufs [][]byte) (rest [][]byte, written int, err error) {
	vecs := &cs.loop.iovecs
	fd := cs.gc.Fd()
	for len(bufs) > 0 {
		n := min(len(bufs), iovMax)
		want := 0
		for i, b := range bufs[:n] {
			if len(b) > 0 {
				vecs[i].Base = &b[0]
			} else {
				vecs[i].Base = nil
			}
			vecs[i].SetLen(len(b))
			want += len(b)
		}
		sent, err := writevRaw(fd, vecs[:n])
		clear(vecs[:n]) // keep no buffer alive through the scratch array
		if err != nil {
			if errors.Is(err, unix.EAGAIN) {
				return bufs, written, nil
			}
			return bufs, written, err
		}
		written += sent
		if sent < want {
			for sent >= len(bufs[0]) {
				sent -= len(bufs[0])
				bufs = bufs[1:]
			}
			bufs[0] = bufs[0][sent:]
			return bufs, written, nil
		}
		bufs = bufs[n:]
	}
	return nil, written, nil
}

// writevRaw is writev(2) on an iovec array the caller owns. The socket is
// non-blocking, so the call never waits: it is made as a raw system call,
// without telling the scheduler (which costs more than the call on small
// writes, and has sysmon hand the loop's P around).
func writevRaw(fd int, vecs []unix.Iovec) (int, error) {
	if len(vecs) == 0 {
		return 0, nil
	}
	for {
		n, _, errno := unix.RawSyscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&vecs[0])), uintptr(len(vecs)))
		switch errno {
		case 0:
			return int(n), nil
		case unix.EINTR:
			continue
		default:
			return 0, errno
		}
	}
}

// writeFailed closes a connection whose socket refused a write (the peer
// reset it, or it broke): synchronously, as gnet does for its own writes,
// so callers see cs.closed when the write returns.
func (cs *connState) writeFailed(err error) {
	if cs.closed {
		return
	}
	if cs.reason == reasonNone {
		cs.reason = reasonClient
	}
	if !isPeerGone(err) {
		cs.s.log.Debug("socket write failed", "err", err)
	}
	cs.closeNow()
}
