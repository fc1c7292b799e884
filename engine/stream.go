package engine

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// FrameRingSize is the number of frames a stream keeps for frame readers
// (about 20 s of 25 fps video with audio).
const FrameRingSize = 2048

// Stream is one running stream: its config, its single writer (the source
// supervisor), its frame ring and its packager.
type Stream struct {
	cfg      StreamConfig
	log      *slog.Logger
	open     SourceOpener
	packager Packager
	frames   *Ring[Frame]

	cancel context.CancelFunc
	done   chan struct{}

	// ready is closed when the first keyframe has been written.
	ready     chan struct{}
	readyOnce sync.Once

	startedAt   time.Time
	input       atomic.Int32 // index of the input in use, -1: none
	lastFrameNs atomic.Int64 // wall clock of the last frame, unix ns
	bytesIn     atomic.Uint64
	bitrate     atomic.Uint64 // input bit/s over the last second
	restarts    atomic.Uint64 // source (re)starts after the first
	viewers     atomic.Int64  // connected viewers of persistent protocols
	lastAccess  atomic.Int64  // unix ns of the last request (HLS has no persistent viewers)
}

// Name of the stream.
func (s *Stream) Name() string { return s.cfg.Name }

// Config is the config the stream runs with; it never changes for the life of
// a Stream (a changed config restarts the stream).
func (s *Stream) Config() StreamConfig { return s.cfg }

// Packager is the stream's packager as made by the registry's factory.
func (s *Stream) Packager() Packager { return s.packager }

// Frames is the stream's frame ring (GOP-indexed) for frame readers.
func (s *Stream) Frames() *Ring[Frame] { return s.frames }

// Ready is closed once the stream has media (its first keyframe).
func (s *Stream) Ready() <-chan struct{} { return s.ready }

// Done is closed when the stream has stopped.
func (s *Stream) Done() <-chan struct{} { return s.done }

// Touch records a request for the stream, keeping an on-demand stream alive.
func (s *Stream) Touch() { s.lastAccess.Store(time.Now().UnixNano()) }

// AddViewer counts a persistent viewer in (+1) or out (-1).
func (s *Stream) AddViewer(delta int) {
	s.viewers.Add(int64(delta))
	s.Touch()
}

// Status is a snapshot of a stream's state.
type Status struct {
	Name         string        `json:"name"`
	Alive        bool          `json:"alive"`
	Input        string        `json:"input,omitempty"` // URL of the input in use
	InputIndex   int           `json:"input_index"`
	InputBitrate uint64        `json:"input_bitrate"` // kbit/s
	BytesIn      uint64        `json:"bytes_in"`
	LastFrameAge time.Duration `json:"-"`
	Lifetime     time.Duration `json:"-"`
	Viewers      int64         `json:"online_clients"`
	Restarts     uint64        `json:"source_restarts"`
}

// signalLost is how long without frames before a stream reports no signal.
const signalLost = 3 * time.Second

// Status returns the stream's current state.
func (s *Stream) Status() Status {
	st := Status{
		Name:         s.cfg.Name,
		InputIndex:   int(s.input.Load()),
		InputBitrate: s.bitrate.Load() / 1000,
		BytesIn:      s.bytesIn.Load(),
		Lifetime:     time.Since(s.startedAt),
		Viewers:      s.viewers.Load(),
		Restarts:     s.restarts.Load(),
	}
	if st.InputIndex >= 0 && st.InputIndex < len(s.cfg.Inputs) {
		st.Input = s.cfg.Inputs[st.InputIndex].URL
	}
	if last := s.lastFrameNs.Load(); last > 0 {
		st.LastFrameAge = time.Since(time.Unix(0, last))
		st.Alive = st.LastFrameAge < signalLost
	}
	if !st.Alive {
		st.InputBitrate = 0
	}
	return st
}

func (s *Stream) idleFor(now time.Time) time.Duration {
	if s.viewers.Load() > 0 {
		return 0
	}
	return now.Sub(time.Unix(0, s.lastAccess.Load()))
}

func (s *Stream) stop() {
	s.cancel()
	<-s.done
}
