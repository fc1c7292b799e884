package config

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/livedge/livedge/cluster"
	"github.com/livedge/livedge/engine"
)

// The cluster's settings: hostname, peers and their poll timing, balancing
// and cluster_ingest.

var (
	fetchTimeoutRule = intRule{"fetch_timeout", 50, 60_000, parseDuration,
		"50ms to 60s (milliseconds, or a number with ms, s or m: 500ms, 2s)"}
	staleTimeoutRule = intRule{"stale_timeout", 100, 600_000, parseDuration,
		"100ms to 10m (milliseconds, or a number with ms, s or m: 500ms, 5s)"}
	bitrateRule = sizeRule{"max_bitrate", 1000, 10_000_000_000_000, parseBitrate,
		"a bitrate from 1k to 10T bit/s (a number with k, M, G or T: 800M, 10G)"}
)

// parseDuration parses milliseconds written "N", "Nms", "Ns" or "Nm".
func parseDuration(s string) (int, bool) {
	scale := 1
	switch {
	case strings.HasSuffix(s, "ms"):
		s = s[:len(s)-2]
	case strings.HasSuffix(s, "s"):
		s, scale = s[:len(s)-1], 1000
	case strings.HasSuffix(s, "m"):
		s, scale = s[:len(s)-1], 60_000
	}
	n, ok := parseDecimal(s)
	if !ok || n > 1_000_000_000/scale {
		return 0, false
	}
	return n * scale, true
}

// formatDuration writes milliseconds in the largest unit that holds them.
func formatDuration(ms int) string {
	switch {
	case ms%60_000 == 0:
		return strconv.Itoa(ms/60_000) + "m"
	case ms%1000 == 0:
		return strconv.Itoa(ms/1000) + "s"
	}
	return strconv.Itoa(ms) + "ms"
}

// bitrateUnits are decimal, as bitrates are (10G is 10^10 bit/s).
var bitrateUnits = []unit{{'T', 1e12}, {'G', 1e9}, {'M', 1e6}, {'K', 1e3}}

// parseBitrate parses bit/s: N, or N with k, M, G or T (any case).
func parseBitrate(s string) (int64, bool) { return parseScaled(s, bitrateUnits) }

// formatBitrate writes bit/s in the largest decimal unit that holds it.
func formatBitrate(n int64) string { return formatScaled(n, bitrateUnits) }

// peer reads "peer HOST[:PORT];" or "peer HOST[:PORT] { public H; fetch_timeout T;
// stale_timeout T; max_bitrate B; }".
func (p *parser) peer(st statement) *Error {
	if err := p.args(st, 1, 1); err != nil {
		return err
	}
	i := len(p.cfg.Peers)
	p.cfg.Peers = append(p.cfg.Peers, Peer{Host: st.args[0].text})
	p.mark(st.args[0], "peers", i, "hostname")
	if st.end.kind != tokLBrace {
		return nil
	}
	peer := &p.cfg.Peers[i]
	return p.block(st.end, func(st statement) *Error {
		switch st.name.text {
		case "public":
			return p.setOnce(st, &peer.Public, "peers", i, "public_payload_url")
		case "fetch_timeout":
			return number(p, st, &peer.FetchTimeout, fetchTimeoutRule, "peers", i, "fetch_timeout")
		case "stale_timeout":
			return number(p, st, &peer.StaleTimeout, staleTimeoutRule, "peers", i, "stale_timeout")
		case "max_bitrate":
			return number(p, st, &peer.MaxBitrate, bitrateRule, "peers", i, "max_bitrate")
		}
		return p.unknown(st, "peers", i)
	})
}

// clusterIngest reads "cluster_ingest;" or "cluster_ingest capture_at=HOST;".
func (p *parser) clusterIngest(st statement, s *engine.StreamConfig, si int) *Error {
	path := []any{"streams", si, "cluster_ingest"}
	if err := p.simple(st, 0, 1); err != nil {
		return err
	}
	if s.ClusterIngest != nil {
		return p.errAt(st.name, CodeDuplicate, path, "duplicate cluster_ingest")
	}
	s.ClusterIngest = &engine.ClusterIngest{}
	p.mark(st.name, path...)
	if len(st.args) == 0 {
		return nil
	}
	arg := st.args[0]
	key, value, ok := strings.Cut(arg.text, "=")
	if arg.quoted || !ok || key != "capture_at" {
		return p.errAt(arg, CodeUnknownOption, path, "expected capture_at=HOST, got %s", engine.QuoteShort(arg.text))
	}
	valueAt := arg
	valueAt.col += len(key) + 1
	if value == "" {
		return p.errAt(valueAt, CodeBadValue, append(path, "capture_at"), "capture_at must not be empty")
	}
	s.ClusterIngest.CaptureAt = value
	p.mark(valueAt, append(path, "capture_at")...)
	return nil
}

