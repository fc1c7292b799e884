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
	reasonConnLimit                 // over MaxConns
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

// Stats is a snapshot of the server's counters.
type Stats struct {
	Accepted  uint64 // connections accepted
	Open      int64  // connections open now
	Requests  uint64 // requests parsed and served (including refused ones)
	Streaming int64  // streaming responses running now
	// LaggingSkips counts Lagging calls where the feed skipped ahead.
	LaggingSkips uint64
	// Closed counts closed connections by reason: client, header_timeout,
	// idle_timeout, write_timeout, bad_request, slow_viewer, done,
	// stream_end, overflow, conn_limit, shutdown, internal_error, other.
	Closed map[string]uint64
}

type counters struct {
	accepted     atomic.Uint64
	open         atomic.Int64
	requests     atomic.Uint64
	streaming    atomic.Int64
	laggingSkips atomic.Uint64
	closed       [numReasons]atomic.Uint64
}

// Stats returns the current counters.
func (s *Server) Stats() Stats {
	st := Stats{
		Accepted:     s.stats.accepted.Load(),
		Open:         s.stats.open.Load(),
		Requests:     s.stats.requests.Load(),
		Streaming:    s.stats.streaming.Load(),
		LaggingSkips: s.stats.laggingSkips.Load(),
		Closed:       make(map[string]uint64, numReasons),
	}
	for r := range s.stats.closed {
		st.Closed[reasonNames[r]] = s.stats.closed[r].Load()
	}
	return st
}
