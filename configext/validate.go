package configext

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"

	"github.com/livedge/livedge/engine"
)

// A backend's stream has to be one the config file could have defined: names
// and URLs are checked by the engine's shared rules.

// Bounds of values.
const (
	// maxInputs bounds the inputs of one stream; more than a handful of
	// failover inputs is a broken backend, not a configuration.
	maxInputs = 64
)

// Numeric ranges; 0 stands for "default" as in engine.StreamConfig.
var (
	segmentDurationRule = intRule{"segment_duration", engine.MinSegmentDurationMs, engine.MaxSegmentDurationMs, " (ms)"}
	segmentCountRule    = intRule{"segment_count", engine.MinSegmentCount, engine.MaxSegmentCount, ""}
	sourceTimeoutRule   = intRule{"source_timeout", engine.MinSourceTimeoutSec, engine.MaxSourceTimeoutSec, " (seconds)"}
)

type intRule struct {
	name   string
	lo, hi int
	unit   string
}

func (r intRule) check(n int) error {
	if n != 0 && (n < r.lo || n > r.hi) {
		return fmt.Errorf("%s must be %d to %d%s, got %d", r.name, r.lo, r.hi, r.unit, n)
	}
	return nil
}

// validateStream checks a stream config the way appliance/config does.
func validateStream(c *engine.StreamConfig) error {
	if err := engine.ValidateStreamName(c.Name); err != nil {
		return fmt.Errorf("bad name %s: %w", quoteShort(c.Name), err)
	}
	if len(c.Inputs) == 0 {
		return errors.New("no input")
	}
	if len(c.Inputs) > maxInputs {
		return fmt.Errorf("%d inputs, at most %d allowed", len(c.Inputs), maxInputs)
	}
	for j, in := range c.Inputs {
		if err := engine.ValidateInputURL(in.URL); err != nil {
			return fmt.Errorf("inputs[%d]: bad url %s: %w", j, quoteShort(engine.RedactURL(in.URL)), err)
		}
		if err := sourceTimeoutRule.check(in.SourceTimeout); err != nil {
			return fmt.Errorf("inputs[%d]: %w", j, err)
		}
	}
	if err := segmentDurationRule.check(c.SegmentDuration); err != nil {
		return err
	}
	if ci := c.ClusterIngest; ci != nil && ci.CaptureAt != "" {
		if err := engine.ValidateHost(ci.CaptureAt); err != nil {
			return fmt.Errorf("cluster_ingest: bad capture_at %s: %w", quoteShort(ci.CaptureAt), err)
		}
	}
	return segmentCountRule.check(c.SegmentCount)
}

// checkBackendURL accepts the http or https URL of a config backend.
func checkBackendURL(s string) (*url.URL, error) {
	u, err := engine.ParseURL(s)
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
	if err := engine.ValidateHostPort(u.Host); err != nil {
		return nil, err
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
