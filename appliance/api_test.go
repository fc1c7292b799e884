package appliance

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livedge/livedge/netio"
)

// testNode is a daemon served on a free port of 127.0.0.1, in process.
type testNode struct {
	t    *testing.T
	node *node
	base string
	path string // the config file ("" for the embedded default)
}

func newTestNode(t *testing.T, conf string) *testNode {
	t.Helper()
	path := filepath.Join(t.TempDir(), "livedge.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return startTestNode(t, ConfigSource{Path: path}, path)
}

func startTestNode(t *testing.T, cs ConfigSource, path string) *testNode {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	n, err := newNode(cs, log)
	if err != nil {
		t.Fatal(err)
	}
	srv := netio.NewServer(netio.Config{Listen: []string{"127.0.0.1:0"}, Logger: log}, n.router)
	n.router.metrics.netStats = srv.Stats // as Run wires it
	if err := srv.Start(); err != nil {
		n.close()
		t.Fatal(err)
	}
	n.start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Stop(ctx)
		n.close()
	})
	return &testNode{t: t, node: n, base: "http://" + srv.Addrs()[0].String(), path: path}
}

// do sends a request and returns the status and body.
func (n *testNode) do(method, path, body string, header ...string) (int, string) {
	n.t.Helper()
	code, b, _ := n.doHeader(method, path, body, header...)
	return code, b
}

