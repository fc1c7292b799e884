// Package source owns the inputs that carry MPEG-TS: UDP unicast and
// multicast, HTTP(S) pull and looping files. Each is an engine.Source that
// reads the bytes and hands them to the MPEG-TS demuxer, which feeds the
// stream's sink.
package source

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/livedge/livedge/engine"
)

// Open makes the source of an input URL: udp://[IFACE@]ADDR:PORT,
// http(s)://... or file:///path. It checks the URL and fails on one it
// cannot handle; nothing is opened before Run.
func Open(in engine.InputConfig) (engine.Source, error) {
	u, err := url.Parse(in.URL)
	if err != nil {
		return nil, fmt.Errorf("input URL: %w", err)
	}
	log := slog.Default().With("input", u.Redacted())
	var src engine.Source
	switch strings.ToLower(u.Scheme) {
	case "udp":
		src, err = asSource(newUDP(u, in, log))
	case "http", "https":
		src, err = asSource(newHTTP(u, in, log))
	case "file":
		src, err = asSource(newFile(u, log))
	default:
		err = fmt.Errorf("input %s: unsupported scheme %q", u.Redacted(), u.Scheme)
	}
	return src, err
}

// asSource keeps a nil *T from becoming a non-nil engine.Source.
func asSource[T engine.Source](s T, err error) (engine.Source, error) {
	if err != nil {
		return nil, err
	}
	return s, nil
}

// idleGuard is how long a source waits for input bytes before it gives up
// on its own. The engine's source timeout (no frames) normally acts first;
// the guard ends a source that would otherwise block for ever.
func idleGuard(in engine.InputConfig) time.Duration {
	return 2 * in.Timeout()
}
