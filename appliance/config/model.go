// Package config owns livedge's configuration model and its file syntax (the
// flussonic.conf subset): the typed Config that the file, the API and
// environment overrides all produce, the parser with file:line:col errors,
// the canonical formatter, and the validation rules shared by every input.
package config

import (
	_ "embed"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/livedge/livedge/engine"
)

// Config is the desired configuration of a node. Its JSON form follows the
// Flussonic API v3 naming.
type Config struct {
	// HTTP holds the listen specs "[ADDR:]PORT" of the HTTP server.
	HTTP []string `json:"http,omitempty"`
	// MaxConnections bounds the open HTTP connections; more are answered
	// 503. 0: derived from the file descriptor limit.
	MaxConnections int `json:"max_connections,omitempty"`
	// MaxConnectionsPerIP bounds the open HTTP connections from one client
	// address (an IPv6 client counts by its /64). nil: the server's default
	// (100); 0: no limit, which load tests from one host need.
	MaxConnectionsPerIP *int `json:"max_connections_per_ip,omitempty"`
	// MemoryPool is the size in bytes of the pool that stream data (TS
	// chunks, HLS segments) lives in. 0: default (256 MiB). Read at start.
	MemoryPool int64 `json:"memory_pool,omitempty"`
	// ViewerQueueLimit is how far, in bytes, an HTTP MPEG-TS viewer may fall
	// behind its stream before SlowViewer applies. 0: about one GOP of the
	// stream (at least 128 KiB). Read at start.
	ViewerQueueLimit int64 `json:"viewer_queue_limit,omitempty"`
	// SlowViewer is what happens to a viewer past ViewerQueueLimit:
	// "resync" (skip to the newest keyframe, the default) or "drop".
	SlowViewer string `json:"slow_viewer,omitempty"`
	// HTTPHeaderTimeout bounds, in seconds, the time a client takes to send
	// a request's head (the slowloris defence). 0: default (10).
	HTTPHeaderTimeout int `json:"http_header_timeout,omitempty"`
	// HTTPIdleTimeout closes, in seconds, keep-alive connections idle
	// between requests and connections whose output stalls. 0: default (60).
	HTTPIdleTimeout int `json:"http_idle_timeout,omitempty"`

	// Hostname is this server's name in the cluster: peers see it in its
	// stream table and capture_at names servers by it. "": the OS hostname.
	Hostname string `json:"hostname,omitempty"`
	// Public is HOST[:PORT] where viewers reach this server; peers redirect
	// viewers there unless their peer block names another ("": peers use
	// their own address for it).
	Public     string `json:"public_payload_url,omitempty"`
	ClusterKey string `json:"cluster_key,omitempty"`
	Peers      []Peer `json:"peers,omitempty"`
	// ClusterBalance is how new viewers are spread when this server is over
	// MaxBitrate: "clients", "bitrate" or "usage" ("": usage when max
	// bitrates are known, else clients).
	ClusterBalance string `json:"cluster_balance,omitempty"`
	// MaxBitrate is this server's output limit in bit/s (0: none).
	MaxBitrate     int64                 `json:"max_bitrate,omitempty"`
	EditAuth       *Auth                 `json:"edit_auth,omitempty"`
	ViewAuth       *Auth                 `json:"view_auth,omitempty"`
	ConfigExternal string                `json:"config_external,omitempty"`
	Streams        []engine.StreamConfig `json:"streams,omitempty"`
}

// Peer is another node of the cluster.
type Peer struct {
	// Host is "HOST[:PORT]" as this node reaches the peer.
	Host string `json:"hostname"`
	// Public is "HOST[:PORT]" as viewers reach the peer ("": same as Host).
	Public string `json:"public_payload_url,omitempty"`
	// FetchTimeout is the poll period in milliseconds (0: 1000).
	FetchTimeout int `json:"fetch_timeout,omitempty"`
	// StaleTimeout in milliseconds: a peer not heard from for this long is
	// dead (0: 5000).
	StaleTimeout int `json:"stale_timeout,omitempty"`
	// MaxBitrate is the peer's output limit in bit/s (0: what it reports).
	MaxBitrate int64 `json:"max_bitrate,omitempty"`
}

// Auth is a login and password pair.
type Auth struct {
	User     string `json:"login"`
	Password string `json:"password"`
}

// Error codes, stable for API clients.
const (
	CodeSyntax           = "syntax"
	CodeUnknownDirective = "unknown_directive"
	CodeUnknownOption    = "unknown_option"
	CodeBadValue         = "bad_value"
	CodeBadURL           = "bad_url"
	CodeDuplicate        = "duplicate"
	CodeMissing          = "missing"
	CodeTooLarge         = "too_large"
)

// Error is a configuration error. From the parser it has File, Line and Col
// (1-based; Col counts bytes) of the offending token; from Validate only Path.
type Error struct {
	File string
	Line int
	Col  int
	// Code is one of the Code* constants.
	Code string
	// Path locates the bad value in the JSON model, e.g. ["streams",0,"inputs",0,"url"].
	Path []any
	Msg  string
}

func (e *Error) Error() string {
	switch {
	case e.Line > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
	case len(e.Path) > 0:
		return pathString(e.Path) + ": " + e.Msg
	case e.File != "":
		return e.File + ": " + e.Msg
	}
	return e.Msg
}

// pathString renders a Path as "streams[0].inputs[1].url".
func pathString(path []any) string {
	var b strings.Builder
	for _, p := range path {
		switch p := p.(type) {
		case int:
			b.WriteString("[" + strconv.Itoa(p) + "]")
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			fmt.Fprint(&b, p)
		}
	}
	return b.String()
}

// MaxFileSize bounds a config file.
const MaxFileSize = 16 << 20

// Load reads and parses the config file at path.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	return Parse(path, data)
}

//go:embed default.conf
var defaultConf []byte

// Default is the configuration used when no file is given.
func Default() *Config {
	c, err := Parse("default.conf", defaultConf)
	if err != nil {
		// The file is compiled in and covered by tests.
		panic("config: embedded default.conf: " + err.Error())
	}
	return c
}

// Stream returns a copy of the named stream's configuration.
func (c *Config) Stream(name string) (engine.StreamConfig, bool) {
	for _, s := range c.Streams {
		if s.Name == name {
			s.Inputs = slices.Clone(s.Inputs)
			return s, true
		}
	}
	return engine.StreamConfig{}, false
}
