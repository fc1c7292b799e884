package testsrc

import (
	"time"

	"github.com/livedge/livedge/engine"
)

// tsBase is the timestamp of a run's first frame (any value would do; 10 s
// keeps clear of zero for muxers that subtract offsets).
const tsBase = 10 * engine.Timescale

// Track indices of the frames.
const (
	trackVideo = 0
	trackAudio = 1
)

// minFillerNAL is the smallest filler NAL unit worth sending.
const minFillerNAL = 8

// generator makes the frames of one run in decoding order, unpaced: the
// caller decides when each is due (nextOffset).
type generator struct {
	sc        *scene
	audio     bool
	fps       int64
	gopFrames int64
	bitrate   int64
	// clockOrigin is the wall time of offset 0, shown on keyframes.
	clockOrigin time.Time

	videoN, audioN int64 // indices of the next frames
	idrPicID       uint32

	// Filler accounting, in Annex B bytes (NAL units plus 4-byte start codes).
	sent   int64  // video bytes sent so far
	filler []byte // filler NAL unit of every frame of the current GOP, or nil
	text   []byte // scratch for the keyframe texts
}

func newGenerator(sc *scene, audio bool, clockOrigin time.Time) *generator {
	k := sc.key
	return &generator{
		sc: sc, audio: audio, fps: int64(k.fps), gopFrames: int64(k.gopFrames), bitrate: k.bitrate,
		clockOrigin: clockOrigin, text: make([]byte, 0, 48),
	}
}

func (g *generator) tracks() []engine.Track {
	t := []engine.Track{{Codec: engine.CodecH264}}
	if g.audio {
		t = append(t, engine.Track{Codec: engine.CodecAAC, Config: aacConfig})
	}
	return t
}

// videoOffset is the time of video frame n in 90 kHz ticks since the start.
func (g *generator) videoOffset(n int64) int64 { return n * engine.Timescale / g.fps }

// nextOffset is the time of the next frame in 90 kHz ticks since the start.
func (g *generator) nextOffset() int64 {
	v := g.videoOffset(g.videoN)
	if g.audio {
		return min(v, g.audioN*aacTicksPerAU)
	}
	return v
}

// Frames and their NAL unit lists in one allocation each.
type (
	keyBox struct {
		f    engine.Frame
		nals [6][]byte
	}
	deltaBox struct {
		f    engine.Frame
		nals [2][]byte
	}
	audioBox struct {
		f    engine.Frame
		data [1][]byte
	}
)

// nextFrame makes the next frame in decoding order (video first on a tie).
func (g *generator) nextFrame() *engine.Frame {
	v := g.videoOffset(g.videoN)
	if g.audio && g.audioN*aacTicksPerAU < v {
		b := &audioBox{data: [1][]byte{aacSilence}}
		b.f = engine.Frame{Track: trackAudio, PTS: tsBase + g.audioN*aacTicksPerAU, Key: true, Data: b.data[:]}
		b.f.DTS = b.f.PTS
		g.audioN++
		return &b.f
	}
	n := g.videoN
	g.videoN++
	pos := n % g.gopFrames
	var f *engine.Frame
	var nals [][]byte
	if pos == 0 {
		b := &keyBox{}
		f, nals = &b.f, b.nals[:0]
		clock, counter, frac := keyframeTexts(g.text, g.clockAt(v), n)
		nals = append(nals, g.sc.sps, g.sc.pps, g.sc.top[g.idrPicID])
		nals = append(nals, g.sc.dynamicSlice(g.idrPicID, clock, counter, frac))
		if bottom := g.sc.bottom[g.idrPicID]; bottom != nil {
			nals = append(nals, bottom)
		}
		g.idrPicID ^= 1
		g.planFiller(n, annexBSize(nals))
	} else {
		b := &deltaBox{}
		f, nals = &b.f, append(b.nals[:0], g.sc.pSlices[pos])
	}
	if g.filler != nil {
		nals = append(nals, g.filler)
	}
	g.sent += annexBSize(nals)
	*f = engine.Frame{Track: trackVideo, PTS: tsBase + v, DTS: tsBase + v, Key: pos == 0, Data: nals}
	return f
}

// clockAt is the wall time shown for offset ticks.
func (g *generator) clockAt(offset int64) time.Time {
	sec := offset / engine.Timescale
	rest := offset % engine.Timescale
	return g.clockOrigin.Add(time.Duration(sec)*time.Second + time.Duration(rest)*time.Second/engine.Timescale)
}

// planFiller sizes the filler of the GOP starting at frame n, whose keyframe
// is keyBytes long, so that the video bytes sent by the end of the GOP
// reach the bitrate. If the pictures alone exceed it, there is no filler
// and no debt is carried over.
func (g *generator) planFiller(n, keyBytes int64) {
	end := n + g.gopFrames
	target := g.bitrate * end / (8 * g.fps)
	var pBytes int64
	if g.gopFrames > 1 {
		pBytes = int64(len(g.sc.pSlices[1])) + startCodeN
	}
	natural := keyBytes + (g.gopFrames-1)*pBytes
	spare := target - g.sent - natural
	if spare < 0 {
		g.sent = target - natural
		spare = 0
	}
	size := int(spare/g.gopFrames) - startCodeN
	switch {
	case size < minFillerNAL:
		g.filler = nil
	case len(g.filler) != size:
		g.filler = fillerNAL(size)
	}
}

func annexBSize(nals [][]byte) int64 {
	n := 0
	for _, b := range nals {
		n += len(b) + startCodeN
	}
	return int64(n)
}
