// Package tsclip gives tests H.264 + AAC clips: a real one as engine frames
// (Frames: ffmpeg encodes it, mediacommon's reader, independent of our
// demuxer, reads it) and a synthetic one as TS bytes (Synth: no ffmpeg).
package tsclip

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	mcmpegts "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	mccodecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"

	"github.com/livedge/livedge/engine"
)

// Frames makes a clip of the given length (320x240, 30 fps, 1 s GOP, AAC
// 48 kHz) and returns its tracks and frames; it skips the test without ffmpeg.
func Frames(t testing.TB, seconds int) ([]engine.Track, []*engine.Frame) {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed")
	}
	path := filepath.Join(t.TempDir(), "clip.ts")
	out, err := exec.Command("ffmpeg", "-nostdin", "-v", "error",
		"-f", "lavfi", "-i", "testsrc=size=320x240:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", strconv.Itoa(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "30",
		"-c:a", "aac", "-b:a", "64k", "-f", "mpegts", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := &mcmpegts.Reader{R: bufio.NewReader(f)}
	if err := r.Initialize(); err != nil {
		t.Fatal(err)
	}
	var tracks []engine.Track
	var frames []*engine.Frame
	for i, tr := range r.Tracks() {
		switch c := tr.Codec.(type) {
		case *mccodecs.H264:
			tracks = append(tracks, engine.Track{Codec: engine.CodecH264})
			r.OnDataH264(tr, func(pts, dts int64, au [][]byte) error {
				frames = append(frames, &engine.Frame{Track: i, PTS: pts, DTS: dts, Key: h264.IsRandomAccess(au), Data: au})
				return nil
			})
		case *mccodecs.MPEG4Audio:
			asc, err := c.Config.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			tracks = append(tracks, engine.Track{Codec: engine.CodecAAC, Config: asc})
			rate := int64(c.Config.SampleRate)
			r.OnDataMPEG4Audio(tr, func(pts int64, aus [][]byte) error {
				for k, au := range aus {
					ts := pts + int64(k)*1024*engine.Timescale/rate
					frames = append(frames, &engine.Frame{Track: i, PTS: ts, DTS: ts, Key: true, Data: [][]byte{au}})
				}
				return nil
			})
		default:
			t.Fatalf("unexpected codec %T", c)
		}
	}
	for {
		err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(frames) == 0 {
		t.Fatal("no frames in clip")
	}
	return tracks, frames
}
