package hls

import (
	"bytes"
	"runtime"
	"testing"
	"time"

	"github.com/livedge/livedge/engine"
	"github.com/livedge/livedge/proto/mpegts"
)

// benchFrames is one second of 25 fps video (one GOP) with its 48 kHz AAC
// frames, DTS from 0; a benchmark shifts them by the laps it ran.
func benchFrames() (frames []engine.Frame, span int64) {
	const step = 3600
	key := bytes.Repeat([]byte{0xE5}, 20000)
	key[0] = 0x65
	delta := bytes.Repeat([]byte{0xC1}, 3000)
	delta[0] = 0x41
	aac := bytes.Repeat([]byte{0xA1}, 300)
	audio := int64(0)
	for i := range 25 {
		dts := int64(i) * step
		nal := delta
		if i == 0 {
			nal = key
		}
		frames = append(frames, engine.Frame{Track: 0, DTS: dts, PTS: dts, Key: i == 0, Data: [][]byte{nal}})
		for ; audio < dts+step; audio += 1920 {
			frames = append(frames, engine.Frame{Track: 1, DTS: audio, PTS: audio, Key: true, Data: [][]byte{aac}})
		}
	}
	return frames, 25 * step
}

// BenchmarkSegmenter measures the whole per-stream TS path for one frame:
// mux, chunk, publish, and cut into HLS segments (2 s target, 1 s GOPs).
func BenchmarkSegmenter(b *testing.B) {
	frames, span := benchFrames()
	start := time.Unix(1700000000, 0)
	var clock int64
	c := mpegts.NewChunker(mpegts.ChunkerOptions{RingSize: 256, Pool: mpegts.NewPool(64<<20, 0), Now: func() time.Time {
		return start.Add(time.Duration(clock) * time.Second / engine.Timescale)
	}})
	p := New(c, 2*time.Second, 4)
	c.SetTracks(testTracks)
	size := 0
	for _, f := range frames {
		size += f.Size()
	}
	b.SetBytes(int64(size / len(frames)))
	b.ReportAllocs()
	var f engine.Frame
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; b.Loop(); i++ {
		f = frames[i%len(frames)]
		lap := int64(i / len(frames))
		f.DTS += lap * span
		f.PTS += lap * span
		clock = f.DTS
		c.WriteFrame(&f)
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N), "mallocs/frame")
	p.Close()
	c.Close()
}
