package tsclip

import (
	"bytes"
	"math/rand/v2"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	mcmpegts "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	mccodecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"
)

// tsWrap is where 33-bit PES timestamps wrap.
const tsWrap = 1 << 33

// Synth writes frames video frames at 25 fps (H.264, IDR every 25, PTS one
// frame after DTS) and the matching AAC frames at 48 kHz through
// mediacommon's writer, starting at PTS start (33-bit): TS without ffmpeg.
// The payloads are random (from seed) and free of start code emulation.
func Synth(frames int, start int64, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	video := &mcmpegts.Track{PID: 256, Codec: &mccodecs.H264{}}
	audio := &mcmpegts.Track{PID: 257, Codec: &mccodecs.MPEG4Audio{Config: mpeg4audio.AudioSpecificConfig{
		Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 48000, ChannelConfig: 2,
	}}}
	var buf bytes.Buffer
	w := &mcmpegts.Writer{W: &buf, Tracks: []*mcmpegts.Track{video, audio}}
	if err := w.Initialize(); err != nil {
		panic(err) // writing to memory: a bug in the helper
	}
	const aacDur = 1024 * 90000 / 48000.0
	nextAudio := 0
	for i := range frames {
		dts := start + int64(i)*3600
		var au [][]byte
		if i%25 == 0 {
			au = [][]byte{NALU(0x67, 12, rng), NALU(0x68, 4, rng), NALU(0x65, 3000, rng)}
		} else {
			au = [][]byte{NALU(0x41, 400+rng.IntN(800), rng)}
		}
		if err := w.WriteH264(video, (dts+3600)&(tsWrap-1), dts&(tsWrap-1), au); err != nil {
			panic(err)
		}
		// Audio up to the end of this video frame, 4 AUs per PES at most.
		end := float64(i+1) * 3600
		for float64(nextAudio)*aacDur < end {
			var aus [][]byte
			pts := start + int64(float64(nextAudio)*aacDur)
			for len(aus) < 4 && float64(nextAudio)*aacDur < end {
				aus = append(aus, NALU(0x21, 100+rng.IntN(200), rng))
				nextAudio++
			}
			if err := w.WriteMPEG4Audio(audio, pts&(tsWrap-1), aus); err != nil {
				panic(err)
			}
		}
	}
	return buf.Bytes()
}

// NALU makes a NAL unit (or any payload) starting with header, with
// random bytes free of start code emulation.
func NALU(header byte, size int, rng *rand.Rand) []byte {
	b := make([]byte, size)
	b[0] = header
	for i := 1; i < size; i++ {
		b[i] = byte(0x10 + rng.IntN(0xe0))
	}
	return b
}
