package testsrc

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
)

// Bounds and defaults of the URL parameters.
const (
	defaultWidth   = 640
	defaultHeight  = 360
	defaultFPS     = 25
	defaultGOP     = 2.0
	defaultBitrate = 1_000_000

	minSide    = 64
	maxSide    = 1920
	maxArea    = 1920 * 1080
	minFPS     = 1
	maxFPS     = 60
	minGOP     = 0.5
	maxGOP     = 10.0
	minBitrate = 50_000
	maxBitrate = 50_000_000
)

// params are the parsed parameters of a testsrc:// URL.
type params struct {
	width, height int     // picture size, even, at most maxArea pixels
	fps           int     // frames per second
	gop           float64 // requested seconds between keyframes
	bitrate       int64   // requested video bitrate, bits/s
	audio         bool    // whether an AAC track is produced
}

// gopFrames is the keyframe interval in frames (the requested duration
// rounded to whole frames).
func (p params) gopFrames() int {
	return max(1, int(math.Round(p.gop*float64(p.fps))))
}

// parseURL parses testsrc://?bitrate=1000k&gop=2&size=640x360&fps=25&audio=1.
func parseURL(raw string) (params, error) {
	p := params{
		width: defaultWidth, height: defaultHeight, fps: defaultFPS,
		gop: defaultGOP, bitrate: defaultBitrate, audio: true,
	}
	u, err := url.Parse(raw)
	if err != nil {
		return p, err
	}
	if u.Scheme != "testsrc" {
		return p, fmt.Errorf("scheme %q is not testsrc", u.Scheme)
	}
	if u.Opaque != "" || u.User != nil || u.Host != "" || (u.Path != "" && u.Path != "/") || u.Fragment != "" {
		return p, errors.New("want testsrc://?param=value&... (no host, path or fragment)")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return p, fmt.Errorf("bad query: %w", err)
	}
	for name, vals := range q {
		if len(vals) != 1 {
			return p, fmt.Errorf("parameter %s given %d times", name, len(vals))
		}
		v := vals[0]
		switch name {
		case "bitrate":
			p.bitrate, err = parseBitrate(v)
		case "gop":
			p.gop, err = parseGOP(v)
		case "size":
			p.width, p.height, err = parseSize(v)
		case "fps":
			p.fps, err = parseInt(v, minFPS, maxFPS)
		case "audio":
			p.audio, err = parseBool(v)
		default:
			return p, fmt.Errorf("unknown parameter %q (want bitrate, gop, size, fps or audio)", name)
		}
		if err != nil {
			return p, fmt.Errorf("parameter %s=%q: %w", name, v, err)
		}
	}
	return p, nil
}

// parseBitrate accepts bits/s with an optional k (1e3) or M (1e6) suffix,
// e.g. 800k, 1.5M or 2000000.
func parseBitrate(s string) (int64, error) {
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult, s = 1e3, s[:len(s)-1]
	case strings.HasSuffix(s, "M"):
		mult, s = 1e6, s[:len(s)-1]
	}
	f, err := parseDecimal(s)
	if err != nil {
		return 0, err
	}
	b := math.Round(f * mult)
	if b < minBitrate || b > maxBitrate {
		return 0, fmt.Errorf("out of range %dk..%dM", minBitrate/1000, maxBitrate/1_000_000)
	}
	return int64(b), nil
}

// parseGOP accepts seconds between keyframes.
func parseGOP(s string) (float64, error) {
	f, err := parseDecimal(s)
	if err != nil {
		return 0, err
	}
	if f < minGOP || f > maxGOP {
		return 0, fmt.Errorf("out of range %g..%g seconds", minGOP, maxGOP)
	}
	return f, nil
}

// parseSize accepts WIDTHxHEIGHT, both even (4:2:0 cropping works in pairs
// of lines), each minSide..maxSide, at most maxArea pixels.
func parseSize(s string) (w, h int, err error) {
	ws, hs, ok := strings.Cut(s, "x")
	if !ok {
		return 0, 0, errors.New("want WIDTHxHEIGHT")
	}
	if w, err = parseInt(ws, minSide, maxSide); err != nil {
		return 0, 0, fmt.Errorf("width: %w", err)
	}
	if h, err = parseInt(hs, minSide, maxSide); err != nil {
		return 0, 0, fmt.Errorf("height: %w", err)
	}
	if w%2 != 0 || h%2 != 0 {
		return 0, 0, errors.New("width and height must be even")
	}
	if w*h > maxArea {
		return 0, 0, errors.New("larger than 1920x1080")
	}
	return w, h, nil
}

// parseInt accepts decimal digits only, within lo..hi.
func parseInt(s string, lo, hi int) (int, error) {
	if s == "" || len(s) > 9 || strings.Trim(s, "0123456789") != "" {
		return 0, errors.New("not a whole number")
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, err
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("out of range %d..%d", lo, hi)
	}
	return n, nil
}

// parseDecimal accepts digits with at most one decimal point (no sign,
// exponent, hex, Inf or NaN, which strconv.ParseFloat would take).
func parseDecimal(s string) (float64, error) {
	if s == "" || len(s) > 20 || strings.Trim(s, "0123456789.") != "" ||
		strings.Count(s, ".") > 1 || s == "." {
		return 0, errors.New("not a decimal number")
	}
	return strconv.ParseFloat(s, 64)
}

func parseBool(s string) (bool, error) {
	switch s {
	case "1", "true":
		return true, nil
	case "0", "false":
		return false, nil
	}
	return false, errors.New("want 0 or 1")
}
