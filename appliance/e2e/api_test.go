package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

const api = "/streamer/api/v3"

// call sends an API request; auth is "user:pass" for Basic, or "".
func (s *server) call(method, path, body, auth string) (int, []byte, http.Header) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if user, pass, ok := strings.Cut(auth, ":"); ok {
		req.SetBasicAuth(user, pass)
	}
	if strings.HasPrefix(body, "{") {
		req.Header.Set("Content-Type", "application/json")
	} else if body != "" {
		req.Header.Set("Content-Type", "text/plain")
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// mustCall is call that fails the test unless the status is want.
func (s *server) mustCall(want int, method, path, body, auth string) []byte {
	s.t.Helper()
	code, b, _ := s.call(method, path, body, auth)
	if code != want {
		s.t.Fatalf("%s %s: %d %s, want %d", method, path, code, b, want)
	}
	return b
}

// apiError is the first JSON:API error of an answer.
type apiError struct {
	Status string `json:"status"`
	Code   string `json:"code"`
	Title  string `json:"title"`
	Source struct {
		Pointer   *string `json:"pointer"`
		Parameter string  `json:"parameter"`
	} `json:"source"`
	Meta map[string]any `json:"meta"`
}

func firstAPIError(t *testing.T, body []byte) apiError {
	t.Helper()
	var doc struct{ Errors []apiError }
	if err := json.Unmarshal(body, &doc); err != nil || len(doc.Errors) == 0 {
		t.Fatalf("not a JSON:API error: %s", body)
	}
	return doc.Errors[0]
}

type streamDoc struct {
	Name            string `json:"name"`
	Inputs          []struct{ URL string }
	Static          bool           `json:"static"`
	SegmentCount    int            `json:"segment_count"`
	SegmentDuration int            `json:"segment_duration"`
	NamedBy         string         `json:"named_by"`
	Stats           map[string]any `json:"stats"`
}

func (s *server) stream(name string) streamDoc {
	s.t.Helper()
	var d streamDoc
	if err := json.Unmarshal(s.mustCall(200, "GET", api+"/streams/"+name, "", ""), &d); err != nil {
		s.t.Fatal(err)
	}
	return d
}

func lifetime(d streamDoc) float64 {
	v, _ := d.Stats["lifetime"].(float64)
	return v
}

// A stream made by PUT plays; a partial PUT restarts only it; null removes
// a field, $reset replaces the stream, DELETE removes it; the file follows.
func TestAPIStreamLifecycle(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	s := startServer(t, "stream other { input testsrc://?bitrate=200k&size=160x96; static; }\n")
	body := s.mustCall(200, "PUT", api+"/streams/cam",
		`{"inputs":[{"url":"testsrc://?bitrate=300k&size=320x176"}],"static":true,"segment_count":4}`, "")
	var saved streamDoc
	if err := json.Unmarshal(body, &saved); err != nil || saved.Name != "cam" || !saved.Static || saved.SegmentCount != 4 {
		t.Fatalf("PUT answer: %s", body)
	}
	wantCodecs(t, s.base+"/cam/mpegts", "h264")
	conf, _ := os.ReadFile(s.conf)
	if !strings.Contains(string(conf), "stream cam {") {
		t.Fatalf("new stream not saved:\n%s", conf)
	}

	waitUntil(t, 10*time.Second, "both streams alive", func() bool {
		return s.stream("cam").Stats["alive"] == true && s.stream("other").Stats["alive"] == true
	})
	camBefore, otherBefore := lifetime(s.stream("cam")), lifetime(s.stream("other"))
	newURL := "testsrc://?bitrate=250k&size=320x176"
	s.mustCall(200, "PUT", api+"/streams/cam", `{"inputs":[{"url":"`+newURL+`"}]}`, "")
	cam, other := s.stream("cam"), s.stream("other")
	if cam.Inputs[0].URL != newURL || !cam.Static || cam.SegmentCount != 4 {
		t.Fatalf("partial PUT did not merge: %+v", cam)
	}
	if lifetime(cam) >= camBefore {
		t.Fatalf("cam did not restart on its input change (lifetime %v -> %v)", camBefore, lifetime(cam))
	}
	if lifetime(other) <= otherBefore {
		t.Fatalf("other restarted on cam's change (lifetime %v -> %v)", otherBefore, lifetime(other))
	}
	waitUntil(t, 10*time.Second, "cam alive on the new input", func() bool {
		st := s.stream("cam").Stats
		return st["alive"] == true && st["input"] == newURL
	})

	s.mustCall(200, "PUT", api+"/streams/cam", `{"segment_count":null}`, "")
	if cam := s.stream("cam"); cam.SegmentCount != 0 || !cam.Static {
		t.Fatalf("null did not remove segment_count: %+v", cam)
	}
	s.mustCall(200, "PUT", api+"/streams/cam", `{"$reset":true,"inputs":[{"url":"testsrc://?bitrate=200k"}],"segment_duration":3000}`, "")
	if cam := s.stream("cam"); cam.Static || cam.SegmentDuration != 3000 || len(cam.Inputs) != 1 {
		t.Fatalf("$reset did not replace the stream: %+v", cam)
	}

	// A change that fails validation changes nothing.
	before, _ := os.ReadFile(s.conf)
	code, body, _ := s.call("PUT", api+"/streams/cam", `{"inputs":[{"url":"bogus://x"}]}`, "")
	if e := firstAPIError(t, body); code != 400 || e.Status != "400" || e.Code != "bad_url" || e.Source.Pointer == nil || *e.Source.Pointer != "/inputs/0/url" {
		t.Fatalf("bad input URL: %d %s", code, body)
	}
	code, body, _ = s.call("PUT", api+"/streams/cam", `{"inputs":null}`, "")
	if e := firstAPIError(t, body); code != 400 || e.Code != "missing" || *e.Source.Pointer != "/inputs" {
		t.Fatalf("stream without inputs: %d %s", code, body)
	}
	if after, _ := os.ReadFile(s.conf); !bytes.Equal(before, after) {
		t.Fatalf("refused change touched the file:\n%s", after)
	}

	s.mustCall(204, "DELETE", api+"/streams/cam", "", "")
	code, body, _ = s.call("GET", api+"/streams/cam", "", "")
	if code != 404 || firstAPIError(t, body).Code != "stream_not_found" {
		t.Fatalf("deleted stream: %d %s", code, body)
	}
	s.mustCall(404, "DELETE", api+"/streams/cam", "", "")
	if conf, _ := os.ReadFile(s.conf); strings.Contains(string(conf), "cam") {
		t.Fatalf("deleted stream still in the file:\n%s", conf)
	}
	if bak, err := os.ReadFile(s.conf + ".bak"); err != nil || !strings.Contains(string(bak), "stream cam {") {
		t.Fatalf("no backup of the previous file: %v\n%s", err, bak)
	}
}

func TestAPIStopRestartsStaticStream(t *testing.T) {
	t.Parallel()
	s := startServer(t, "stream a { input testsrc://?bitrate=200k&size=160x96; static; }\n")
	waitUntil(t, 10*time.Second, "a alive", func() bool { return s.stream("a").Stats["alive"] == true })
	before := lifetime(s.stream("a"))
	s.mustCall(204, "POST", api+"/streams/a/stop", "", "")
	if now := s.stream("a"); now.Stats["running"] != true || lifetime(now) >= before {
		t.Fatalf("stop did not restart the static stream: lifetime %v -> %v", before, lifetime(now))
	}
	s.mustCall(404, "POST", api+"/streams/nope/stop", "", "")
}

// 250 streams come back in order, each once, through the cursor.
func TestAPIPagesThroughStreams(t *testing.T) {
	t.Parallel()
	var conf strings.Builder
	var want []string
	for i := range 250 {
		name := fmt.Sprintf("ch%03d", i)
		want = append(want, name)
		// Not static: nothing runs.
		fmt.Fprintf(&conf, "stream %s { input testsrc://?bitrate=100k; }\n", name)
	}
	s := startServer(t, conf.String())
	var got []string
	cursor, pages := "", 0
	for {
		path := api + "/streams?limit=100&select=name,stats.running"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		var page struct {
			Streams []map[string]any `json:"streams"`
			Next    string           `json:"next"`
			Count   int              `json:"estimated_count"`
		}
		if err := json.Unmarshal(s.mustCall(200, "GET", path, "", ""), &page); err != nil {
			t.Fatal(err)
		}
		pages++
		if page.Count != 250 {
			t.Fatalf("estimated_count %d", page.Count)
		}
		for _, st := range page.Streams {
			if len(st) != 2 || st["stats"].(map[string]any)["running"] != false {
				t.Fatalf("select=name,stats.running gave %v", st)
			}
			got = append(got, st["name"].(string))
		}
		if page.Next == "" {
			break
		}
		if pages > 10 {
			t.Fatal("the cursor does not end")
		}
		cursor = page.Next
	}
	if pages != 3 || !slices.Equal(got, want) {
		t.Fatalf("%d pages, %d streams: %v", pages, len(got), got)
	}
	var filtered struct{ Streams []streamDoc }
	if err := json.Unmarshal(s.mustCall(200, "GET", api+"/streams?name=ch007,ch100", "", ""), &filtered); err != nil {
		t.Fatal(err)
	}
	if len(filtered.Streams) != 2 || filtered.Streams[0].Name != "ch007" || filtered.Streams[1].Name != "ch100" {
		t.Fatalf("name filter: %+v", filtered.Streams)
	}
	code, body, _ := s.call("GET", api+"/streams?cursor=garbage", "", "")
	if e := firstAPIError(t, body); code != 400 || e.Source.Parameter != "cursor" {
		t.Fatalf("bad cursor: %d %s", code, body)
	}
}

// POST /config validates only: errors carry line, column and path.
func TestAPIValidatesConfig(t *testing.T) {
	t.Parallel()
	s := startServer(t, "stream a { input testsrc://; }\n")
	before, _ := os.ReadFile(s.conf)
	type answer struct {
		Line, Col int
		Error     string
		Path      []any
	}
	check := func(body string, want answer) {
		t.Helper()
		code, b, _ := s.call("POST", api+"/config", body, "")
		var got answer
		if err := json.Unmarshal(b, &got); err != nil || code != 400 {
			t.Fatalf("POST %q: %d %s", body, code, b)
		}
		if got.Line != want.Line || got.Col != want.Col || got.Error != want.Error || fmt.Sprint(got.Path) != fmt.Sprint(want.Path) {
			t.Fatalf("POST %q: %s, want %+v", body, b, want)
		}
	}
	// Flussonic's documented example.
	check(`http 80; stream mystream { input ""; }`, answer{1, 34, "bad_url", []any{"streams", 0, "inputs", 0, "url"}})
	check("http 80;\nstream s {\n  input testsrc://\n  static;\n}\n", answer{3, 19, "syntax", nil})
	check("{\"streams\": [\n  {\"name\": \"s\", \"inputs\": [{\"url\": \"testsrc://\", \"bad\": 1}]}]}",
		answer{2, 57, "unknown_field", []any{"streams", 0, "inputs", 0, "bad"}})
	check("{\"http\": [\"80\",]}", answer{1, 16, "syntax", nil})

	code, b, _ := s.call("POST", api+"/config", "http 80;\nstream ok { input testsrc://; static; }\n", "")
	var cfg struct {
		HTTP    []string    `json:"http"`
		Streams []streamDoc `json:"streams"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil || code != 200 || cfg.HTTP[0] != "80" || cfg.Streams[0].Name != "ok" || !cfg.Streams[0].Static {
		t.Fatalf("valid config: %d %s", code, b)
	}
	if after, _ := os.ReadFile(s.conf); !bytes.Equal(before, after) {
		t.Fatal("validation changed the config file")
	}
	code, _, _ = s.call("GET", api+"/streams/ok", "", "")
	if code != 404 {
		t.Fatalf("validated stream was applied: %d", code)
	}
}

func TestAPIErrors(t *testing.T) {
	t.Parallel()
	s := startServer(t, "stream a { input testsrc://; }\n")
	code, body, _ := s.call("PUT", api+"/streams/a", "{\"inputs\": [\n  {\"url\": }]}", "")
	e := firstAPIError(t, body)
	if code != 400 || e.Code != "bad_json" || e.Meta["offset"] != float64(23) || e.Meta["line"] != float64(2) {
		t.Fatalf("bad JSON: %d %s", code, body)
	}
	// Refused on its Content-Length, before the body is sent.
	status, errBody := rawHTTP(t, s, fmt.Sprintf("PUT %s/streams/a HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", api, 4<<20+1))
	if !strings.HasPrefix(status, "413") || firstAPIError(t, []byte(errBody)).Status != "413" {
		t.Fatalf("body over 4 MiB: %s %s", status, errBody)
	}
	// A body of 4 MiB is read, and judged on its content.
	big := `{"inputs":[{"url":"testsrc://?x=` + strings.Repeat("a", 4<<20-40) + `"}]}`
	code, body, _ = s.call("PUT", api+"/streams/a", big, "")
	if code != 400 || firstAPIError(t, body).Code != "bad_url" {
		t.Fatalf("4 MiB body: %d %.300s", code, body)
	}
	code, body, _ = s.call("PUT", api+"/streams/a", `{"segment_count":"six"}`, "")
	if e := firstAPIError(t, body); code != 400 || *e.Source.Pointer != "/segment_count" {
		t.Fatalf("wrong type: %d %s", code, body)
	}
	code, body, _ = s.call("GET", api+"/streams?bogus=1", "", "")
	if e := firstAPIError(t, body); code != 400 || e.Source.Parameter != "bogus" {
		t.Fatalf("unknown parameter: %d %s", code, body)
	}
	code, body, _ = s.call("GET", api+"/nothing", "", "")
	if code != 404 || firstAPIError(t, body).Status != "404" {
		t.Fatalf("unknown resource: %d %s", code, body)
	}
	for _, probe := range []string{"/monitoring/liveness", "/monitoring/readiness"} {
		s.mustCall(200, "GET", api+probe, "", "")
	}
	var stats map[string]any
	if err := json.Unmarshal(s.mustCall(200, "GET", api+"/config/stats", "", ""), &stats); err != nil || stats["total_streams"] != float64(1) || stats["streamer_status"] != "running" {
		t.Fatalf("config/stats: %v %v", stats, err)
	}
}

func TestAPIAuth(t *testing.T) {
	t.Parallel()
	s := startServer(t, "edit_auth admin s3cret;\nstream a { input testsrc://; }\n")
	put := `{"inputs":[{"url":"testsrc://"}]}`
	for _, auth := range []string{"", "admin:wrong", "nobody:s3cret"} {
		code, body, hdr := s.call("PUT", api+"/streams/b", put, auth)
		if code != 401 || !strings.Contains(hdr.Get("WWW-Authenticate"), "Basic") || firstAPIError(t, body).Status != "401" {
			t.Fatalf("PUT with %q: %d %s %v", auth, code, body, hdr)
		}
	}
	s.mustCall(401, "DELETE", api+"/streams/a", "", "")
	s.mustCall(401, "PUT", api+"/config", `{}`, "")
	s.mustCall(401, "POST", api+"/streams/a/stop", "", "")
	s.mustCall(200, "PUT", api+"/streams/b", put, "admin:s3cret")
	// Bearer base64(login:password), as Flussonic's tools send it.
	req, _ := http.NewRequest("DELETE", s.base+api+"/streams/b", nil)
	req.Header.Set("Authorization", "Bearer "+base64.StdEncoding.EncodeToString([]byte("admin:s3cret")))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("DELETE with Bearer: %v %v", resp, err)
	}
	resp.Body.Close()
	// Without view_auth, reads are open.
	s.mustCall(200, "GET", api+"/streams", "", "")

	v := startServer(t, "edit_auth admin s3cret;\nview_auth viewer pw;\nstream a { input testsrc://; }\n")
	for _, path := range []string{"/streams", "/streams/a", "/config", "/config/stats", "/sessions"} {
		v.mustCall(401, "GET", api+path, "", "")
		v.mustCall(401, "GET", api+path, "", "viewer:nope")
		v.mustCall(200, "GET", api+path, "", "viewer:pw")
		v.mustCall(200, "GET", api+path, "", "admin:s3cret")
	}
	v.mustCall(401, "PUT", api+"/streams/b", put, "viewer:pw")
	v.mustCall(200, "GET", api+"/monitoring/liveness", "", "")
	// The player does not need API credentials.
	if code, _, _ := v.get("/a/embed.html"); code != 200 {
		t.Fatalf("embed.html under view_auth: %d", code)
	}
}

func TestAPISessions(t *testing.T) {
	t.Parallel()
	s := startServer(t, "stream a { input testsrc://?bitrate=200k&size=160x96; static; }\n")
	waitUntil(t, 10*time.Second, "a alive", func() bool { return s.stream("a").Stats["alive"] == true })
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /a/mpegts HTTP/1.1\r\nHost: x\r\nUser-Agent: e2e-viewer\r\n\r\n")
	go io.Copy(io.Discard, conn)
	type session struct {
		Name, Proto, IP, UserAgent string
		Bytes                      float64
		OpenedAt                   float64 `json:"opened_at"`
	}
	var list struct{ Sessions []session }
	waitUntil(t, 10*time.Second, "the viewer's session with bytes", func() bool {
		if err := json.Unmarshal(s.mustCall(200, "GET", api+"/sessions", "", ""), &list); err != nil {
			t.Fatal(err)
		}
		return len(list.Sessions) == 1 && list.Sessions[0].Bytes > 0
	})
	got := list.Sessions[0]
	if got.Name != "a" || got.Proto != "mpegts" || got.IP != "127.0.0.1" || got.OpenedAt == 0 {
		t.Fatalf("session %+v", got)
	}
	if st := s.stream("a").Stats; st["online_clients"] != float64(1) || st["bytes_out"].(float64) <= 0 {
		t.Fatalf("stream stats with a viewer: %v", st)
	}
}

// startServerFile starts livedge on an existing config file, serving base.
func startServerFile(t *testing.T, path, base string) *server {
	t.Helper()
	s := &server{t: t, base: base, conf: path, log: &syncBuffer{}, done: make(chan error, 1)}
	s.cmd = exec.Command(binPath, "-c", path)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	s.cmd.Env = cleanEnv()
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("livedge log:\n%s", s.log.String())
		}
	})
	waitUntil(t, 10*time.Second, "livedge listening", func() bool {
		select {
		case err := <-s.done:
			t.Fatalf("livedge exited at start: %v\n%s", err, s.log.String())
		default:
		}
		c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return s
}

// What the API changed is what a restarted livedge runs.
func TestAPIChangesSurviveRestart(t *testing.T) {
	t.Parallel()
	s := startServer(t, "# hand-written\nstream a { input testsrc://; }\nstream gone { input testsrc://; }\n")
	s.mustCall(200, "PUT", api+"/streams/b/c", `{"inputs":[{"url":"testsrc://?bitrate=100k","source_timeout":3},{"url":"udp://127.0.0.1:5000"}],"segment_duration":2500}`, "")
	s.mustCall(200, "PUT", api+"/streams/a", `{"segment_count":3}`, "")
	s.mustCall(204, "DELETE", api+"/streams/gone", "", "")
	s.mustCall(200, "PUT", api+"/config", `{"view_auth":{"login":"v","password":"p w"}}`, "")
	list := func(s *server) string {
		return string(s.mustCall(200, "GET", api+"/streams?select=name,inputs,segment_count,segment_duration,static", "", "v:p w"))
	}
	before := list(s)
	s.stop()

	again := startServerFile(t, s.conf, s.base)
	if after := list(again); after != before {
		t.Fatalf("after restart:\n%s\nbefore:\n%s", after, before)
	}
	again.mustCall(401, "GET", api+"/streams", "", "")
}
