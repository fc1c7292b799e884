package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	binPath string // the livedge binary under test
	// clipPath is a 90 s H.264 + AAC MPEG-TS clip made by ffmpeg: longer than
	// any test plays it, because `ffmpeg -stream_loop` splices the loop with
	// overlapping timestamps that strict decoders then complain about.
	clipPath string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "livedge-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		binPath = os.Getenv("LIVEDGE_BIN")
		if binPath == "" {
			binPath = filepath.Join(dir, "livedge")
			build := exec.Command("go", "build", "-o", binPath, "github.com/livedge/livedge/appliance/cmd/livedge")
			build.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := build.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "build livedge: %v\n%s", err, out)
				return 1
			}
		}
		if _, err := exec.LookPath("ffmpeg"); err == nil {
			clipPath = filepath.Join(dir, "clip.ts")
			gen := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=25",
				"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "90",
				"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "25", "-bf", "0",
				"-c:a", "aac", "-b:a", "64k", "-f", "mpegts", clipPath)
			if out, err := gen.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "make clip: %v\n%s", err, out)
				return 1
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

func needFFmpeg(t *testing.T) {
	t.Helper()
	if clipPath == "" {
		t.Skip("ffmpeg not installed (make test installs it)")
	}
}

// freePort returns a TCP port on 127.0.0.1 nobody listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// freeUDPPort returns a UDP port on 127.0.0.1 nobody uses right now.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// server is a running livedge process.
type server struct {
	t    *testing.T
	cmd  *exec.Cmd
	base string // http://127.0.0.1:PORT
	conf string
	log  *syncBuffer
	done chan error
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startServer writes conf (with "http PORT;" prepended) and starts livedge
// on it, waiting until it accepts connections.
func startServer(t *testing.T, conf string) *server {
	t.Helper()
	port := freePort(t)
	path := filepath.Join(t.TempDir(), "livedge.conf")
	if err := os.WriteFile(path, []byte(fmt.Sprintf("http 127.0.0.1:%d;\n%s", port, conf)), 0o644); err != nil {
		t.Fatal(err)
	}
	return startServerFile(t, path, fmt.Sprintf("http://127.0.0.1:%d", port))
}

// cleanEnv drops STREAMER_* so the developer's environment cannot change a test.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "STREAMER_") {
			env = append(env, kv)
		}
	}
	return env
}

func (s *server) stop() {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// get fetches a URL of the server.
func (s *server) get(path string) (int, []byte, http.Header) {
	s.t.Helper()
	client := &http.Client{Timeout: 15 * time.Second}
	resp, err := client.Get(s.base + path)
	if err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body, resp.Header
}

// streamStats reads the stream's status from the API.
func (s *server) streamStats(name string) map[string]any {
	s.t.Helper()
	st, err := s.tryStats(name)
	if err != nil {
		s.t.Fatal(err)
	}
	return st
}

// tryStats reads the stream's status, or says why it could not.
func (s *server) tryStats(name string) (map[string]any, error) {
	code, body, _ := s.get("/streamer/api/v3/streams/" + name)
	if code != http.StatusOK {
		return nil, fmt.Errorf("stream %s status: %d %s", name, code, body)
	}
	var v struct {
		Stats map[string]any `json:"stats"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, fmt.Errorf("stream %s status: %v: %s", name, err, body)
	}
	return v.Stats, nil
}

// startFFmpeg runs ffmpeg with args until the test ends.
func startFFmpeg(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("ffmpeg", append([]string{"-nostdin", "-v", "error"}, args...)...)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

// publishUDP loops the clip in real time to a UDP URL.
func publishUDP(t *testing.T, url string) *exec.Cmd {
	return startFFmpeg(t, "-re", "-stream_loop", "-1", "-i", clipPath, "-c", "copy", "-f", "mpegts", url)
}

// probeCodecs runs ffprobe on a URL and returns the codec names it found.
func probeCodecs(t *testing.T, url string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-show_entries", "stream=codec_name",
		"-of", "csv=p=0", url).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", url, err, out)
	}
	var codecs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			codecs = append(codecs, strings.TrimSuffix(line, ","))
		}
	}
	return codecs
}

func wantCodecs(t *testing.T, url string, want ...string) {
	t.Helper()
	got := probeCodecs(t, url)
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			t.Fatalf("ffprobe %s: codecs %v, want %v", url, got, want)
		}
	}
}

// decodeClean decodes 10 s of a URL with ffmpeg and fails on any decoder
// error, warning about timestamps, or missing media.
func decodeClean(t *testing.T, url string, seconds int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds+40)*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffmpeg", "-nostdin", "-v", "warning", "-i", url,
		"-t", fmt.Sprint(seconds), "-f", "null", "-")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg decode %s: %v\n%s", url, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		l := strings.ToLower(line)
		if strings.Contains(l, "error") || strings.Contains(l, "non-monoton") || strings.Contains(l, "corrupt") ||
			strings.Contains(l, "invalid") || strings.Contains(l, "discontinuity") {
			t.Fatalf("ffmpeg decode %s reported problems:\n%s", url, out)
		}
	}
}

// checkMonotonic reads packets of a URL with ffprobe and fails when a
// stream's DTS goes backwards.
func checkMonotonic(t *testing.T, url string, seconds int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds+40)*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-read_intervals", fmt.Sprintf("%%+%d", seconds),
		"-show_entries", "packet=stream_index,dts", "-of", "csv=p=0", url).Output()
	if err != nil {
		t.Fatalf("ffprobe packets %s: %v", url, err)
	}
	last := map[string]int64{}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, ",")
		if len(f) < 2 || f[1] == "N/A" {
			continue
		}
		var dts int64
		if _, err := fmt.Sscan(f[1], &dts); err != nil {
			continue
		}
		if prev, ok := last[f[0]]; ok && dts < prev {
			t.Fatalf("%s: stream %s DTS went back from %d to %d", url, f[0], prev, dts)
		}
		last[f[0]] = dts
		n++
	}
	if n < 10 || len(last) < 2 {
		t.Fatalf("%s: only %d packets in %d streams", url, n, len(last))
	}
}