func (n *testNode) doHeader(method, path, body string, header ...string) (int, string, http.Header) {
	n.t.Helper()
	req, err := http.NewRequest(method, n.base+path, strings.NewReader(body))
	if err != nil {
		n.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		n.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func firstError(t *testing.T, body string) errorObject {
	t.Helper()
	var doc errorDoc
	if err := json.Unmarshal([]byte(body), &doc); err != nil || len(doc.Errors) != 1 {
		t.Fatalf("not a JSON:API error: %s", body)
	}
	return doc.Errors[0]
}

// Every operation of the OpenAPI description is served, and every route of
// the router is described.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	n := newTestNode(t, "stream s { input testsrc://; }\n")
	code, body := n.do("GET", "/streamer/api/v3/openapi.json", "")
	if code != 200 {
		t.Fatalf("openapi.json: %d %s", code, body)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi = %q", doc.OpenAPI)
	}
	for _, r := range apiRoutes {
		if _, ok := doc.Paths[apiBase+r.path][strings.ToLower(r.method)]; !ok {
			t.Errorf("route %s %s is not described", r.method, r.path)
		}
	}
	for kind := range viewerRoutes {
		if _, ok := doc.Paths["/{name}/"+kind]["get"]; !ok {
			t.Errorf("viewer route /{name}/%s is not described", kind)
		}
	}
	// Each described operation reaches a handler: whatever it answers, it is
	// not the router's "no such route" or "method not allowed".
	for path, ops := range doc.Paths {
		for method := range ops {
			url := strings.NewReplacer("{name}", "s", "{segment}", "2024/01/02/03/04/05-02000.ts").Replace(path)
			body := ""
			if method == "put" || method == "post" {
				body = "{}"
			}
			m := strings.ToUpper(method)
			if strings.HasSuffix(url, "/mpegts") {
				m = "HEAD" // the headers tell; the body would never end
			}
			code, resp := n.do(m, url, body)
			if code == 405 || code == 404 && (strings.Contains(resp, codeNoSuchRoute) || strings.Contains(resp, `"not_found"`)) {
				t.Errorf("%s %s (%s) is described but not served: %d %s", method, path, url, code, resp)
			}
		}
	}
}

func TestAPIRouting(t *testing.T) {
	n := newTestNode(t, "stream s { input testsrc://; }\n")
	code, body, hdr := n.doHeader("PATCH", "/streamer/api/v3/streams/s", "")
	if code != 405 {
		t.Fatalf("PATCH: %d %s %v", code, body, hdr)
	}
	code, body, hdr = n.doHeader("POST", "/streamer/api/v3/streams/s", "{}")
	if code != 405 || hdr.Get("Allow") != "GET, PUT, DELETE, HEAD" {
		t.Fatalf("POST on a stream: %d %s Allow %q", code, body, hdr.Get("Allow"))
	}
	if code, body = n.do("GET", "/streamer/api/v3/nothing", ""); code != 404 || firstError(t, body).Code != codeNoSuchRoute {
		t.Fatalf("unknown route: %d %s", code, body)
	}
	// A stream named ".../stop" is still a stream for GET.
	if code, body = n.do("GET", "/streamer/api/v3/streams/s/stop", ""); code != 404 || firstError(t, body).Code != codeNotFound {
		t.Fatalf("GET .../stop: %d %s", code, body)
	}
	if code, body = n.do("GET", "/streamer/api/v3/streams?limit=0", ""); code != 400 || *firstError(t, body).Source != (errorSource{Parameter: "limit"}) {
		t.Fatalf("limit=0: %d %s", code, body)
	}
	if code, body = n.do("HEAD", "/streamer/api/v3/streams", ""); code != 200 {
		t.Fatalf("HEAD: %d %s", code, body)
	}
}

// A hand edit of the file since livedge read it is not overwritten.
func TestAPIRefusesToOverwriteHandEdits(t *testing.T) {
	n := newTestNode(t, "stream s { input testsrc://; }\n")
	edited := "stream s { input testsrc://; }\nstream hand { input testsrc://; }\n"
	if err := os.WriteFile(n.path, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	code, body := n.do("PUT", "/streamer/api/v3/streams/x", `{"inputs":[{"url":"testsrc://"}]}`)
	if code != 409 || firstError(t, body).Code != "config_changed_on_disk" {
		t.Fatalf("PUT over a hand edit: %d %s", code, body)
	}
	if got := readFile(t, n.path); got != edited {
		t.Fatalf("hand edit overwritten:\n%s", got)
	}
	// After a reload (SIGHUP) the API works on the edited file.
	if err := n.node.store.reload(); err != nil {
		t.Fatal(err)
	}
	if code, body := n.do("PUT", "/streamer/api/v3/streams/x", `{"inputs":[{"url":"testsrc://"}]}`); code != 200 {
		t.Fatalf("PUT after reload: %d %s", code, body)
	}
	got := readFile(t, n.path)
	if !strings.Contains(got, "stream hand {") || !strings.Contains(got, "stream x {") {
		t.Fatalf("file after reload and PUT:\n%s", got)
	}
}

// The embedded default config has no file: changes apply in memory and the
// answer says so.
func TestAPIEmbeddedConfigChangesInMemory(t *testing.T) {
	n := startTestNode(t, ConfigSource{Embedded: true}, "")
	code, body, hdr := n.doHeader("PUT", "/streamer/api/v3/streams/extra", `{"inputs":[{"url":"testsrc://"}]}`)
	if code != 200 || hdr.Get(notPersistedHeader) != "false" {
		t.Fatalf("PUT on embedded config: %d %s %v", code, body, hdr)
	}
	if _, ok := n.node.streams.Configured("extra"); !ok {
		t.Fatal("change not applied")
	}
	code, body = n.do("GET", "/streamer/api/v3/config/stats", "")
	var st serverStats
	if code != 200 || json.Unmarshal([]byte(body), &st) != nil || st.ConfigPersisted || st.ConfigFile != "" {
		t.Fatalf("stats: %d %s", code, body)
	}
}

// Environment overrides apply to what runs, not to what is saved.
func TestAPIKeepsEnvironmentOutOfTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "livedge.conf")
	if err := os.WriteFile(path, []byte("stream s { input testsrc://; }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n := startTestNode(t, ConfigSource{Path: path, Environ: []string{"STREAMER_CLUSTER_KEY=fromenv"}}, path)
	if code, body := n.do("PUT", "/streamer/api/v3/config", `{"peers":[{"hostname":"peer1.local"}]}`); code != 200 || !strings.Contains(body, "fromenv") {
		t.Fatalf("PUT config: %d %s", code, body)
	}
	got := readFile(t, path)
	if strings.Contains(got, "fromenv") || !strings.Contains(got, "peer peer1.local;") {
		t.Fatalf("saved file:\n%s", got)
	}
}

func TestConfigGetRedactsSecretsForViewers(t *testing.T) {
	n := newTestNode(t, "edit_auth admin adminpw;\nview_auth viewer viewerpw;\ncluster_key k3y;\n")
	code, body := n.do("GET", "/streamer/api/v3/config", "", "Authorization", "Basic dmlld2VyOnZpZXdlcnB3") // viewer:viewerpw
	if code != 200 || strings.Contains(body, "adminpw") || strings.Contains(body, "viewerpw") || strings.Contains(body, "k3y") {
		t.Fatalf("viewer sees: %d %s", code, body)
	}
	code, body = n.do("GET", "/streamer/api/v3/config", "", "Authorization", "Basic YWRtaW46YWRtaW5wdw==") // admin:adminpw
	if code != 200 || !strings.Contains(body, "adminpw") || !strings.Contains(body, "k3y") {
		t.Fatalf("admin sees: %d %s", code, body)
	}
}
