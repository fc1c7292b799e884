package cluster

// This file is the contract between the cluster package and the daemon that
// wires it (appliance). Implementations live in the files named after what
// they hold.

import (
	"time"

	"github.com/livedge/livedge/perf"
)

// Mode is how the balancer compares servers.
type Mode string

const (
	// ModeClients prefers the server with the fewest viewers.
	ModeClients Mode = "clients"
	// ModeBitrate prefers the server with the least output bitrate.
	ModeBitrate Mode = "bitrate"
	// ModeUsage prefers the lowest output bitrate / max_bitrate; the default
	// when max_bitrate is set.
	ModeUsage Mode = "usage"
)

// Defaults of peering.
const (
	DefaultFetchTimeout = time.Second
	DefaultStaleTimeout = 5 * time.Second
	// MaxClockSkew bounds how far the timestamp of a Cluster authorization
	// may be from now.
	MaxClockSkew = 60 * time.Second
)

// Config is this node's cluster configuration. The zero Config (no key, no
// peers) is a node alone: every decision is "serve here".
type Config struct {
	// Self is this server's name in the cluster (the `hostname` directive,
	// default the OS hostname). Peers report it in their tables; capture_at
	// names servers by it.
	Self string
	// Public is HOST[:PORT] where viewers reach this server ("" = unknown;
	// peers then use their configured public address for it).
	Public string
	// Key is the shared cluster_key. Empty: peering is off.
	Key string
	// Balance is the balancing mode ("" = ModeUsage when a max bitrate is
	// known: MaxBitrateKbit, or a live peer's, configured or reported; else
	// ModeClients).
	Balance Mode
	// MaxBitrateKbit is this server's output limit (0 = none): past it new
	// viewers are sent to a less loaded peer that has the stream.
	MaxBitrateKbit uint64
	Peers          []PeerConfig
}

// PeerConfig is one `peer` directive.
type PeerConfig struct {
	// Host is HOST[:PORT] as this server reaches the peer (its API).
	Host string
	// Public is HOST[:PORT] viewers are redirected to ("" = Host).
	Public string
	// FetchTimeout is the poll period (0 = DefaultFetchTimeout).
	FetchTimeout time.Duration
	// StaleTimeout: a peer not heard from for this long is dead (0 =
	// DefaultStaleTimeout).
	StaleTimeout time.Duration
	// MaxBitrateKbit is the peer's output limit as this server sees it
	// (0 = what the peer reports).
	MaxBitrateKbit uint64
}

// LocalStream is one stream of this server as peers see it in its table.
type LocalStream struct {
	Name string
	// Running: the stream runs here now.
	Running bool
	// Startable: the stream is configured here (static or on demand), so a
	// viewer sent here will be served.
	Startable bool
}

// Local is what the cluster reads of this server. Streams is called from
// the node's table refresher goroutine only (every min(fetch_timeout,
// 500 ms), never from the event loop); Load also from ServeTable, on the
// event loop, so it must be cheap (perf.LoadSource says so).
type Local interface {
	perf.LoadSource
	// Streams lists this server's streams, sorted by name.
	Streams() []LocalStream
}

// Stream is what a redirect decision knows of the requested stream here.
type Stream struct {
	Name string
	// Running here now; Startable: configured here, would start on demand.
	Running, Startable bool
	// Ingest: the stream has cluster_ingest; CaptureAt is its capture_at ("").
	Ingest    bool
	CaptureAt string
}

// Request is a viewer's request as the decision sees it: protocol-free, so
// HLS, HTTP-TS, embed.html, and later RTMP and RTSP, share it.
type Request struct {
	Stream Stream
	// Redirected: the request already came through a peer's redirect; it is
	// never redirected again (no ping-pong when tables disagree).
	Redirected bool
}

// Verdict is the outcome of a decision.
type Verdict int

const (
	// NotFound: nobody in the group has or can start the stream.
	NotFound Verdict = iota
	// Serve here.
	Serve
	// Redirect the viewer to Decision.Public.
	Redirect
)

// Decision is what to do with a Request.
type Decision struct {
	Verdict Verdict
	// Peer and Public name the target of a Redirect (Public is HOST[:PORT]).
	Peer, Public string
}

// RedirectParam is the query parameter a redirect adds so that the server
// it points at never redirects the viewer again.
const RedirectParam = "cluster_redirect"

// PeerState is a peer as GET /streamer/api/v3/cluster/peers shows it.
type PeerState struct {
	Host   string `json:"hostname"` // as configured
	Name   string `json:"name,omitempty"`
	Public string `json:"public_payload_url"`
	// State: "live", "dead" (not heard from for stale_timeout), "forbidden"
	// (answers 403: wrong cluster_key) or "connecting" (no answer yet);
	// also "self" (the peer is this server: it reports our own name),
	// "conflict" (another peer reported its name first) and "off" (no
	// cluster_key here: nobody is polled). Only "live" peers are redirect
	// targets and count as live servers.
	State string `json:"state"`
	// LastContact is the time of the last good answer (zero: never).
	LastContact time.Time `json:"last_contact,omitzero"`
	Error       string    `json:"error,omitempty"`
	Load        perf.Load `json:"stats"`
	// MaxBitrateKbit is the peer's limit (0 = none).
	MaxBitrateKbit uint64 `json:"max_bitrate_kbit,omitempty"`
	// Streams counts the peer's streams: running, and all it can serve.
	OnlineStreams int `json:"online_streams"`
	TotalStreams  int `json:"total_streams"`
}
