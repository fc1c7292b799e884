package engine

import (
	"fmt"
	"strconv"
	"strings"
)

// StreamError is a value of a stream config that breaks a rule. Field
// locates it in the stream's JSON form, e.g. ["inputs", 0, "url"]; Code
// classifies it for API clients.
type StreamError struct {
	Field []any
	Code  string
	Msg   string
}

// Codes of StreamError.
const (
	CodeBadValue = "bad_value"
	CodeBadURL   = "bad_url"
	CodeMissing  = "missing"
)

func (e *StreamError) Error() string {
	var b strings.Builder
	for _, f := range e.Field {
		if i, ok := f.(int); ok {
			b.WriteString("[" + strconv.Itoa(i) + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		fmt.Fprint(&b, f)
	}
	return b.String() + ": " + e.Msg
}

// MaxInputs bounds the inputs of one stream: more than a handful of
// failover inputs is a mistake, not a configuration.
const MaxInputs = 64

// ValidateStreamConfig checks one stream's values by the rules every source
// of configuration shares (the config file, the API, the config backend);
// 0 stands for a default. Rules across streams (duplicate names) are the
// caller's. The error is a *StreamError; URLs in it carry no credentials.
func ValidateStreamConfig(c *StreamConfig) error {
	fail := func(code string, msg string, field ...any) error {
		return &StreamError{Field: field, Code: code, Msg: msg}
	}
	if err := ValidateStreamName(c.Name); err != nil {
		return fail(CodeBadValue, fmt.Sprintf("bad stream name %s: %v", QuoteShort(c.Name), err), "name")
	}
	if len(c.Inputs) == 0 {
		return fail(CodeMissing, fmt.Sprintf("stream %s has no input", QuoteShort(c.Name)), "inputs")
	}
	if len(c.Inputs) > MaxInputs {
		return fail(CodeBadValue, fmt.Sprintf("%d inputs, at most %d allowed", len(c.Inputs), MaxInputs), "inputs")
	}
	for j, in := range c.Inputs {
		if err := ValidateInputURL(in.URL); err != nil {
			return fail(CodeBadURL, fmt.Sprintf("bad input URL %s: %v", QuoteShort(RedactURL(in.URL)), err), "inputs", j, "url")
		}
		if msg, ok := inRange("source_timeout", in.SourceTimeout, MinSourceTimeoutSec, MaxSourceTimeoutSec, " (seconds)"); !ok {
			return fail(CodeBadValue, msg, "inputs", j, "source_timeout")
		}
	}
	if msg, ok := inRange("segment_duration", c.SegmentDuration, MinSegmentDurationMs, MaxSegmentDurationMs, " (ms)"); !ok {
		return fail(CodeBadValue, msg, "segment_duration")
	}
	if msg, ok := inRange("segment_count", c.SegmentCount, MinSegmentCount, MaxSegmentCount, ""); !ok {
		return fail(CodeBadValue, msg, "segment_count")
	}
	if ci := c.ClusterIngest; ci != nil && ci.CaptureAt != "" {
		if err := ValidateHost(ci.CaptureAt); err != nil {
			return fail(CodeBadValue, fmt.Sprintf("bad capture_at %s: %v", QuoteShort(ci.CaptureAt), err), "cluster_ingest", "capture_at")
		}
	}
	return nil
}

// inRange checks a value whose 0 means "default".
func inRange(name string, n, lo, hi int, unit string) (string, bool) {
	if n == 0 || (n >= lo && n <= hi) {
		return "", true
	}
	return fmt.Sprintf("%s must be %d to %d%s, got %d", name, lo, hi, unit, n), false
}
