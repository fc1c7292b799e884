package netio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"golang.org/x/sys/unix"
)

// writePoller tells connections when their socket takes more bytes. gnet
// watches writability only for its own output buffer and has no callback
// for it, so a connection that met a full socket (a file body whose
// sendfile said EAGAIN, a streaming response whose writev was partial)
// registers the socket here, one-shot, and a goroutine blocked in
// epoll_wait wakes the connection on its loop when it is writable. No
// polling, no copies.
//
// A socket may sit in several epoll sets; gnet's keeps watching it for
// reading meanwhile. The registration is removed in OnClose, before gnet
// closes the descriptor.
type writePoller struct {
	epfd int
	evfd int // eventfd that stops the goroutine
	log  *slog.Logger

	mu sync.Mutex
	// waiting maps an armed descriptor to its connection. Whoever takes an
	// entry out wakes the connection (except a closing one), so a stale
	// event, even one for a descriptor number since reused, costs at most a
	// spurious wake: the woken connection tries, gets EAGAIN and arms again.
	waiting map[int32]*connState
	done    chan struct{}
}

// wpStopKey marks the eventfd's events: socket descriptors are never negative.
const wpStopKey = -1

func newWritePoller(log *slog.Logger) (*writePoller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("write poller: epoll_create1: %w", err)
	}
	evfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("write poller: eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: wpStopKey}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return nil, fmt.Errorf("write poller: epoll_ctl: %w", err)
	}
	p := &writePoller{epfd: epfd, evfd: evfd, log: log, waiting: make(map[int32]*connState), done: make(chan struct{})}
	go p.run()
	return p, nil
}

// run waits for writable sockets and wakes their connections.
func (p *writePoller) run() {
	defer close(p.done)
	var events [128]unix.EpollEvent
	for {
		n, err := unix.EpollWait(p.epfd, events[:], -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			p.log.Error("write poller stopped: sockets waiting to send files rely on the timeout sweep", "err", err)
			return
		}
		for i := 0; i < n; i++ {
			key := events[i].Fd
			if key == wpStopKey {
				return
			}
			p.mu.Lock()
			cs := p.waiting[key]
			delete(p.waiting, key)
			p.mu.Unlock()
			if cs != nil {
				cs.wpArmed.Store(false) // before the wake: the woken loop sees it
				cs.Wake()
			}
		}
	}
}

// arm asks for one wake of cs when its socket is writable; on its loop.
func (p *writePoller) arm(cs *connState) error {
	fd := cs.gc.Fd()
	cs.wpArmed.Store(true)
	p.mu.Lock()
	p.waiting[int32(fd)] = cs
	p.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLOUT | unix.EPOLLONESHOT, Fd: int32(fd)}
	op := unix.EPOLL_CTL_MOD // re-arms the registration of an earlier wait
	if !cs.wpRegistered {
		op = unix.EPOLL_CTL_ADD
	}
	err := unix.EpollCtl(p.epfd, op, fd, &ev)
	if err != nil {
		p.mu.Lock()
		if p.waiting[int32(fd)] == cs {
			delete(p.waiting, int32(fd))
		}
		p.mu.Unlock()
		cs.wpArmed.Store(false)
		return fmt.Errorf("write poller: arm fd %d: %w", fd, err)
	}
	cs.wpRegistered = true
	return nil
}

// forget removes cs's registration; on its loop, before its descriptor is
// closed.
func (p *writePoller) forget(cs *connState) {
	fd := cs.gc.Fd()
	p.mu.Lock()
	if p.waiting[int32(fd)] == cs {
		delete(p.waiting, int32(fd))
	}
	p.mu.Unlock()
	if cs.wpRegistered {
		cs.wpRegistered = false
		_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil)
	}
}

// close stops the goroutine and releases the descriptors. It runs after the
// event loops exited: no connection arms or forgets any more.
func (p *writePoller) close() {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	_, _ = unix.Write(p.evfd, one[:])
	<-p.done
	unix.Close(p.epfd)
	unix.Close(p.evfd)
}
