package config

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Bounds of values.
const (
	maxStreamNameLen = 128
	maxValueLen      = 4096
)

// intRule is the range of a numeric setting. In the file a value is required
// to be in range; in the model 0 also stands for "default".
type intRule struct {
	name   string
	lo, hi int
	// fromFile parses the file form into the model's unit.
	fromFile func(string) (int, bool)
	text     string
}

var (
	segmentDurationRule = intRule{"segment_duration", 1000, 60000, parseMilliseconds,
		"1 to 60 seconds (e.g. 2 or 2.5; 1000 to 60000 ms in the API)"}
	segmentCountRule  = intRule{"segment_count", 1, 100, parseDecimal, "an integer from 1 to 100"}
	sourceTimeoutRule = intRule{"source_timeout", 1, 3600, parseDecimal, "an integer from 1 to 3600 (seconds)"}

	maxConnectionsRule      = intRule{"max_connections", 1, 10_000_000, parseDecimal, "an integer from 1 to 10000000"}
	maxConnectionsPerIPRule = intRule{"max_connections_per_ip", 0, 1_000_000, parseDecimal,
		"an integer from 0 (no limit) to 1000000"}
	httpHeaderTimeoutRule = intRule{"http_header_timeout", 1, 600, parseDecimal, "an integer from 1 to 600 (seconds)"}
	httpIdleTimeoutRule   = intRule{"http_idle_timeout", 1, 3600, parseDecimal, "an integer from 1 to 3600 (seconds)"}
	memoryPoolRule        = sizeRule{"memory_pool", 1 << 20, 1 << 40, "a size from 1M to 1T (bytes, or a number with a K, M, G or T suffix: 512M, 1G)"}
)

// sizeRule is the range of a size in bytes; in the model 0 stands for
// "default".
type sizeRule struct {
	name   string
	lo, hi int64
	text   string
}

func (r sizeRule) parse(s string) (int64, error) {
	n, ok := parseSize(s)
	if !ok || n < r.lo || n > r.hi {
		return 0, fmt.Errorf("%s must be %s, got %s", r.name, r.text, quoteShort(s))
	}
	return n, nil
}

func (r sizeRule) check(n int64) error {
	if n != 0 && (n < r.lo || n > r.hi) {
		return fmt.Errorf("%s must be %s, got %d", r.name, r.text, n)
	}
	return nil
}

func (r intRule) parse(s string) (int, error) {
	n, ok := r.fromFile(s)
	if !ok || n < r.lo || n > r.hi {
		return 0, fmt.Errorf("%s must be %s, got %s", r.name, r.text, quoteShort(s))
	}
	return n, nil
}

func (r intRule) check(n int) error {
	if n != 0 && (n < r.lo || n > r.hi) {
		return fmt.Errorf("%s must be %s, got %d", r.name, r.text, n)
	}
	return nil
}

// checkOptional checks a setting whose nil is "default" and 0 a value.
func (r intRule) checkOptional(n *int) error {
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
			return invalid(CodeBadValue, []any{"http", i}, "bad http listen spec %s: %v", quoteShort(l), err)
		}
		if seen[l] {
			return invalid(CodeDuplicate, []any{"http", i}, "duplicate http listen spec %s", quoteShort(l))
		}
		seen[l] = true
	}
	if err := c.validateLimits(); err != nil {
		return err
	}
	if c.ClusterKey != "" {
		if err := checkText(c.ClusterKey); err != nil {
			return invalid(CodeBadValue, []any{"cluster_key"}, "bad cluster_key: %v", err)
		}
	}
	clear(seen)
	for i, p := range c.Peers {
		if err := checkHostPort(p.Host); err != nil {
			return invalid(CodeBadValue, []any{"peers", i, "hostname"}, "bad peer %s: %v", quoteShort(p.Host), err)
		}
		if seen[p.Host] {
			return invalid(CodeDuplicate, []any{"peers", i, "hostname"}, "duplicate peer %s", quoteShort(p.Host))
		}
		seen[p.Host] = true
		if p.Public != "" {
			if err := checkHostPort(p.Public); err != nil {
				return invalid(CodeBadValue, []any{"peers", i, "public_payload_url"}, "bad public address %s: %v", quoteShort(p.Public), err)
			}
		}
	}
	if err := checkAuth(c.EditAuth, "edit_auth"); err != nil {
		return err
	}
	if err := checkAuth(c.ViewAuth, "view_auth"); err != nil {
		return err
	}
	if c.ConfigExternal != "" {
		if err := checkBackendURL(c.ConfigExternal); err != nil {
			return invalid(CodeBadURL, []any{"config_external"}, "bad config_external %s: %v", quoteShort(c.ConfigExternal), err)
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
		{"http_header_timeout", httpHeaderTimeoutRule.check(c.HTTPHeaderTimeout)},
		{"http_idle_timeout", httpIdleTimeoutRule.check(c.HTTPIdleTimeout)},
	} {
		if r.err != nil {
			return invalid(CodeBadValue, []any{r.name}, "%v", r.err)
		}
	}
	return nil
}

