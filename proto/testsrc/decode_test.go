package testsrc

import (
	"bytes"
	"crypto/md5"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livedge/livedge/engine"
)

// testClock is the wall time of offset 0 in generator tests.
var testClock = time.Date(2025, 3, 4, 12, 34, 56, 0, time.UTC)

func needFFmpeg(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
}

// generate opens url and makes the frames of the first seconds, unpaced.
func generate(t testing.TB, url string, seconds float64) (*generator, []*engine.Frame) {
	t.Helper()
	src, err := Open(engine.InputConfig{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	s := src.(*source)
	g := newGenerator(s.sc, s.p.audio, testClock)
	var frames []*engine.Frame
	for float64(g.nextOffset()) < seconds*engine.Timescale {
		frames = append(frames, g.nextFrame())
	}
	return g, frames
}

// annexB writes the video frames as an H.264 Annex B elementary stream.
func annexB(frames []*engine.Frame) []byte {
	var b []byte
	for _, f := range frames {
		if f.Track != trackVideo {
			continue
		}
		for _, nal := range f.Data {
			b = append(b, 0, 0, 0, 1)
			b = append(b, nal...)
		}
	}
	return b
}

// adts writes the audio frames as an ADTS stream.
func adts(frames []*engine.Frame) []byte {
	var b []byte
	for _, f := range frames {
		if f.Track != trackAudio {
			continue
		}
		n := 7 + len(f.Data[0])
		var w bitWriter
		w.u(12, 0xFFF)
		w.u(1, 0) // MPEG-4
		w.u(2, 0) // layer
		w.u(1, 1) // protection_absent
		w.u(2, aacObjectTypeLC-1)
		w.u(4, aacFreqIndex48000)
		w.u(1, 0)
		w.u(3, aacChannels)
		w.u(4, 0)
		w.u(13, uint64(n))
		w.u(11, 0x7FF)
		w.u(2, 0)
		b = append(b, w.buf...)
		b = append(b, f.Data[0]...)
	}
	return b
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// run runs a tool and returns its stdout; stderr must be empty.
func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Fatalf("%s %s reported errors:\n%s", name, strings.Join(args, " "), stderr.String())
	}
	return stdout.Bytes()
}

// referencePicture draws keyframe n as generated: the full coded picture.
func referencePicture(g *generator, n int64) *picture {
	f := &g.sc.format
	p := newPicture(f.mbW*16, 0, f.mbH*16)
	g.sc.drawStatic(p, g.sc.infoText())
	clock, counter, frac := keyframeTexts(nil, g.clockAt(g.videoOffset(n)), n)
	g.sc.drawDynamic(p, clock, counter, frac)
	return p
}

// cropI420 returns the display part of p as packed I420.
func cropI420(p *picture, w, h int) []byte {
	var b []byte
	for y := range h {
		b = append(b, p.y[y*p.yStride:y*p.yStride+w]...)
	}
	for _, plane := range [][]byte{p.cb, p.cr} {
		for y := range h / 2 {
			b = append(b, plane[y*p.cStride:y*p.cStride+w/2]...)
		}
	}
	return b
}

// TestDecode checks with ffmpeg that the streams decode without errors, to
// exactly the drawn pictures, at the right size and frame count.
func TestDecode(t *testing.T) {
	needFFmpeg(t)
	for _, tc := range []struct {
		url     string
		seconds float64
	}{
		{"testsrc://", 3},
		{"testsrc://?size=320x176&gop=1&bitrate=20M", 2.5},
		{"testsrc://?size=64x64&fps=1&gop=0.5&bitrate=50k", 4},
		{"testsrc://?size=1920x1080&fps=60&gop=0.5&bitrate=50M", 0.6},
		{"testsrc://?size=334x998&fps=7&gop=3&audio=0", 3.5},
	} {
		t.Run(tc.url, func(t *testing.T) {
			g, frames := generate(t, tc.url, tc.seconds)
			w, h := g.sc.key.width, g.sc.key.height
			h264 := writeTemp(t, "video.h264", annexB(frames))

			probe := strings.TrimSpace(string(run(t, "ffprobe", "-v", "error", "-select_streams", "v:0",
				"-show_entries", "stream=profile,width,height,level", "-of", "csv=p=0", h264)))
			var nVideo int64
			for _, f := range frames {
				if f.Track == trackVideo {
					nVideo++
				}
			}
			want := strings.Join([]string{"Constrained Baseline", strconv.Itoa(w), strconv.Itoa(h),
				strconv.Itoa(int(g.sc.format.level))}, ",")
			if probe != want {
				t.Errorf("ffprobe: %q, want %q", probe, want)
			}

			// The stream decodes without errors (run fails on any output to
			// stderr), and every picture equals the keyframe of its GOP as
			// drawn.
			var sums []string
			for _, line := range strings.Split(string(run(t, "ffmpeg", "-v", "error", "-i", h264, "-pix_fmt", "yuv420p", "-f", "framemd5", "-")), "\n") {
				if fields := strings.Split(line, ","); len(fields) == 6 && !strings.HasPrefix(line, "#") {
					sums = append(sums, strings.TrimSpace(fields[5]))
				}
			}
			if len(sums) != int(nVideo) {
				t.Fatalf("decoded %d frames, want %d", len(sums), nVideo)
			}
			var ref string
			for n := range nVideo {
				if n%g.gopFrames == 0 {
					ref = fmt.Sprintf("%x", md5.Sum(cropI420(referencePicture(g, n), w, h)))
				}
				if sums[n] != ref {
					t.Fatalf("decoded frame %d differs from the drawn picture", n)
				}
			}

			if g.audio {
				aac := writeTemp(t, "audio.aac", adts(frames))
				pcm := run(t, "ffmpeg", "-v", "error", "-i", aac, "-f", "s16le", "-")
				if len(pcm) == 0 || bytes.Count(pcm, []byte{0}) != len(pcm) {
					t.Errorf("audio is not %d bytes of silence", len(pcm))
				}
			}
		})
	}
}

// TestKeyframePNG decodes a keyframe to PNG for a look at the picture; with
// TESTSRC_PNG=dir it keeps the file there, and TESTSRC_URL picks the URL.
func TestKeyframePNG(t *testing.T) {
	needFFmpeg(t)
	url := os.Getenv("TESTSRC_URL")
	if url == "" {
		url = "testsrc://"
	}
	_, frames := generate(t, url, 0.01)
	h264 := writeTemp(t, "video.h264", annexB(frames[:1]))
	dir := os.Getenv("TESTSRC_PNG")
	if dir == "" {
		dir = t.TempDir()
	}
	png := filepath.Join(dir, "keyframe.png")
	run(t, "ffmpeg", "-v", "error", "-y", "-i", h264, "-frames:v", "1", png)
	if b, err := os.ReadFile(png); err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Fatalf("no PNG written: %v", err)
	}
}
