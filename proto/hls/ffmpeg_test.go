package hls

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livedge/livedge/engine"
	"github.com/livedge/livedge/proto/internal/tsclip"
	"github.com/livedge/livedge/proto/mpegts"
)

// TestFFmpegPlaysSegments runs a real clip through chunker and segmenter,
// writes the playlist and segments to disk and has ffprobe and ffmpeg read
// them without a single error.
func TestFFmpegPlaysSegments(t *testing.T) {
	tracks, frames := tsclip.Frames(t, 6)
	testClockDTS = 0
	c := mpegts.NewChunker(mpegts.ChunkerOptions{Now: testNow})
	p := New(c, time.Second, 20)
	c.SetTracks(tracks)
	broken := false
	for _, f := range frames {
		if !broken && tracks[f.Track].Codec.IsVideo() && f.DTS >= frames[0].DTS+5*engine.Timescale/2 {
			c.Discontinuity() // an input switch mid-GOP: players must cope
			broken = true
		}
		testClockDTS = f.DTS
		c.WriteFrame(f)
	}
	pl, ok := p.Playlist()
	if !ok {
		t.Fatal("no playlist")
	}
	dir := t.TempDir()
	segments := 0
	for _, line := range strings.Split(string(pl), "\n") {
		if !strings.HasSuffix(line, ".ts") {
			continue
		}
		body, ok := p.Segment(line)
		if !ok {
			t.Fatalf("segment %s listed but not found", line)
		}
		path := filepath.Join(dir, filepath.FromSlash(line))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, bytes.Join(body, nil), 0o644); err != nil {
			t.Fatal(err)
		}
		segments++
	}
	if segments < 4 {
		t.Fatalf("%d segments:\n%s", segments, pl)
	}
	// A closed copy of the live playlist, so ffmpeg reads it through instead
	// of waiting for new segments.
	playlist := filepath.Join(dir, "index.m3u8")
	if err := os.WriteFile(playlist, append(bytes.Clone(pl), "#EXT-X-ENDLIST\n"...), 0o644); err != nil {
		t.Fatal(err)
	}

	out, err := exec.Command("ffprobe", "-v", "error", "-count_packets", "-select_streams", "v:0",
		"-show_entries", "stream=codec_name,nb_read_packets", "-of", "csv=p=0", playlist).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	// 1 s GOPs at 30 fps; the discontinuity costs at most the GOP it cut.
	fields := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := fields[len(fields)-1]
	n, _ := strconv.Atoi(strings.TrimPrefix(last, "h264,"))
	if !strings.HasPrefix(last, "h264,") || n < 30*(segments-1) {
		t.Fatalf("ffprobe: %q for %d segments\n%s", out, segments, pl)
	}
	out, err = exec.Command("ffmpeg", "-nostdin", "-v", "error", "-i", playlist, "-f", "null", "-").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("ffmpeg: %v\n%s\nplaylist:\n%s", err, out, pl)
	}
}
