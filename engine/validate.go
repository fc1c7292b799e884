package engine

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The rules of a stream config, shared by every producer of one (config
// file, API, config backend), so a config valid in one is valid in all.

// Bounds of config values.
const (
	MaxStreamNameLen = 128
	MaxURLLen        = 4096
)

// ValidateStreamName accepts 1..128 characters of [A-Za-z0-9_.-] in
// '/'-separated components, none of them empty, "." or "..".
func ValidateStreamName(name string) error {
	if name == "" || len(name) > MaxStreamNameLen {
		return fmt.Errorf("must be 1 to %d characters", MaxStreamNameLen)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !IsNameChar(c) && c != '/' {
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

// IsNameChar tells whether c may be part of a stream name component.
func IsNameChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-'
}

// ValidateHostPort accepts "HOST[:PORT]".
func ValidateHostPort(s string) error {
	host, port, hasPort, err := SplitHostPort(s)
	if err != nil {
		return err
	}
	if err := ValidateHost(host); err != nil {
		return err
	}
	if hasPort {
		return ValidatePort(port)
	}
	return nil
}

// SplitHostPort splits "HOST", "HOST:PORT", "[IPv6]" or "[IPv6]:PORT".
func SplitHostPort(s string) (host, port string, hasPort bool, err error) {
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

func ValidatePort(s string) error {
	if n, ok := parsePort(s); !ok || n < 1 || n > 65535 {
		return fmt.Errorf("port %s is not a number from 1 to 65535", QuoteShort(s))
	}
	return nil
}

// ValidateHost accepts an IPv4 address, an IPv6 address in brackets or a host name.
func ValidateHost(h string) error {
	if h == "" {
		return errors.New("empty host")
	}
	if strings.HasPrefix(h, "[") {
		a, err := netip.ParseAddr(strings.TrimSuffix(h[1:], "]"))
		if err != nil || !a.Is6() || !strings.HasSuffix(h, "]") {
			return fmt.Errorf("bad IPv6 address %s", QuoteShort(h))
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
			return fmt.Errorf("bad host name %s", QuoteShort(h))
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !IsNameChar(c) || c == '.' {
				return fmt.Errorf("bad host name %s", QuoteShort(h))
			}
			if c < '0' || c > '9' {
				numeric = false
			}
		}
	}
	if numeric {
		return fmt.Errorf("bad IPv4 address %s", QuoteShort(h))
	}
	return nil
}

// ValidateInputURL accepts the input URLs sources understand, plus schemes
// reserved for sources to come.
func ValidateInputURL(s string) error {
	u, err := ParseURL(s)
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
		return ValidateHostPort(u.Host)
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
		return fmt.Errorf("unsupported scheme %s (want udp, http, https, file, testsrc, rtmp, rtsp or publish)", QuoteShort(u.Scheme))
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
			return fmt.Errorf("%s: interface %s is not an IPv4 address", want, QuoteShort(u.User.Username()))
		}
	}
	if u.Opaque != "" || (u.Path != "" && u.Path != "/") {
		return errors.New(want)
	}
	host, port, hasPort, err := SplitHostPort(u.Host)
	if err != nil || !hasPort {
		return errors.New(want)
	}
	ip := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if _, err := netip.ParseAddr(ip); err != nil || ip == host && strings.Contains(ip, ":") {
		return fmt.Errorf("%s: address %s is not an IP address", want, QuoteShort(host))
	}
	return ValidatePort(port)
}

func ParseURL(s string) (*url.URL, error) {
	if len(s) > MaxURLLen {
		return nil, fmt.Errorf("longer than %d bytes", MaxURLLen)
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

func parsePort(s string) (int, bool) {
	if s == "" || len(s) > 5 {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && s[0] != '+' && s[0] != '-'
}

// QuoteShort quotes a value for an error message, cut to a readable
// length: input from the network or a file may be anything.
func QuoteShort(s string) string {
	const max = 48
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}

// RedactURL drops the credentials of a URL for logs, errors and API answers.
// A URL that does not parse is not quoted at all when it may hold them in a
// form url.Parse rejects.
func RedactURL(raw string) string {
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
