package mpegts

import "github.com/livedge/livedge/engine"

const (
	// Before the tracks are announced frames wait for the AAC configs (they
	// come with the first ADTS header), at most this much: an AAC stream that
	// stays silent longer is left out until it speaks.
	demuxMaxPendingFrames = 512
	demuxMaxPendingBytes  = 32 << 20
	demuxMaxPendingSpan   = 2 * engine.Timescale

	// demuxTimelineReset: a DTS that goes back by this much or more is a new
	// timeline (encoder restart, splice), not jitter.
	demuxTimelineReset = engine.Timescale
)

// demuxPending is a frame that waits for the tracks to be announced.
type demuxPending struct {
	s *demuxStream
	f *engine.Frame
}

// emit keeps a stream's DTS non-decreasing and hands the frame to the sink,
// or to the pending queue before the tracks are announced.
func (d *Demuxer) emit(s *demuxStream, f *engine.Frame) {
	if s.hasLastDTS && f.DTS < s.lastDTS {
		switch {
		case s.lastDTS-f.DTS >= demuxTimelineReset:
			// The engine makes the timeline continuous across the jump, as it
			// does across source restarts. Each stream detects it on its own:
			// clearing the others would let them step back by less.
			d.log.Info("mpegts demux: timestamps jumped back, new timeline", "pid", s.pid, "from", s.lastDTS, "to", f.DTS)
		case s.codec.IsVideo():
			// Dropping a video frame would break the frames that reference
			// it: keep it, in decoding order.
			d.decodeError("video DTS went back, clamped", "pid", s.pid, "by", s.lastDTS-f.DTS)
			f.DTS = s.lastDTS
		default:
			d.decodeError("audio frame going back in time dropped", "pid", s.pid, "by", s.lastDTS-f.DTS)
			return
		}
	}
	if f.PTS < f.DTS {
		f.PTS = f.DTS
	}
	s.lastDTS = f.DTS
	s.hasLastDTS = true
	if !d.announced {
		d.pending = append(d.pending, demuxPending{s: s, f: f})
		d.pendingBytes += f.Size()
		d.maybeAnnounce()
		return
	}
	if s.track < 0 {
		return
	}
	f.Track = s.track
	d.sink.WriteFrame(f)
}

// maybeAnnounce announces the tracks once every AAC stream has its config,
// or when waiting for a silent one has lasted too long.
func (d *Demuxer) maybeAnnounce() {
	if d.announced || len(d.streams) == 0 {
		return
	}
	for _, s := range d.streams {
		if s.codec == engine.CodecAAC && s.config == nil {
			n := len(d.pending)
			if n == 0 {
				return
			}
			span := d.pending[n-1].f.DTS - d.pending[0].f.DTS
			if n < demuxMaxPendingFrames && d.pendingBytes < demuxMaxPendingBytes && span < demuxMaxPendingSpan {
				return
			}
			d.log.Info("mpegts demux: AAC stream sent no audio yet, announcing tracks without it", "pid", s.pid)
			break
		}
	}
	d.announce()
}

// announce hands the sink the tracks of the streams it can describe (all but
// AAC streams without config yet) and then the frames that waited for them.
func (d *Demuxer) announce() {
	tracks := make([]engine.Track, 0, len(d.streams))
	for _, s := range d.streams {
		s.track = -1
		if s.codec == engine.CodecAAC && s.config == nil {
			continue
		}
		s.track = len(tracks)
		tracks = append(tracks, engine.Track{Codec: s.codec, Config: s.config})
	}
	if len(tracks) == 0 {
		d.dropPending()
		return
	}
	d.sink.SetTracks(tracks)
	d.announced = true
	pending := d.pending
	for i := range pending {
		p := pending[i]
		pending[i] = demuxPending{}
		if p.s.track >= 0 {
			p.f.Track = p.s.track
			d.sink.WriteFrame(p.f)
		}
	}
	d.pending = pending[:0]
	d.pendingBytes = 0
}

func (d *Demuxer) dropPending() {
	clear(d.pending)
	d.pending = d.pending[:0]
	d.pendingBytes = 0
}
