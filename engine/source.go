package engine

import "context"

// Sink receives media from a source. Calls come from one goroutine at a time.
type Sink interface {
	// SetTracks announces the tracks of the frames that follow. A source calls
	// it before its first frame and again whenever its tracks change.
	SetTracks(tracks []Track)
	// WriteFrame hands one frame over; the sink owns it from then on.
	WriteFrame(f *Frame)
}

// Source produces frames from one input URL until it fails or ctx ends.
// Timestamps may start anywhere and may wrap at 2^33 (MPEG-TS): the engine
// makes the stream's timeline continuous across restarts and failover.
type Source interface {
	Run(ctx context.Context, sink Sink) error
}

// SourceOpener opens a source for an input URL; it fails fast on a URL it
// cannot handle, so the error names a bad config rather than a dead source.
type SourceOpener func(in InputConfig) (Source, error)

// Packager turns a stream's frames into a wire format, once per stream, for
// every viewer of that format. Calls come from the stream's single writer.
type Packager interface {
	SetTracks(tracks []Track)
	WriteFrame(f *Frame)
	// Discontinuity is called when the stream switches to another input or
	// restarts its source: the timeline continues but codec state may not.
	Discontinuity()
	Close()
}

// PackagerFactory makes the packagers of a new stream.
type PackagerFactory func(s *Stream) Packager
