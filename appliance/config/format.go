package config

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Format renders the config in canonical file syntax: global directives
// first, then one block per stream. For a valid config, Parse of the result
// yields an equal Config.
func (c *Config) Format() []byte {
	var b bytes.Buffer
	for _, l := range c.HTTP {
		fmt.Fprintf(&b, "http %s;\n", quote(l))
	}
	if c.MaxConnections != 0 {
		fmt.Fprintf(&b, "max_connections %d;\n", c.MaxConnections)
	}
	if c.MaxConnectionsPerIP != nil {
		fmt.Fprintf(&b, "max_connections_per_ip %d;\n", *c.MaxConnectionsPerIP)
	}
	if c.MemoryPool != 0 {
		fmt.Fprintf(&b, "memory_pool %s;\n", formatSize(c.MemoryPool))
	}
	if c.ViewerQueueLimit != 0 {
		fmt.Fprintf(&b, "viewer_queue_limit %s;\n", formatSize(c.ViewerQueueLimit))
	}
	if c.SlowViewer != "" {
		fmt.Fprintf(&b, "slow_viewer %s;\n", quote(c.SlowViewer))
	}
	if c.HTTPHeaderTimeout != 0 {
		fmt.Fprintf(&b, "http_header_timeout %d;\n", c.HTTPHeaderTimeout)
	}
	if c.HTTPIdleTimeout != 0 {
		fmt.Fprintf(&b, "http_idle_timeout %d;\n", c.HTTPIdleTimeout)
	}
	c.formatCluster(&b)
	if a := c.EditAuth; a != nil {
		fmt.Fprintf(&b, "edit_auth %s %s;\n", quote(a.User), quote(a.Password))
	}
	if a := c.ViewAuth; a != nil {
		fmt.Fprintf(&b, "view_auth %s %s;\n", quote(a.User), quote(a.Password))
	}
	if c.ConfigExternal != "" {
		fmt.Fprintf(&b, "config_external %s;\n", quote(c.ConfigExternal))
	}
	for _, s := range c.Streams {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "stream %s {\n", quote(s.Name))
		for _, in := range s.Inputs {
			fmt.Fprintf(&b, "  input %s", quote(in.URL))
			if in.SourceTimeout != 0 {
				fmt.Fprintf(&b, " source_timeout=%d", in.SourceTimeout)
			}
			b.WriteString(";\n")
		}
		if s.Static {
			b.WriteString("  static;\n")
		}
		if s.SegmentDuration != 0 {
			// Seconds in the file, milliseconds in the model; the shortest
			// float form of ms/1000 is exact for millisecond values.
			fmt.Fprintf(&b, "  segment_duration %s;\n", strconv.FormatFloat(float64(s.SegmentDuration)/1000, 'f', -1, 64))
		}
		if s.SegmentCount != 0 {
			fmt.Fprintf(&b, "  segment_count %d;\n", s.SegmentCount)
		}
		formatClusterIngest(&b, s.ClusterIngest)
		b.WriteString("}\n")
	}
	return b.Bytes()
}

// quote returns s as one word: as is when the lexer reads it back unchanged,
// otherwise in double quotes with \" \\ and \n escaped.
func quote(s string) string {
	if s != "" && !strings.ContainsFunc(s, needsQuote) {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func needsQuote(r rune) bool {
	return r < 0x80 && (isDelimiter(byte(r)) || isControl(byte(r))) || strings.ContainsRune("\"#\\", r)
}