func (c *Config) validateStream(i int, seen map[string]bool) *Error {
	s := &c.Streams[i]
	if err := checkStreamName(s.Name); err != nil {
		return invalid(CodeBadValue, []any{"streams", i, "name"}, "bad stream name %s: %v", quoteShort(s.Name), err)
	}
	if seen[s.Name] {
		return invalid(CodeDuplicate, []any{"streams", i, "name"}, "duplicate stream %s", quoteShort(s.Name))
	}
	seen[s.Name] = true
	if len(s.Inputs) == 0 {
		return invalid(CodeMissing, []any{"streams", i, "inputs"}, "stream %s has no input", quoteShort(s.Name))
	}
	for j, in := range s.Inputs {
		if err := checkInputURL(in.URL); err != nil {
			return invalid(CodeBadURL, []any{"streams", i, "inputs", j, "url"}, "bad input URL %s: %v", quoteShort(in.URL), err)
		}
		if err := sourceTimeoutRule.check(in.SourceTimeout); err != nil {
			return invalid(CodeBadValue, []any{"streams", i, "inputs", j, "source_timeout"}, "%v", err)
		}
	}
	if err := segmentDurationRule.check(s.SegmentDuration); err != nil {
		return invalid(CodeBadValue, []any{"streams", i, "segment_duration"}, "%v", err)
	}
	if err := segmentCountRule.check(s.SegmentCount); err != nil {
		return invalid(CodeBadValue, []any{"streams", i, "segment_count"}, "%v", err)
	}
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
		return invalid(CodeBadValue, []any{name, "login"}, "bad %s login %s: %v", name, quoteShort(a.User), err)
	}
	if strings.Contains(a.User, ":") {
		return invalid(CodeBadValue, []any{name, "login"}, "bad %s login %s: ':' is not allowed", name, quoteShort(a.User))
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

// checkStreamName accepts 1..128 characters of [A-Za-z0-9_.-] in
// '/'-separated components, none of them empty, "." or "..".
func checkStreamName(name string) error {
	if name == "" || len(name) > maxStreamNameLen {
		return fmt.Errorf("must be 1 to %d characters", maxStreamNameLen)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isNameChar(c) && c != '/' {
			return fmt.Errorf("character %q not allowed (use A-Z a-z 0-9 _ . - and /)", c)
		}
	}
	for _, part := range strings.Split(name, "/") {
		switch part {
		case "":
			return errors.New("empty path component (leading, trailing or double '/')")
		case ".", "..":
			return fmt.Errorf("path component %q not allowed", part)
		}
	}
	return nil
}

func isNameChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-'
}

// checkListen accepts "[ADDR:]PORT".
func checkListen(s string) error {
	if !strings.Contains(s, ":") {
		return checkPort(s)
	}
	host, port, hasPort, err := splitHostPort(s)
	if err != nil {
		return err
	}
	if !hasPort {
		return errors.New("missing port")
	}
	if err := checkHost(host); err != nil {
		return err
	}
	return checkPort(port)
}

// checkHostPort accepts "HOST[:PORT]".
func checkHostPort(s string) error {
	host, port, hasPort, err := splitHostPort(s)
	if err != nil {
		return err
	}
	if err := checkHost(host); err != nil {
		return err
	}
	if hasPort {
		return checkPort(port)
	}
	return nil
}

// splitHostPort splits "HOST", "HOST:PORT", "[IPv6]" or "[IPv6]:PORT".
func splitHostPort(s string) (host, port string, hasPort bool, err error) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", false, errors.New("missing ']'")
		}
		host, rest := s[:end+1], s[end+1:]
		if rest == "" {
			return host, "", false, nil
		}
		if rest[0] != ':' {
			return "", "", false, errors.New("expected ':' after ']'")
		}
		return host, rest[1:], true, nil
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		return s[:i], s[i+1:], true, nil
	}
	return s, "", false, nil
}

