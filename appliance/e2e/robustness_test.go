package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// waitUntil polls cond until it holds, failing after guard.
func waitUntil(t *testing.T, guard time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > guard {
			t.Fatalf("timed out after %s waiting for %s", guard, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start)
}

// tsViewer reads /NAME/mpegts continuously and counts bytes.
type tsViewer struct {
	conn  net.Conn
	bytes atomic.Int64
	first []byte
}

// openTSViewer connects a viewer; rcvbuf > 0 shrinks its socket buffer (a
// viewer on a slow link) and read=false makes it stop reading after the
// response header.
func openTSViewer(t *testing.T, s *server, name string, rcvbuf int, read bool) *tsViewer {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		if rcvbuf > 0 {
			return c.Control(func(fd uintptr) {
				_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			})
		}
		return nil
	}}
	conn, err := d.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "GET /%s/mpegts HTTP/1.1\r\nHost: x\r\n\r\n", name)
	br := bufio.NewReader(conn)
	_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("viewer: %v", err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("viewer: status %d", resp.StatusCode)
	}
	v := &tsViewer{conn: conn, first: make([]byte, 188)}
	if _, err := io.ReadFull(br, v.first); err != nil {
		t.Fatalf("viewer first packet: %v", err)
	}
	_ = conn.SetReadDeadline(time.Time{})
	if read {
		go func() {
			buf := make([]byte, 64<<10)
			for {
				n, err := br.Read(buf)
				v.bytes.Add(int64(n))
				if err != nil {
					return
				}
			}
		}()
	}
	return v
}

func TestSlowViewerDoesNotDelayOthers(t *testing.T) {
	t.Parallel()
	// A high bitrate fills a stalled viewer's socket buffers in seconds.
	s := startServer(t, "stream fast { input testsrc://?bitrate=20M&gop=1&size=320x176; static; }\n")
	var viewers []*tsViewer
	for i := 0; i < 19; i++ {
		viewers = append(viewers, openTSViewer(t, s, "fast", 0, true))
	}
	slow := openTSViewer(t, s, "fast", 4096, false)
	if slow.first[0] != 0x47 {
		t.Fatalf("stream does not start with a TS packet: % x", slow.first[:4])
	}
	stats := func() map[string]any { return s.streamStats("fast") }
	// The stalled viewer is resynced or dropped and counted...
	waitUntil(t, 60*time.Second, "a resync or drop of the stalled viewer", func() bool {
		st := stats()
		return st["resyncs"].(float64)+st["dropped_clients"].(float64) > 0
	})
	// ...while the others keep getting bytes.
	for round := 0; round < 3; round++ {
		before := make([]int64, len(viewers))
		for i, v := range viewers {
			before[i] = v.bytes.Load()
		}
		time.Sleep(time.Second)
		for i, v := range viewers {
			if v.bytes.Load() == before[i] {
				t.Fatalf("viewer %d got no bytes for a second while one viewer stalled", i)
			}
		}
	}
}

