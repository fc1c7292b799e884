package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// browserDir holds the Playwright script and its pinned playwright-core
// (npm ci --prefix appliance/e2e/browser, done by make test-deps).
const browserDir = "browser"

// playResult is what browser/play.mjs prints as its first line.
type playResult struct {
	OK          bool         `json:"ok"`
	Reason      string       `json:"reason"`
	CurrentTime float64      `json:"currentTime"`
	Played      float64      `json:"played"` // seconds actually played
	VideoWidth  int          `json:"videoWidth"`
	VideoHeight int          `json:"videoHeight"`
	MediaError  string       `json:"mediaError"`
	Player      string       `json:"player"` // "hls.js" or "native"
	UserAgent   string       `json:"userAgent"`
	MSEH264AAC  bool         `json:"mseH264AAC"`
	Buffered    [][2]float64 `json:"buffered"`
}

// chromiumPath is the browser the test drives: Debian's chromium package.
func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

func needBrowser(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath()); err != nil {
		t.Skipf("chromium not installed at %s (make test installs the Debian package chromium)", chromiumPath())
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not installed (make test needs node and npm)")
	}
	if _, err := os.Stat(filepath.Join(browserDir, "node_modules", "playwright-core", "package.json")); err != nil {
		t.Skip("playwright-core not installed (make test runs npm ci --prefix appliance/e2e/browser)")
	}
}

// TestEmbedPlaysInChromium opens /NAME/embed.html in headless Chromium and
// checks that the <video> plays past 5 s with a decoded picture, and that
// the screenshot shows the test source's colour bars. It runs alone (not
// parallel): a browser decoding video in real time wants the CPU.
func TestEmbedPlaysInChromium(t *testing.T) {
	needBrowser(t)
	s := startServer(t, "stream clock { input testsrc://?size=640x360&gop=1&bitrate=800k; static; }\n")
	url := s.base + "/clock/embed.html"

	// A viewer who opens the page while the stream is still starting: the
	// playlist is held until the first segment, then has one segment only.
	t.Run("cold", func(t *testing.T) { playInChromium(t, url) })

	// A viewer of a channel that has been running: a full live window.
	waitSegments(t, s, "clock", 3)
	t.Run("warm", func(t *testing.T) { playInChromium(t, url) })
}

func playInChromium(t *testing.T, url string) {
	t.Helper()
	shot := filepath.Join(t.TempDir(), "embed.png")
	if dir := os.Getenv("LIVEDGE_SCREENSHOTS"); dir != "" {
		shot = filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+".png")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "play.mjs", url, shot, "5", "60")
	cmd.Dir = browserDir
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromiumPath())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()

	first, rest, _ := strings.Cut(out.String(), "\n")
	var res playResult
	if err := json.Unmarshal([]byte(first), &res); err != nil {
		t.Fatalf("play.mjs: %v (run: %v)\n%s", err, runErr, out.String())
	}
	if runErr != nil || !res.OK {
		t.Fatalf("embed.html did not play: %s\nplayer %s, currentTime %.2f, played %.2f s, video %dx%d, media error %q, buffered %v\nbrowser log:\n%s",
			res.Reason, res.Player, res.CurrentTime, res.Played, res.VideoWidth, res.VideoHeight, res.MediaError, res.Buffered, rest)
	}
	if res.CurrentTime <= 5 || res.Played <= 5 || res.VideoWidth <= 0 {
		t.Fatalf("currentTime %.2f, played %.2f s, videoWidth %d: want > 5 s played and a picture",
			res.CurrentTime, res.Played, res.VideoWidth)
	}
	if err := checkColourBars(shot); err != nil {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
	t.Logf("played %.1f s (currentTime %.1f) of %dx%d with %s in %s", res.Played, res.CurrentTime, res.VideoWidth, res.VideoHeight, res.Player, res.UserAgent)
}

// waitSegments waits until the stream's playlist lists n segments.
func waitSegments(t *testing.T, s *server, name string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body, _ := s.get("/" + name + "/index.m3u8")
		if code == 200 && bytes.Count(body, []byte("#EXTINF:")) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("playlist of %s never reached %d segments: %d\n%s", name, n, code, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkColourBars proves the screenshot shows the test picture rather than
// a black or blank player: the top strip of testsrc's picture is a row of
// saturated colour bars, so sampling across it must find several distinct
// colours.
func checkColourBars(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	b := img.Bounds()
	y := b.Min.Y + b.Dy()/20
	seen := map[int]bool{}
	const samples = 14
	for i := 0; i < samples; i++ {
		x := b.Min.X + (2*i+1)*b.Dx()/(2*samples)
		seen[coarseColour(img, x, y)] = true
	}
	if len(seen) < 5 {
		return fmt.Errorf("top strip has %d distinct colours, want the colour bars (>= 5)", len(seen))
	}
	return nil
}

// coarseColour reduces a pixel to 3 bits: which channels are bright.
func coarseColour(img image.Image, x, y int) int {
	r, g, b, _ := img.At(x, y).RGBA() // 16-bit
	c := 0
	for i, v := range []uint32{r, g, b} {
		if v > 0x8000 {
			c |= 1 << i
		}
	}
	return c
}