func checkPort(s string) error {
	if n, ok := parseDecimal(s); !ok || n < 1 || n > 65535 {
		return fmt.Errorf("port %s is not a number from 1 to 65535", quoteShort(s))
	}
	return nil
}

// checkHost accepts an IPv4 address, an IPv6 address in brackets or a host name.
func checkHost(h string) error {
	if h == "" {
		return errors.New("empty host")
	}
	if strings.HasPrefix(h, "[") {
		a, err := netip.ParseAddr(strings.TrimSuffix(h[1:], "]"))
		if err != nil || !a.Is6() || !strings.HasSuffix(h, "]") {
			return fmt.Errorf("bad IPv6 address %s", quoteShort(h))
		}
		return nil
	}
	if a, err := netip.ParseAddr(h); err == nil {
		if a.Is4() {
			return nil
		}
		return errors.New("an IPv6 address must be in brackets")
	}
	return checkHostname(h)
}

func checkHostname(h string) error {
	if len(h) > 253 {
		return errors.New("host name longer than 253 bytes")
	}
	numeric := true
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("bad host name %s", quoteShort(h))
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !isNameChar(c) || c == '.' {
				return fmt.Errorf("bad host name %s", quoteShort(h))
			}
			if c < '0' || c > '9' {
				numeric = false
			}
		}
	}
	if numeric {
		return fmt.Errorf("bad IPv4 address %s", quoteShort(h))
	}
	return nil
}

// checkInputURL accepts the input URLs sources understand, plus schemes
// reserved for sources to come.
func checkInputURL(s string) error {
	u, err := parseURL(s)
	if err != nil {
		return err
	}
	switch u.Scheme {
	case "udp":
		return checkUDPURL(u)
	case "http", "https", "rtmp", "rtsp":
		if u.Host == "" {
			return errors.New("missing host")
		}
		return checkHostPort(u.Host)
	case "file":
		if u.Host != "" || u.Opaque != "" || u.User != nil || len(u.Path) < 2 || u.Path[0] != '/' {
			return errors.New("want file:///absolute/path")
		}
	case "testsrc":
		if _, err := url.ParseQuery(u.RawQuery); err != nil {
			return fmt.Errorf("bad parameters: %v", err)
		}
	case "publish":
	default:
		return fmt.Errorf("unsupported scheme %s (want udp, http, https, file, testsrc, rtmp, rtsp or publish)", quoteShort(u.Scheme))
	}
	return nil
}

// checkUDPURL accepts udp://[IFACE@]ADDR:PORT, IFACE being the IPv4 address
// of the interface that joins a multicast group.
func checkUDPURL(u *url.URL) error {
	const want = "want udp://[IFACE@]ADDR:PORT"
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			return errors.New(want)
		}
		if a, err := netip.ParseAddr(u.User.Username()); err != nil || !a.Is4() {
			return fmt.Errorf("%s: interface %s is not an IPv4 address", want, quoteShort(u.User.Username()))
		}
	}
	if u.Opaque != "" || (u.Path != "" && u.Path != "/") {
		return errors.New(want)
	}
	host, port, hasPort, err := splitHostPort(u.Host)
	if err != nil || !hasPort {
		return errors.New(want)
	}
	ip := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if _, err := netip.ParseAddr(ip); err != nil || ip == host && strings.Contains(ip, ":") {
		return fmt.Errorf("%s: address %s is not an IP address", want, quoteShort(host))
	}
	return checkPort(port)
}

// checkBackendURL accepts the http or https URL of a config backend.
func checkBackendURL(s string) error {
	u, err := parseURL(s)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("want an http:// or https:// URL")
	}
	if u.Host == "" {
		return errors.New("missing host")
	}
	return checkHostPort(u.Host)
}

func parseURL(s string) (*url.URL, error) {
	if len(s) > maxValueLen {
		return nil, fmt.Errorf("longer than %d bytes", maxValueLen)
	}
	if !utf8.ValidString(s) {
		return nil, errors.New("not valid UTF-8")
	}
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is quoted by the caller already
		}
		return nil, err
	}
	if u.Scheme == "" {
		return nil, errors.New("missing scheme")
	}
	return u, nil
}