func TestInputFailover(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	p1, p2 := freeUDPPort(t), freeUDPPort(t)
	first := publishUDP(t, fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", p1))
	publishUDP(t, fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", p2))
	s := startServer(t, fmt.Sprintf(`stream fo {
  input udp://127.0.0.1:%d source_timeout=2;
  input udp://127.0.0.1:%d;
  static;
}
`, p1, p2))
	v := openTSViewer(t, s, "fo", 0, true)
	waitUntil(t, 10*time.Second, "first input alive", func() bool {
		st := s.streamStats("fo")
		return st["alive"] == true && st["input_index"].(float64) == 0
	})
	_ = first.Process.Kill()
	killed := time.Now()
	took := waitUntil(t, 20*time.Second, "failover to the second input", func() bool {
		return s.streamStats("fo")["input_index"].(float64) == 1
	})
	atSwitch := v.bytes.Load()
	waitUntil(t, 10*time.Second, "viewer bytes from the second input", func() bool { return v.bytes.Load() > atSwitch+10000 })
	t.Logf("failover after %s, viewer receiving again %s after the first input died", took.Round(time.Millisecond), time.Since(killed).Round(time.Millisecond))
	decodeClean(t, s.base+"/fo/mpegts", 3)
}

func TestJunkInputRecovers(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	port := freeUDPPort(t)
	s := startServer(t, fmt.Sprintf("stream junk { input udp://127.0.0.1:%d; static; }\nstream other { input testsrc://?bitrate=300k; static; }\n", port))
	conn, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rng := rand.New(rand.NewSource(1))
	buf := make([]byte, 1316)
	for i := 0; i < 3000; i++ {
		rng.Read(buf)
		if i%3 == 0 {
			buf[0] = 0x47 // looks like TS, is not
		}
		_, _ = conn.Write(buf)
		if i%100 == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if st := s.streamStats("junk"); st["alive"] == true {
		t.Fatalf("junk made the stream alive: %v", st)
	}
	publishUDP(t, fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", port))
	waitUntil(t, 20*time.Second, "recovery on good data", func() bool { return s.streamStats("junk")["alive"] == true })
	wantCodecs(t, s.base+"/junk/mpegts", "h264", "aac")
	if st := s.streamStats("other"); st["alive"] != true {
		t.Fatalf("other stream hurt: %v", st)
	}
}

// rawHTTP sends raw bytes and returns the status line and whether the server
// closed the connection afterwards.
func rawHTTP(t *testing.T, s *server, req string) (status string, body string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("response to %q: %v", req[:min(len(req), 40)], err)
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.Status, string(b)
}

func TestHTTPErrors(t *testing.T) {
	t.Parallel()
	s := startServer(t, "stream demo { input testsrc://; }\n")
	cases := []struct{ req, status string }{
		{"GARBAGE\r\n\r\n", "400"},
		{"GET /demo/index.m3u8 HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 17<<10) + "\r\n\r\n", "431"},
		{"DELETE /demo/index.m3u8 HTTP/1.1\r\nHost: x\r\n\r\n", "405"},
		{"BREW /demo/index.m3u8 HTTP/1.1\r\nHost: x\r\n\r\n", "405"},
		{"GET /nope/index.m3u8 HTTP/1.1\r\nHost: x\r\n\r\n", "404"},
		{"GET /nope/mpegts HTTP/1.1\r\nHost: x\r\n\r\n", "404"},
	}
	for _, c := range cases {
		status, body := rawHTTP(t, s, c.req)
		if !strings.HasPrefix(status, c.status) {
			t.Errorf("%.30q: status %q, want %s", c.req, status, c.status)
		}
		var v struct {
			Errors []struct{ Status, Code, Title string } `json:"errors"`
		}
		if err := json.Unmarshal([]byte(body), &v); err != nil || len(v.Errors) == 0 || v.Errors[0].Status != c.status {
			t.Errorf("%.30q: body %q is not a JSON error with status %s", c.req, body, c.status)
		}
	}
}

func TestConfigCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.conf")
	bad := filepath.Join(dir, "bad.conf")
	os.WriteFile(good, []byte("http 8080;\nstream a { input testsrc://; static; }\n"), 0o644)
	os.WriteFile(bad, []byte("http 8080;\nstream a {\n  input testsrc://;\n  bogus 1;\n}\n"), 0o644)
	if out, err := exec.Command(binPath, "-t", "-c", good).CombinedOutput(); err != nil {
		t.Fatalf("good config: %v %s", err, out)
	}
	out, err := exec.Command(binPath, "-t", "-c", bad).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("bad config: exit %v, want 1", err)
	}
	if !strings.HasPrefix(string(out), bad+":4:3: ") {
		t.Fatalf("bad config: %q, want %s:4:3: ...", out, bad)
	}
	// A broken config at start exits non-zero with the location too.
	cmd := exec.Command(binPath, "-c", bad)
	out, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "bad.conf:4:3") {
		t.Fatalf("start with bad config: %v %s", err, out)
	}
}

func TestReloadAndShutdown(t *testing.T) {
	t.Parallel()
	s := startServer(t, "stream a { input testsrc://?bitrate=300k; static; }\n")
	waitUntil(t, 10*time.Second, "a alive", func() bool { return s.streamStats("a")["alive"] == true })
	lifetime := s.streamStats("a")["lifetime"].(float64)
	port := strings.TrimPrefix(s.base, "http://127.0.0.1:")
	write := func(conf string) {
		if err := os.WriteFile(s.conf, []byte("http 127.0.0.1:"+port+";\n"+conf), 0o644); err != nil {
			t.Fatal(err)
		}
		_ = s.cmd.Process.Signal(syscall.SIGHUP)
	}
	write("stream a { input testsrc://?bitrate=300k; static; }\nstream b { input testsrc://; static\n")
	waitUntil(t, 10*time.Second, "reload refusal in the log", func() bool {
		return strings.Contains(s.log.String(), "config reload refused") && strings.Contains(s.log.String(), "livedge.conf:")
	})
	write("stream a { input testsrc://?bitrate=300k; static; }\nstream b { input testsrc://?bitrate=300k; static; }\n")
	waitUntil(t, 10*time.Second, "b started by reload", func() bool {
		st, err := s.tryStats("b")
		return err == nil && st["alive"] == true
	})
	if now := s.streamStats("a")["lifetime"].(float64); now < lifetime {
		t.Fatalf("unchanged stream a restarted on reload (lifetime %v -> %v)", lifetime, now)
	}
	v := openTSViewer(t, s, "a", 0, true)
	_ = v
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
		s.done <- nil
	case <-ctx.Done():
		t.Fatal("no exit after SIGTERM")
	}
}
