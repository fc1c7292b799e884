package testsrc

import (
	"fmt"
	"testing"

	"github.com/livedge/livedge/engine"
)

func TestGeneratorFrames(t *testing.T) {
	g, frames := generate(t, "testsrc://?fps=30&gop=1", 2.5)
	if got := g.tracks(); len(got) != 2 || got[0].Codec != engine.CodecH264 || got[1].Codec != engine.CodecAAC ||
		string(got[1].Config) != "\x11\x88" {
		t.Fatalf("tracks %+v", got)
	}
	var video, audio int
	lastDTS := []int64{-1, -1}
	var lastAny int64 = -1
	for _, f := range frames {
		if f.DTS < lastAny {
			t.Fatalf("frames not in decoding order: %d after %d", f.DTS, lastAny)
		}
		lastAny = f.DTS
		if f.PTS != f.DTS || f.DTS <= lastDTS[f.Track] {
			t.Fatalf("track %d: pts %d dts %d after %d", f.Track, f.PTS, f.DTS, lastDTS[f.Track])
		}
		lastDTS[f.Track] = f.DTS
		switch f.Track {
		case trackVideo:
			if want := tsBase + int64(video)*3000; f.DTS != want {
				t.Fatalf("video frame %d at %d, want %d", video, f.DTS, want)
			}
			if f.Key != (video%30 == 0) {
				t.Fatalf("video frame %d: key %v", video, f.Key)
			}
			types := nalTypes(f)
			want := "[1 12]"
			if f.Key {
				want = "[7 8 5 5 5 12]"
			}
			if fmt.Sprint(types) != want {
				t.Fatalf("video frame %d: NAL types %v, want %s", video, types, want)
			}
			video++
		case trackAudio:
			if want := tsBase + int64(audio)*1920; f.DTS != want || !f.Key || len(f.Data) != 1 {
				t.Fatalf("audio frame %d: dts %d (want %d) key %v", audio, f.DTS, want, f.Key)
			}
			audio++
		}
	}
	if video != 75 || audio != 118 {
		t.Fatalf("%d video and %d audio frames in 2.5 s", video, audio)
	}
}

// generateGOPs makes the frames of at least seconds, up to the end of a GOP.
func generateGOPs(t testing.TB, url string, seconds float64) (*generator, []*engine.Frame) {
	g, frames := generate(t, url, seconds)
	for g.videoN%g.gopFrames != 0 || g.audio && g.audioN*aacTicksPerAU < g.videoOffset(g.videoN) {
		frames = append(frames, g.nextFrame())
	}
	return g, frames
}

func nalTypes(f *engine.Frame) []int {
	var t []int
	for _, nal := range f.Data {
		t = append(t, int(nal[0]&0x1F))
	}
	return t
}

// videoBitrate is the Annex B video bitrate of frames over seconds.
func videoBitrate(frames []*engine.Frame, seconds float64) float64 {
	var n int
	for _, f := range frames {
		if f.Track == trackVideo {
			n += int(annexBSize(f.Data))
		}
	}
	return float64(n) * 8 / seconds
}

func TestBitrate(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want float64
	}{
		{"testsrc://?bitrate=1000k", 1e6},
		{"testsrc://?bitrate=5M&gop=0.5", 5e6},
		{"testsrc://?bitrate=333333&fps=30&gop=1&size=320x176", 333333},
		{"testsrc://?bitrate=50M&fps=60&size=1920x1080&gop=1", 50e6},
	} {
		// Whole GOPs: the filler evens out over each.
		g, frames := generateGOPs(t, tc.url, 6)
		got := videoBitrate(frames, float64(g.videoN)/float64(g.fps))
		if got < tc.want*0.995 || got > tc.want*1.005 {
			t.Errorf("%s: %.0f bit/s", tc.url, got)
		}
	}
}

