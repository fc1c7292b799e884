package testsrc

import (
	"testing"

	"github.com/livedge/livedge/engine"
)

func benchGenerator(b *testing.B, url string) *generator {
	src, err := Open(engine.InputConfig{URL: url})
	if err != nil {
		b.Fatal(err)
	}
	s := src.(*source)
	return newGenerator(s.sc, s.p.audio, testClock)
}

// BenchmarkFrames makes the frames of a 640x360 1000k stream (video and
// audio, in decoding order); one op is one frame.
func BenchmarkFrames(b *testing.B) {
	g := benchGenerator(b, "testsrc://?size=640x360&bitrate=1000k")
	b.ReportAllocs()
	var bytes int64
	for b.Loop() {
		bytes += int64(g.nextFrame().Size())
	}
	b.SetBytes(bytes / int64(b.N))
}

// BenchmarkKeyframe makes keyframes only (the costly frames).
func BenchmarkKeyframe(b *testing.B) {
	for _, size := range []string{"640x360", "1920x1080"} {
		b.Run(size, func(b *testing.B) {
			g := benchGenerator(b, "testsrc://?audio=0&gop=0.5&fps=2&size="+size)
			b.ReportAllocs()
			for b.Loop() {
				if !g.nextFrame().Key {
					b.Fatal("not a keyframe")
				}
			}
		})
	}
}

// BenchmarkDeltaFrame makes the frames between keyframes.
func BenchmarkDeltaFrame(b *testing.B) {
	g := benchGenerator(b, "testsrc://?gop=10&fps=60&audio=0")
	b.ReportAllocs()
	for b.Loop() {
		if g.videoN%g.gopFrames == 0 {
			b.StopTimer()
			g.nextFrame()
			b.StartTimer()
		}
		g.nextFrame()
	}
}