// validateCluster checks hostname, peers and balancing.
func (c *Config) validateCluster() *Error {
	if c.Hostname != "" {
		if err := engine.ValidateHost(c.Hostname); err != nil {
			return invalid(CodeBadValue, []any{"hostname"}, "bad hostname %s: %v", engine.QuoteShort(c.Hostname), err)
		}
	}
	if c.Public != "" {
		if err := engine.ValidateHostPort(c.Public); err != nil {
			return invalid(CodeBadValue, []any{"public_payload_url"}, "bad public address %s: %v", engine.QuoteShort(c.Public), err)
		}
	}
	if c.ClusterKey != "" {
		if err := checkText(c.ClusterKey); err != nil {
			return invalid(CodeBadValue, []any{"cluster_key"}, "bad cluster_key: %v", err)
		}
	}
	if _, err := cluster.ParseMode(c.ClusterBalance); err != nil {
		return invalid(CodeBadValue, []any{"cluster_balance"}, "bad cluster_balance: %v", err)
	}
	if err := bitrateRule.check(c.MaxBitrate); err != nil {
		return invalid(CodeBadValue, []any{"max_bitrate"}, "%v", err)
	}
	seen := make(map[string]bool, len(c.Peers))
	for i, p := range c.Peers {
		if err := engine.ValidateHostPort(p.Host); err != nil {
			return invalid(CodeBadValue, []any{"peers", i, "hostname"}, "bad peer %s: %v", engine.QuoteShort(p.Host), err)
		}
		if seen[p.Host] {
			return invalid(CodeDuplicate, []any{"peers", i, "hostname"}, "duplicate peer %s", engine.QuoteShort(p.Host))
		}
		seen[p.Host] = true
		if p.Public != "" {
			if err := engine.ValidateHostPort(p.Public); err != nil {
				return invalid(CodeBadValue, []any{"peers", i, "public_payload_url"}, "bad public address %s: %v", engine.QuoteShort(p.Public), err)
			}
		}
		for _, r := range []struct {
			name string
			err  error
		}{
			{"fetch_timeout", fetchTimeoutRule.check(p.FetchTimeout)},
			{"stale_timeout", staleTimeoutRule.check(p.StaleTimeout)},
			{"max_bitrate", bitrateRule.check(p.MaxBitrate)},
		} {
			if r.err != nil {
				return invalid(CodeBadValue, []any{"peers", i, r.name}, "%v", r.err)
			}
		}
	}
	return nil
}

// formatCluster writes the cluster's global directives.
func (c *Config) formatCluster(b *bytes.Buffer) {
	if c.Hostname != "" {
		fmt.Fprintf(b, "hostname %s;\n", quote(c.Hostname))
	}
	if c.Public != "" {
		fmt.Fprintf(b, "public %s;\n", quote(c.Public))
	}
	if c.ClusterKey != "" {
		fmt.Fprintf(b, "cluster_key %s;\n", quote(c.ClusterKey))
	}
	if c.ClusterBalance != "" {
		fmt.Fprintf(b, "cluster_balance %s;\n", quote(c.ClusterBalance))
	}
	if c.MaxBitrate != 0 {
		fmt.Fprintf(b, "max_bitrate %s;\n", formatBitrate(c.MaxBitrate))
	}
	for _, p := range c.Peers {
		var opts []string
		if p.Public != "" {
			opts = append(opts, "public "+quote(p.Public))
		}
		if p.FetchTimeout != 0 {
			opts = append(opts, "fetch_timeout "+formatDuration(p.FetchTimeout))
		}
		if p.StaleTimeout != 0 {
			opts = append(opts, "stale_timeout "+formatDuration(p.StaleTimeout))
		}
		if p.MaxBitrate != 0 {
			opts = append(opts, "max_bitrate "+formatBitrate(p.MaxBitrate))
		}
		if len(opts) == 0 {
			fmt.Fprintf(b, "peer %s;\n", quote(p.Host))
			continue
		}
		fmt.Fprintf(b, "peer %s {\n", quote(p.Host))
		for _, o := range opts {
			fmt.Fprintf(b, "  %s;\n", o)
		}
		b.WriteString("}\n")
	}
}

// formatClusterIngest writes a stream's cluster_ingest line.
func formatClusterIngest(b *bytes.Buffer, ci *engine.ClusterIngest) {
	if ci == nil {
		return
	}
	if ci.CaptureAt == "" {
		b.WriteString("  cluster_ingest;\n")
		return
	}
	fmt.Fprintf(b, "  cluster_ingest capture_at=%s;\n", ci.CaptureAt)
}
