package testsrc

import (
	"strings"
	"testing"

	"github.com/livedge/livedge/engine"
)

func TestParseURL(t *testing.T) {
	def := params{width: 640, height: 360, fps: 25, gop: 2, bitrate: 1_000_000, audio: true}
	for _, tc := range []struct {
		url  string
		want params
	}{
		{"testsrc://", def},
		{"testsrc:///", def},
		{"testsrc://?", def},
		{"TESTSRC://?bitrate=1000k&gop=2&size=640x360&fps=25", def},
		{"testsrc://?bitrate=20M&gop=1&size=320x176", params{320, 176, 25, 1, 20_000_000, true}},
		{"testsrc://?bitrate=300k", params{640, 360, 25, 2, 300_000, true}},
		{"testsrc://?bitrate=1.5M&gop=0.5&size=64x64&fps=60&audio=0", params{64, 64, 60, 0.5, 1_500_000, false}},
		{"testsrc://?bitrate=50000&gop=10&size=1920x1080&fps=1&audio=1", params{1920, 1080, 1, 10, 50_000, true}},
		{"testsrc://?bitrate=50M&size=1080x1920", params{1080, 1920, 25, 2, 50_000_000, true}},
		{"testsrc://?bitrate=800K&audio=false", params{640, 360, 25, 2, 800_000, false}},
	} {
		got, err := parseURL(tc.url)
		if err != nil {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.url, got, tc.want)
		}
	}
}

func TestParseURLErrors(t *testing.T) {
	for _, url := range []string{
		"", "udp://1.2.3.4:5", "testsrc:opaque", "testsrc://host/?fps=25", "testsrc:///path", "testsrc://?fps=25#frag",
		"testsrc://user@/", "testsrc://?foo=1", "testsrc://?fps=25&fps=30", "testsrc://?fps", "testsrc://?%zz",
		"testsrc://?bitrate=49k", "testsrc://?bitrate=51M", "testsrc://?bitrate=1e6", "testsrc://?bitrate=-1M",
		"testsrc://?bitrate=Inf", "testsrc://?bitrate=NaN", "testsrc://?bitrate=1.2.3M", "testsrc://?bitrate=.",
		"testsrc://?bitrate=1000m", "testsrc://?bitrate=k", "testsrc://?bitrate=0x10M",
		"testsrc://?gop=0.4", "testsrc://?gop=10.5", "testsrc://?gop=", "testsrc://?gop=1s",
		"testsrc://?fps=0", "testsrc://?fps=61", "testsrc://?fps=25.0", "testsrc://?fps=+25", "testsrc://?fps=99999999999999",
		"testsrc://?size=640", "testsrc://?size=640x", "testsrc://?size=x360", "testsrc://?size=641x360",
		"testsrc://?size=640x361", "testsrc://?size=62x64", "testsrc://?size=1922x64", "testsrc://?size=1920x1082",
		"testsrc://?size=1442x1440", "testsrc://?size=640X360", "testsrc://?size=640x360x2",
		"testsrc://?audio=2", "testsrc://?audio=", "testsrc://?audio=yes",
	} {
		if p, err := parseURL(url); err == nil {
			t.Errorf("%q: accepted as %+v", url, p)
		}
	}
}

func TestOpenError(t *testing.T) {
	_, err := Open(engine.InputConfig{URL: "testsrc://?fps=100"})
	if err == nil || !strings.Contains(err.Error(), "fps") {
		t.Fatalf("err = %v, want one naming fps", err)
	}
}

func TestGOPFrames(t *testing.T) {
	for _, tc := range []struct {
		gop       float64
		fps, want int
	}{{2, 25, 50}, {0.5, 25, 13}, {0.5, 1, 1}, {10, 60, 600}, {1.5, 1, 2}} {
		if got := (params{gop: tc.gop, fps: tc.fps}).gopFrames(); got != tc.want {
			t.Errorf("gop %g at %d fps: %d frames, want %d", tc.gop, tc.fps, got, tc.want)
		}
	}
}

// FuzzParseURL checks that any URL is either refused or gives parameters
// within bounds.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"testsrc://", "testsrc://?bitrate=1000k&gop=2&size=640x360&fps=25&audio=0",
		"testsrc://?bitrate=1.5M", "testsrc://?size=1920x1080", "testsrc://?gop=0.5&fps=60",
		"testsrc://?%zz", "testsrc://h/p?q#f",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, url string) {
		p, err := parseURL(url)
		if err != nil {
			return
		}
		if p.width < minSide || p.width > maxSide || p.height < minSide || p.height > maxSide ||
			p.width%2 != 0 || p.height%2 != 0 || p.width*p.height > maxArea ||
			p.fps < minFPS || p.fps > maxFPS || !(p.gop >= minGOP && p.gop <= maxGOP) ||
			p.bitrate < minBitrate || p.bitrate > maxBitrate {
			t.Fatalf("%q: out of bounds %+v", url, p)
		}
		if n := p.gopFrames(); n < 1 || n > maxFPS*maxGOP {
			t.Fatalf("%q: %d frames per GOP", url, n)
		}
	})
}
