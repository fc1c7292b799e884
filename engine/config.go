package engine

import "time"

// StreamConfig is the desired configuration of one stream, whichever input
// produced it (config file, API or config backend). Its JSON form follows the
// API v3 stream schema.
type StreamConfig struct {
	Name   string        `json:"name"`
	Inputs []InputConfig `json:"inputs,omitempty"`
	Static bool          `json:"static,omitempty"`
	// SegmentDuration is the HLS target segment duration in milliseconds
	// (0: DefaultSegmentDuration).
	SegmentDuration int `json:"segment_duration,omitempty"`
	// SegmentCount is the number of segments in a live playlist (0: default).
	SegmentCount int `json:"segment_count,omitempty"`
	// ClusterIngest makes the stream captured by exactly one live server of
	// the cluster at all times (package cluster picks it); nil: off.
	ClusterIngest *ClusterIngest `json:"cluster_ingest,omitempty"`
}

// ClusterIngest is the cluster_ingest option of a stream.
type ClusterIngest struct {
	// CaptureAt names the server (its cluster hostname) that captures the
	// stream while it is alive ("": any, by rendezvous hashing).
	CaptureAt string `json:"capture_at,omitempty"`
}

// InputConfig is one input line of a stream.
type InputConfig struct {
	URL string `json:"url"`
	// SourceTimeout in seconds without frames before the next input is tried
	// (0: DefaultSourceTimeout).
	SourceTimeout int `json:"source_timeout,omitempty"`
}

// Defaults of a stream.
const (
	DefaultSegmentDuration = 2 * time.Second
	DefaultSegmentCount    = 6
	DefaultSourceTimeout   = 5 * time.Second
	// OnDemandStartWait is how long a first viewer waits for an on-demand
	// stream to have media.
	OnDemandStartWait = 10 * time.Second
	// OnDemandIdleStop is how long an on-demand stream runs after its last viewer.
	OnDemandIdleStop = 30 * time.Second
)

// Ranges of a stream's values in the model's units; 0 stands for the
// default. The config file, the API and the config backend all check them.
const (
	MinSegmentDurationMs, MaxSegmentDurationMs = 1000, 60000
	MinSegmentCount, MaxSegmentCount           = 1, 100
	MinSourceTimeoutSec, MaxSourceTimeoutSec   = 1, 3600
)

// SegmentTarget is the effective HLS segment duration.
func (c *StreamConfig) SegmentTarget() time.Duration {
	if c.SegmentDuration <= 0 {
		return DefaultSegmentDuration
	}
	return time.Duration(c.SegmentDuration) * time.Millisecond
}

// Segments is the effective live playlist length.
func (c *StreamConfig) Segments() int {
	if c.SegmentCount <= 0 {
		return DefaultSegmentCount
	}
	return c.SegmentCount
}

// Timeout is the effective source timeout of an input.
func (in *InputConfig) Timeout() time.Duration {
	if in.SourceTimeout <= 0 {
		return DefaultSourceTimeout
	}
	return time.Duration(in.SourceTimeout) * time.Second
}
