package httpts

import "fmt"

// Policy is what happens to a viewer that fell further behind the stream
// than its queue limit.
type Policy uint8

// Slow-viewer policies.
const (
	// PolicyResync moves the viewer to the newest keyframe: it skips what it
	// missed and plays on. A viewer resynced lagLimit times within lagWindow
	// cannot sustain the stream's bitrate and is dropped.
	PolicyResync Policy = iota
	// PolicyDrop closes the viewer's connection.
	PolicyDrop
)

// String is the policy's config name.
func (p Policy) String() string {
	switch p {
	case PolicyResync:
		return "resync"
	case PolicyDrop:
		return "drop"
	}
	return fmt.Sprintf("Policy(%d)", uint8(p))
}

// ParsePolicy reads a config name: "resync" or "drop" ("" is resync).
func ParsePolicy(s string) (Policy, error) {
	switch s {
	case "", "resync":
		return PolicyResync, nil
	case "drop":
		return PolicyDrop, nil
	}
	return 0, fmt.Errorf("slow viewer policy %q: want resync or drop", s)
}

// Options tune a hub's viewers; the zero value is the default.
type Options struct {
	// QueueLimit is how many bytes a viewer may be behind the newest
	// published byte (what the stream made and it has not been handed yet)
	// before Policy applies. 0: one GOP of the stream, as last measured.
	// At least MinQueueLimit either way.
	QueueLimit int
	Policy     Policy
}

// MinQueueLimit bounds the limit from below: two chunks of the largest
// size, so that a viewer is never over it just because a chunk was
// published and it has not read it yet, and streams with tiny GOPs (audio
// only: every chunk is a keyframe) do not resync viewers a few chunks late.
const MinQueueLimit = 128 << 10
