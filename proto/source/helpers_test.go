package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/livedge/livedge/engine"
)

// recordSink counts what a source delivers; the source calls it from its
// own goroutine.
type recordSink struct {
	mu        sync.Mutex
	setTracks int
	tracks    []engine.Track
	video     int
	audio     int
	firstKey  bool // the first video frame was a keyframe
}

func (s *recordSink) SetTracks(tracks []engine.Track) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setTracks++
	s.tracks = tracks
}

func (s *recordSink) WriteFrame(f *engine.Frame) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Track < 0 || f.Track >= len(s.tracks) {
		return
	}
	if s.tracks[f.Track].Codec.IsVideo() {
		if s.video == 0 {
			s.firstKey = f.Key
		}
		s.video++
	} else {
		s.audio++
	}
}

type sinkCounts struct {
	setTracks, video, audio int
	codecs                  []engine.Codec
	firstKey                bool
}

func (s *recordSink) counts() sinkCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := sinkCounts{setTracks: s.setTracks, video: s.video, audio: s.audio, firstKey: s.firstKey}
	for _, t := range s.tracks {
		c.codecs = append(c.codecs, t.Codec)
	}
	return c
}

// waitFor polls cond until it holds or timeout (a failure guard) passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cond()
}

// runSource runs src in the background; the returned function cancels it
// and returns Run's error.
func runSource(t *testing.T, src engine.Source, sink engine.Sink) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, sink) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				err = errors.New("Run did not return after cancel")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

func needFFmpeg(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed")
	}
	return path
}

// testClip makes an H.264 + AAC clip of the given length (25 fps, GOP 1 s).
func testClip(t *testing.T, seconds string) string {
	t.Helper()
	ffmpeg := needFFmpeg(t)
	out := filepath.Join(t.TempDir(), "clip.ts")
	cmd := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", "-f", "lavfi", "-i", "sine",
		"-t", seconds, "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "25", "-c:a", "aac", "-f", "mpegts", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, msg)
	}
	return out
}

// sendFFmpeg has ffmpeg send a clip to an output URL.
func sendFFmpeg(t *testing.T, clip, output string) {
	t.Helper()
	cmd := exec.Command(needFFmpeg(t), "-hide_banner", "-loglevel", "error", "-i", clip, "-c", "copy", "-f", "mpegts", output)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg send: %v: %s", err, msg)
	}
}

// waitBound waits until a UDP socket is bound to port, so that datagrams
// sent next find it (a failure guard, not a timing assumption).
func waitBound(port int) {
	hexPort := fmt.Sprintf(":%04X ", port)
	waitFor(5*time.Second, func() bool {
		b, err := os.ReadFile("/proc/net/udp")
		return err != nil || bytes.Contains(b, []byte(hexPort))
	})
}

// waitJoined waits until some socket joined the multicast group (IPv4,
// written as in /proc/net/igmp: hex, little endian).
func waitJoined(group [4]byte) {
	hexGroup := fmt.Sprintf("%02X%02X%02X%02X", group[3], group[2], group[1], group[0])
	waitFor(5*time.Second, func() bool {
		b, err := os.ReadFile("/proc/net/igmp")
		return err != nil || bytes.Contains(b, []byte(hexGroup))
	})
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

func writeTemp(t *testing.T, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "synth.ts")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
