package load

import (
	"context"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"syscall"
	"time"
)

// bodyMode says what a viewer does with the body of the current response.
type bodyMode uint8

const (
	modeTS       bodyMode = iota // follow the TS media clock
	modePlaylist                 // gather the m3u8 into plBuf
	modeSegment                  // count it (an HLS segment)
)

const (
	tsStallThreshold = int64(2 * time.Second)
	minHLSThreshold  = int64(100 * time.Millisecond)
	reconnectBackoff = time.Second
)

// viewer is one simulated player. Its goroutine owns every field except the
// atomics and stall, which the reporter reads once per second.
type viewer struct {
	r  *run
	id int

	bytes atomic.Int64 // received from the socket, headers included
	up    atomic.Bool  // the current session has received media
	upped atomic.Bool  // some session has received media
	stall stallClock

	// Connection: one keep-alive TCP connection at a time, read through the
	// raw descriptor so an idle viewer holds no read buffer.
	nc        *net.TCPConn
	rc        syscall.RawConn
	host      string // URL host the connection was made for
	stopClose func() bool
	readFn    func(fd uintptr) bool // v.onReadable, bound once
	fd        int                   // valid inside readFn
	lowat     bool                  // SO_RCVLOWAT raised for streaming

	// Current response.
	resp       respParser
	mode       bodyMode
	readErr    error
	respBytes  int
	deadlineAt int64 // run time the read deadline was last armed

	// Current session.
	sessionStart int64
	firstByteAt  int64 // 0 until the first media byte
	clockOn      bool  // TS: the media clock has started
	tsTicks      int64 // TS: clock ticks already reported to stall
	ts           tsClock
	plBuf        *[]byte // HLS: the playlist body while it is in use
	pl           playlist

	timer *time.Timer
}

func (v *viewer) init(r *run, id int) {
	v.r, v.id = r, id
	v.readFn = v.onReadable
	v.fd = -1
	v.timer = time.NewTimer(time.Hour)
	v.timer.Stop()
}

// run plays sessions until ctx ends: each failure is counted and followed,
// after a short jittered pause, by a fresh session, as a player retries.
func (v *viewer) run(ctx context.Context) {
	defer v.closeConn()
	for {
		var err error
		if v.r.cfg.hls {
			err = v.playHLS(ctx)
		} else {
			err = v.playTS(ctx)
		}
		v.endSession()
		if ctx.Err() != nil {
			return
		}
		v.r.recordError(v, err)
		if !v.sleep(ctx, reconnectBackoff+rand.N(reconnectBackoff/2)) {
			return
		}
	}
}

func (v *viewer) beginSession(threshold int64) {
	v.sessionStart = v.r.now()
	v.firstByteAt = 0
	v.clockOn = false
	v.tsTicks = 0
	v.ts.reset()
	v.stall.start(threshold)
}

func (v *viewer) endSession() {
	v.up.Store(false)
	v.stall.stop()
	v.releasePlaylist()
}

// firstMedia marks the first media byte of the session: time to first byte.
func (v *viewer) firstMedia(now int64) {
	v.firstByteAt = now
	v.r.ttfb.record(time.Duration(now - v.sessionStart))
	v.r.sessions.Add(1)
	v.up.Store(true)
	v.upped.Store(true)
}

// mediaArrived reports d nanoseconds of media received at now.
func (v *viewer) mediaArrived(now, d int64) {
	if v.stall.arrived(now, d) {
		v.r.stalls.Add(1)
	}
}

// sleep waits d or until ctx ends; it reports whether ctx is still live.
func (v *viewer) sleep(ctx context.Context, d time.Duration) bool {
	v.timer.Reset(d)
	select {
	case <-ctx.Done():
		v.timer.Stop()
		return false
	case <-v.timer.C:
		return true
	}
}
