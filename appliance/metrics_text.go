package appliance

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// promText appends the Prometheus text exposition format (version 0.0.4)
// to a byte slice: a family's HELP and TYPE lines, then its samples,
// "name{label="value",...} value". Names are the caller's constants; label
// values and help texts are escaped here.
type promText struct {
	b []byte
}

// Metric types of the text format.
const (
	promCounter = "counter"
	promGauge   = "gauge"
)

// family starts a metric family: every sample of it must follow at once.
func (p *promText) family(name, typ, help string) {
	p.b = append(p.b, "# HELP "...)
	p.b = append(p.b, name...)
	p.b = append(p.b, ' ')
	p.b = appendEscapedHelp(p.b, help)
	p.b = append(p.b, "\n# TYPE "...)
	p.b = append(p.b, name...)
	p.b = append(p.b, ' ')
	p.b = append(p.b, typ...)
	p.b = append(p.b, '\n')
}

// sample appends one sample. labels is "" or pre-rendered label pairs
// without braces (`stream="a",protocol="hls"`), escaped already.
func (p *promText) sample(name, labels string, v float64) {
	p.b = append(p.b, name...)
	if labels != "" {
		p.b = append(p.b, '{')
		p.b = append(p.b, labels...)
		p.b = append(p.b, '}')
	}
	p.b = append(p.b, ' ')
	p.b = appendPromValue(p.b, v)
	p.b = append(p.b, '\n')
}

// sampleLabelBytes is sample with labels given as bytes (a slice of the
// renderer's label arena: no string made per sample) plus a constant tail
// (`,protocol="hls"` or "").
func (p *promText) sampleLabelBytes(name string, labels []byte, tail string, v float64) {
	p.b = append(p.b, name...)
	p.b = append(p.b, '{')
	p.b = append(p.b, labels...)
	p.b = append(p.b, tail...)
	p.b = append(p.b, "} "...)
	p.b = appendPromValue(p.b, v)
	p.b = append(p.b, '\n')
}

// single is a family of one unlabelled sample.
func (p *promText) single(name, typ, help string, v float64) {
	p.family(name, typ, help)
	p.sample(name, "", v)
}

// appendPromValue writes a sample value: integers as integers (byte and
// connection counts read best that way), other values in the shortest form
// that parses back to the same float64.
func appendPromValue(b []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	case v == math.Trunc(v) && math.Abs(v) < 1<<53:
		return strconv.AppendInt(b, int64(v), 10)
	case math.Abs(v) >= 1e-4 && math.Abs(v) < 1e15:
		return strconv.AppendFloat(b, v, 'f', -1, 64) // 1795435264.721, not 1.795435264721e+09
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// appendLabelPair appends name="value" with the value escaped: the format
// allows any UTF-8 in a label value but backslash, double quote and line
// feed must be written \\, \" and \n. Bytes that are not UTF-8 become
// U+FFFD, so that one odd name cannot make a scraper refuse the page.
func appendLabelPair(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, `="`...)
	for i := 0; i < len(value); {
		c := value[i]
		switch {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '"':
			b = append(b, `\"`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(value[i:])
			b = utf8.AppendRune(b, r) // RuneError for invalid bytes
			i += size
			continue
		default:
			b = append(b, c)
		}
		i++
	}
	return append(b, '"')
}

// appendEscapedHelp escapes a HELP text: backslash and line feed.
func appendEscapedHelp(b []byte, help string) []byte {
	for i := 0; i < len(help); i++ {
		switch c := help[i]; c {
		case '\\':
			b = append(b, `\\`...)
		case '\n':
			b = append(b, `\n`...)
		default:
			b = append(b, c)
		}
	}
	return b
}
