package netio

import "sync/atomic"

// closeReason says why a connection ended; each has a counter.
type closeReason uint8

const (
	reasonNone          closeReason = iota
	reasonClient                    // the peer closed or reset, or a write failed
	reasonHeaderTimeout             // request not received within HeaderTimeout
	reasonIdleTimeout               // keep-alive connection idle for IdleTimeout
	reasonWriteTimeout              // queued output made no progress for IdleTimeout
	reasonBadRequest                // unparsable or refused request (4xx/5xx and close)
	reasonSlowViewer                // streaming viewer fell behind and its feed gave up
	reasonDone                      // response asked to close (Connection: close, HTTP/1.0)
	reasonStreamEnd                 // streaming response's feed ended
	reasonOverflow                  // client sent too much while a response was held or streaming
	reasonConnLimit                 // refused at accept: a connection limit, or stopping
	reasonShutdown                  // server stopping
	reasonInternal                  // handler panic or no response
	numReasons
)

var reasonNames = [numReasons]string{
	reasonNone:          "other",
	reasonClient:        "client",
	reasonHeaderTimeout: "header_timeout",
	reasonIdleTimeout:   "idle_timeout",
	reasonWriteTimeout:  "write_timeout",
	reasonBadRequest:    "bad_request",
	reasonSlowViewer:    "slow_viewer",
	reasonDone:          "done",
	reasonStreamEnd:     "stream_end",
	reasonOverflow:      "overflow",
	reasonConnLimit:     "conn_limit",
	reasonShutdown:      "shutdown",
	reasonInternal:      "internal_error",
}

func (r closeReason) String() string { return reasonNames[r] }

// refusal says why a connection was refused at accept; each has a counter.
type refusal uint8

const (
	refusedMaxConns      refusal = iota // over MaxConns
	refusedMaxConnsPerIP                // over MaxConnsPerIP from its address
	refusedShutdown                     // the server is stopping
	numRefusals
)

var refusalNames = [numRefusals]string{
	refusedMaxConns:      "max_connections",
	refusedMaxConnsPerIP: "max_connections_per_ip",
	refusedShutdown:      "shutdown",
}

// Stats is a snapshot of the server's counters.
type Stats struct {
	Accepted  uint64 // connections accepted
	Open      int64  // connections open now
	Requests  uint64 // requests parsed and served (including refused ones)
	Streaming int64  // streaming responses running now
	// LaggingSkips counts Lagging calls where the feed skipped ahead.
	LaggingSkips uint64
	// StreamWaits counts the times a streaming response found its socket
	// full (a partial writev) and stopped asking its feed for more until
	// the write poller said the socket drained.
	StreamWaits uint64
	// StreamQueuedPeak is the most bytes gnet ever held copied in user
	// space for one streaming connection. Back-pressure keeps it to a
	// response head, or the unsent part of one batch when a stream ends on
	// a full socket.
	StreamQueuedPeak int64
	// Files is the number of file bodies being sent now (SendFile).
	Files int64
	// SendfileBytes counts file body bytes the kernel took by sendfile.
	SendfileBytes uint64
	// SendfileWaits counts the times a file body found its socket full
	// (sendfile said EAGAIN, or gnet still held queued output) and waited
	// for the write poller.
	SendfileWaits uint64
	// SharedBodies is the number of shared bodies being sent now
	// (WriteShared) whose socket has not taken them whole yet.
	SharedBodies int64
	// BodyWaits counts the times a shared body (WriteShared) found its
	// socket full and waited for the write poller, holding the unsent part
	// by reference.
	BodyWaits uint64
	// BodyQueuedPeak is the most bytes gnet held copied in user space for a
	// connection while a shared body waited: never any of the body, only
	// the unsent tail of an earlier plain response (Write).
	BodyQueuedPeak int64
	// Closed counts closed connections by reason: client, header_timeout,
	// idle_timeout, write_timeout, bad_request, slow_viewer, done,
	// stream_end, overflow, conn_limit, shutdown, internal_error, other.
	// conn_limit counts every connection refused at accept.
	Closed map[string]uint64
	// Refused counts connections refused at accept (answered 503) by
	// reason: max_connections, max_connections_per_ip, shutdown.
	Refused map[string]uint64
}

type counters struct {
	accepted     atomic.Uint64
	open         atomic.Int64
	requests     atomic.Uint64
	streaming    atomic.Int64
	laggingSkips atomic.Uint64
	streamWaits  atomic.Uint64
	streamPeak   atomic.Int64
	files        atomic.Int64
	sentBytes    atomic.Uint64
	sendWaits    atomic.Uint64
	sharedBodies atomic.Int64
	bodyWaits    atomic.Uint64
	bodyPeak     atomic.Int64
	closed       [numReasons]atomic.Uint64
	refused      [numRefusals]atomic.Uint64
}

// Stats returns the current counters.
func (s *Server) Stats() Stats {
	st := Stats{
		Accepted:         s.stats.accepted.Load(),
		Open:             s.stats.open.Load(),
		Requests:         s.stats.requests.Load(),
		Streaming:        s.stats.streaming.Load(),
		LaggingSkips:     s.stats.laggingSkips.Load(),
		StreamWaits:      s.stats.streamWaits.Load(),
		StreamQueuedPeak: s.stats.streamPeak.Load(),
		Files:            s.stats.files.Load(),
		SendfileBytes:    s.stats.sentBytes.Load(),
		SendfileWaits:    s.stats.sendWaits.Load(),
		SharedBodies:     s.stats.sharedBodies.Load(),
		BodyWaits:        s.stats.bodyWaits.Load(),
		BodyQueuedPeak:   s.stats.bodyPeak.Load(),
		Closed:           make(map[string]uint64, numReasons),
		Refused:          make(map[string]uint64, numRefusals),
	}
	for r := range s.stats.closed {
		st.Closed[reasonNames[r]] = s.stats.closed[r].Load()
	}
	for r := range s.stats.refused {
		st.Refused[refusalNames[r]] = s.stats.refused[r].Load()
	}
	return st
}

// notePeakStreamQueued raises StreamQueuedPeak to q if q is larger.
func (c *counters) notePeakStreamQueued(q int) { raisePeak(&c.streamPeak, q) }

// noteBodyQueued raises BodyQueuedPeak to q if q is larger.
func (c *counters) noteBodyQueued(q int) { raisePeak(&c.bodyPeak, q) }

func raisePeak(peak *atomic.Int64, q int) {
	for {
		p := peak.Load()
		if int64(q) <= p || peak.CompareAndSwap(p, int64(q)) {
			return
		}
	}
}