// TestMinimumBitrate logs the bitrate of the pictures alone (no filler), the
// lowest a stream can have, and checks no filler is sent above it.
func TestMinimumBitrate(t *testing.T) {
	for _, size := range []string{"64x64", "320x176", "640x360", "854x480", "1280x720", "1920x1080"} {
		for _, gop := range []string{"0.5", "2", "10"} {
			g, frames := generateGOPs(t, "testsrc://?bitrate=50k&audio=0&size="+size+"&gop="+gop, 20)
			var pictures, filler int
			for _, f := range frames {
				for _, nal := range f.Data {
					if nal[0]&0x1F == nalFiller {
						filler += len(nal) + startCodeN
					} else {
						pictures += len(nal) + startCodeN
					}
				}
			}
			seconds := float64(g.videoN) / float64(g.fps)
			minimum := float64(pictures) * 8 / seconds
			if minimum > 50_000 && filler > 0 {
				t.Errorf("%s gop %s: %d bytes of filler at %.0f bit/s", size, gop, filler, minimum)
			}
			t.Logf("%9s gop %4ss: keyframe %6d bytes, minimum %6.0f kbit/s at 25 fps", size, gop,
				annexBSize(frames[0].Data), minimum/1000)
		}
	}
}

func TestSceneShared(t *testing.T) {
	a, err := Open(engine.InputConfig{URL: "testsrc://?size=320x176"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Open(engine.InputConfig{URL: "testsrc://?size=320x176&audio=0"})
	c, _ := Open(engine.InputConfig{URL: "testsrc://?size=320x176&fps=30"})
	if a.(*source).sc != b.(*source).sc {
		t.Error("equal video parameters do not share a scene")
	}
	if a.(*source).sc == c.(*source).sc {
		t.Error("different frame rates share a scene")
	}
}

func TestLayoutFits(t *testing.T) {
	for w := minSide; w <= maxSide; w += 34 {
		for h := minSide; h <= maxSide && w*h <= maxArea; h += 26 {
			l := newLayout(w, h, 30)
			mbH := (h + 15) / 16
			ok := l.barsH%16 == 0 && l.barsH <= l.dynRow0*16 && l.dynRow0 < l.dynRow1 && l.dynRow1 <= mbH &&
				l.clock.y >= l.dynRow0*16 && l.barY1 <= l.dynRow1*16 && l.barY1 <= h &&
				l.counter.y+7*l.counter.scale <= l.barY0 && l.clock.x >= 0 && l.clock.x+textWidth(clockChars, l.clock.scale) <= w &&
				(!l.info.visible || l.info.y >= l.barsH && l.info.y+7*l.info.scale <= l.dynRow0*16 &&
					l.info.x >= 0 && l.info.x+textWidth(30, l.info.scale) <= w)
			if !ok {
				t.Fatalf("%dx%d: layout %+v", w, h, l)
			}
		}
	}
}

func TestChooseLevel(t *testing.T) {
	for _, tc := range []struct {
		w, h, fps int
		bitrate   int64
		want      byte
	}{
		{64, 64, 25, 50_000, 10},
		{64, 64, 25, 100_000, 11},
		{320, 176, 25, 1_000_000, 20},
		{640, 360, 25, 1_000_000, 30},
		{640, 360, 25, 15_000_000, 31},
		{640, 360, 25, 17_000_000, 32},
		{1280, 720, 30, 5_000_000, 31},
		{1920, 1080, 30, 5_000_000, 40},
		{1920, 1080, 60, 50_000_000, 42},
		{1920, 64, 25, 1_000_000, 31}, // 120 macroblocks wide
	} {
		if got := chooseLevel((tc.w+15)/16, (tc.h+15)/16, tc.fps, tc.bitrate); got != tc.want {
			t.Errorf("%dx%d@%d %d bit/s: level %d, want %d", tc.w, tc.h, tc.fps, tc.bitrate, got, tc.want)
		}
	}
}

func TestAACConfig(t *testing.T) {
	if string(aacConfig) != "\x11\x88" {
		t.Errorf("AudioSpecificConfig % x", aacConfig)
	}
	if len(aacSilence) != 4 {
		t.Errorf("silent AU % x", aacSilence)
	}
}
