package config

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/livedge/livedge/engine"
	"github.com/livedge/livedge/proto/httpts"
)

// Bounds of values.
const (
	maxStreamNameLen = 128
	maxValueLen      = 4096
)

// rule is the range of a numeric setting. In the file a value is required
// to be in range; in the model 0 also stands for "default".
type rule[T int | int64] struct {
	name   string
	lo, hi T
	// fromFile parses the file form into the model's unit.
	fromFile func(string) (T, bool)
	text     string
}

// intRule is a count or a duration; sizeRule a size in bytes or a bitrate.
type (
	intRule  = rule[int]
	sizeRule = rule[int64]
)

var (
	segmentDurationRule = intRule{"segment_duration", engine.MinSegmentDurationMs, engine.MaxSegmentDurationMs, parseMilliseconds,
		"1 to 60 seconds (e.g. 2 or 2.5; 1000 to 60000 ms in the API)"}
	segmentCountRule  = intRule{"segment_count", engine.MinSegmentCount, engine.MaxSegmentCount, parseDecimal, "an integer from 1 to 100"}
	sourceTimeoutRule = intRule{"source_timeout", engine.MinSourceTimeoutSec, engine.MaxSourceTimeoutSec, parseDecimal, "an integer from 1 to 3600 (seconds)"}

	maxConnectionsRule      = intRule{"max_connections", 1, 10_000_000, parseDecimal, "an integer from 1 to 10000000"}
	maxConnectionsPerIPRule = intRule{"max_connections_per_ip", 0, 1_000_000, parseDecimal,
		"an integer from 0 (no limit) to 1000000"}
	httpHeaderTimeoutRule = intRule{"http_header_timeout", 1, 600, parseDecimal, "an integer from 1 to 600 (seconds)"}
	httpIdleTimeoutRule   = intRule{"http_idle_timeout", 1, 3600, parseDecimal, "an integer from 1 to 3600 (seconds)"}
	viewerQueueLimitRule  = sizeRule{"viewer_queue_limit", 128 << 10, 1 << 30, parseSize, "a size from 128K to 1G"}
	memoryPoolRule        = sizeRule{"memory_pool", 1 << 20, 1 << 40, parseSize, "a size from 1M to 1T (bytes, or a number with a K, M, G or T suffix: 512M, 1G)"}
)

func (r rule[T]) parse(s string) (T, error) {
	n, ok := r.fromFile(s)
	if !ok || n < r.lo || n > r.hi {
		return 0, fmt.Errorf("%s must be %s, got %s", r.name, r.text, engine.QuoteShort(s))
	}
	return n, nil
}

func (r rule[T]) check(n T) error {
	if n != 0 && (n < r.lo || n > r.hi) {
		return fmt.Errorf("%s must be %s, got %d", r.name, r.text, n)
	}
	return nil
}

// checkOptional checks a setting whose nil is "default" and 0 a value.
func (r rule[T]) checkOptional(n *T) error {
	if n != nil && (*n < r.lo || *n > r.hi) {
		return fmt.Errorf("%s must be %s, got %d", r.name, r.text, *n)
	}
	return nil
}

// Validate checks a model, e.g. one decoded from JSON. Errors are *Error with
// Path set and no position.
func (c *Config) Validate() error {
	if err := c.validate(); err != nil {
		return err
	}
	return nil
}

// validate holds every value rule; Parse runs it too and adds positions.
func (c *Config) validate() *Error {
	seen := make(map[string]bool)
	for i, l := range c.HTTP {
		if err := checkListen(l); err != nil {
			return invalid(CodeBadValue, []any{"http", i}, "bad http listen spec %s: %v", engine.QuoteShort(l), err)
		}
		if seen[l] {
			return invalid(CodeDuplicate, []any{"http", i}, "duplicate http listen spec %s", engine.QuoteShort(l))
		}
		seen[l] = true
	}
	if err := c.validateLimits(); err != nil {
		return err
	}
	if err := c.validateCluster(); err != nil {
		return err
	}
	if err := checkAuth(c.EditAuth, "edit_auth"); err != nil {
		return err
	}
	if err := checkAuth(c.ViewAuth, "view_auth"); err != nil {
		return err
	}
	if c.ConfigExternal != "" {
		if err := checkBackendURL(c.ConfigExternal); err != nil {
			return invalid(CodeBadURL, []any{"config_external"}, "bad config_external %s: %v", engine.QuoteShort(engine.RedactURL(c.ConfigExternal)), err)
		}
	}
	clear(seen)
	for i := range c.Streams {
		if err := c.validateStream(i, seen); err != nil {
			return err
		}
	}
	return nil
}

