package configext

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/livedge/livedge/engine"
)

// The rules below mirror appliance/config's validation, which this package
// must not import: a backend's stream has to be one the config file could
// have defined.

// Bounds of values.
const (
	maxStreamNameLen = 128
	maxValueLen      = 4096
	// maxInputs bounds the inputs of one stream; more than a handful of
	// failover inputs is a broken backend, not a configuration.
	maxInputs = 64
)

// Numeric ranges; 0 stands for "default" as in engine.StreamConfig.
var (
	segmentDurationRule = intRule{"segment_duration", 1000, 60000, "1000 to 60000 (ms)"}
	segmentCountRule    = intRule{"segment_count", 1, 100, "1 to 100"}
	sourceTimeoutRule   = intRule{"source_timeout", 1, 3600, "1 to 3600 (seconds)"}
)

type intRule struct {
	name   string
	lo, hi int
	text   string
}

func (r intRule) check(n int) error {
	if n != 0 && (n < r.lo || n > r.hi) {
		return fmt.Errorf("%s must be %s, got %d", r.name, r.text, n)
	}
	return nil
}

// validateStream checks a stream config the way appliance/config does.
func validateStream(c *engine.StreamConfig) error {
	if err := checkStreamName(c.Name); err != nil {
		return fmt.Errorf("bad name %s: %w", quoteShort(c.Name), err)
	}
	if len(c.Inputs) == 0 {
		return errors.New("no input")
	}
	if len(c.Inputs) > maxInputs {
		return fmt.Errorf("%d inputs, at most %d allowed", len(c.Inputs), maxInputs)
	}
	for j, in := range c.Inputs {
		if err := checkInputURL(in.URL); err != nil {
			return fmt.Errorf("inputs[%d]: bad url %s: %w", j, quoteShort(redactURL(in.URL)), err)
		}
		if err := sourceTimeoutRule.check(in.SourceTimeout); err != nil {
			return fmt.Errorf("inputs[%d]: %w", j, err)
		}
	}
	if err := segmentDurationRule.check(c.SegmentDuration); err != nil {
		return err
	}
	return segmentCountRule.check(c.SegmentCount)
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
	for part := range strings.SplitSeq(name, "/") {
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

// checkUDPURL accepts udp://[IFACE@]ADDR:PORT.
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
func checkBackendURL(s string) (*url.URL, error) {
	u, err := parseURL(s)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, errors.New("want an http:// or https:// URL")
	}
	if u.Host == "" {
		return nil, errors.New("missing host")
	}
	if u.Opaque != "" {
		return nil, errors.New("want scheme://host/path")
	}
	if err := checkHostPort(u.Host); err != nil {
		return nil, err
	}
	return u, nil
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
	n, err := strconv.Atoi(s)
	if err != nil || len(s) > 5 || s[0] < '0' || s[0] > '9' || n < 1 || n > 65535 {
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
	for label := range strings.SplitSeq(h, ".") {
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
			err = ue.Err // the caller quotes the URL, without its credentials
		}
		return nil, err
	}
	if u.Scheme == "" {
		return nil, errors.New("missing scheme")
	}
	return u, nil
}

// quoteShort quotes a value for a message, cut to a readable length.
func quoteShort(s string) string {
	const max = 48
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}

// redactURL drops the credentials of a URL for messages; a URL that does not
// parse is not quoted at all, since it may hold them in a form url.Parse
// rejects.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if strings.Contains(raw, "@") {
			return "(unparsable URL)"
		}
		return raw
	}
	if u.User == nil {
		return raw
	}
	u.User = nil
	return u.String()
}