// validateLimits checks the HTTP server's limits and the memory pool.
func (c *Config) validateLimits() *Error {
	for _, r := range []struct {
		name string
		err  error
	}{
		{"max_connections", maxConnectionsRule.check(c.MaxConnections)},
		{"max_connections_per_ip", maxConnectionsPerIPRule.checkOptional(c.MaxConnectionsPerIP)},
		{"memory_pool", memoryPoolRule.check(c.MemoryPool)},
		{"viewer_queue_limit", viewerQueueLimitRule.check(c.ViewerQueueLimit)},
		{"slow_viewer", checkSlowViewer(c.SlowViewer)},
		{"http_header_timeout", httpHeaderTimeoutRule.check(c.HTTPHeaderTimeout)},
		{"http_idle_timeout", httpIdleTimeoutRule.check(c.HTTPIdleTimeout)},
	} {
		if r.err != nil {
			return invalid(CodeBadValue, []any{r.name}, "%v", r.err)
		}
	}
	return nil
}

func checkSlowViewer(s string) error {
	if s == "" {
		return nil
	}
	_, err := httpts.ParsePolicy(s)
	return err
}

func (c *Config) validateStream(i int, seen map[string]bool) *Error {
	s := &c.Streams[i]
	if err := engine.ValidateStreamConfig(s); err != nil {
		var se *engine.StreamError
		if !errors.As(err, &se) {
			return invalid(CodeBadValue, []any{"streams", i}, "%v", err)
		}
		return invalid(se.Code, append([]any{"streams", i}, se.Field...), "%s", se.Msg)
	}
	if seen[s.Name] {
		return invalid(CodeDuplicate, []any{"streams", i, "name"}, "duplicate stream %s", engine.QuoteShort(s.Name))
	}
	seen[s.Name] = true
	return nil
}

func invalid(code string, path []any, format string, args ...any) *Error {
	return &Error{Code: code, Path: path, Msg: fmt.Sprintf(format, args...)}
}

func checkAuth(a *Auth, name string) *Error {
	if a == nil {
		return nil
	}
	if err := checkText(a.User); err != nil {
		return invalid(CodeBadValue, []any{name, "login"}, "bad %s login %s: %v", name, engine.QuoteShort(a.User), err)
	}
	if strings.Contains(a.User, ":") {
		return invalid(CodeBadValue, []any{name, "login"}, "bad %s login %s: ':' is not allowed", name, engine.QuoteShort(a.User))
	}
	if err := checkText(a.Password); err != nil {
		// Secrets stay out of messages.
		return invalid(CodeBadValue, []any{name, "password"}, "bad %s password: %v", name, err)
	}
	return nil
}

// checkText accepts a non-empty printable value such as a key or password;
// these end up in HTTP headers, where control characters do not belong, and
// in JSON, which needs UTF-8.
func checkText(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	if len(s) > maxValueLen {
		return fmt.Errorf("longer than %d bytes", maxValueLen)
	}
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	for i := 0; i < len(s); i++ {
		if isControl(s[i]) {
			return fmt.Errorf("control character %q", s[i])
		}
	}
	return nil
}

// checkListen accepts "[ADDR:]PORT".
func checkListen(s string) error {
	if !strings.Contains(s, ":") {
		return engine.ValidatePort(s)
	}
	host, port, hasPort, err := engine.SplitHostPort(s)
	if err != nil {
		return err
	}
	if !hasPort {
		return errors.New("missing port")
	}
	if err := engine.ValidateHost(host); err != nil {
		return err
	}
	return engine.ValidatePort(port)
}

// checkBackendURL accepts the http or https URL of a config backend.
func checkBackendURL(s string) error {
	u, err := engine.ParseURL(s)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("want an http:// or https:// URL")
	}
	if u.Host == "" {
		return errors.New("missing host")
	}
	return engine.ValidateHostPort(u.Host)
}
