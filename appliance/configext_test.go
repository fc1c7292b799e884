package appliance

import (
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livedge/livedge/engine"
)

func TestMergeExternal(t *testing.T) {
	file := []engine.StreamConfig{{Name: "a", Static: true}, {Name: "b"}}
	backend := []engine.StreamConfig{{Name: "b", Static: true}, {Name: "c"}}
	merged, external := mergeExternal(file, backend)
	want := []engine.StreamConfig{{Name: "a", Static: true}, {Name: "b", Static: true}, {Name: "c"}}
	if !slices.EqualFunc(merged, want, func(x, y engine.StreamConfig) bool { return x.Name == y.Name && x.Static == y.Static }) {
		t.Fatalf("merged %+v, want %+v", merged, want)
	}
	if external["a"] || !external["b"] || !external["c"] {
		t.Fatalf("external %v, want b and c", external)
	}
}

// The client follows config_external through a reload, the API and the
// environment, which wins over both.
func TestExternalRunnerFollowsConfig(t *testing.T) {
	var hits atomic.Int64
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"streams":[{"name":"ext","inputs":[{"url":"testsrc://"}]}]}`))
	}))
	defer be.Close()

	n := newTestNode(t, "stream f { input testsrc://; }\n")
	rt := n.node.router
	if rt.externalClient() != nil {
		t.Fatal("a client runs without config_external")
	}
	if err := os.WriteFile(n.path, []byte("config_external "+be.URL+"/streams;\nstream f { input testsrc://; }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := n.node.store.reload(); err != nil {
		t.Fatal(err)
	}
	if rt.externalClient() == nil {
		t.Fatal("no client after a reload turned config_external on")
	}
	waitFor(t, func() bool { _, ok := n.node.store.current().streamByName("ext"); return ok })
	if !n.node.store.current().external["ext"] {
		t.Fatal("ext not marked external")
	}
	if code, body := n.do("PUT", apiBase+"/streams/f", `{"static":true}`); code != http.StatusBadRequest {
		t.Fatalf("PUT stream while on: %d %s", code, body)
	}
	if code, body := n.do("PUT", apiBase+"/config", `{"config_external":null}`); code != http.StatusOK {
		t.Fatalf("PUT config_external null: %d %s", code, body)
	}
	if rt.externalClient() != nil {
		t.Fatal("client still runs after config_external: null")
	}
	if _, ok := n.node.store.current().streamByName("ext"); ok {
		t.Fatal("the backend's stream stayed after config_external was turned off")
	}
	if _, ok := n.node.store.current().streamByName("f"); !ok {
		t.Fatal("the file's stream went")
	}
}

func TestExternalFromEnvironment(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"streams":[]}`))
	}))
	defer be.Close()
	path := t.TempDir() + "/livedge.conf"
	if err := os.WriteFile(path, []byte("config_external http://127.0.0.1:1/streams;\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n := startTestNode(t, ConfigSource{Path: path, Environ: []string{"STREAMER_CONFIG_EXTERNAL=" + be.URL}}, path)
	c := n.node.router.externalClient()
	if c == nil {
		t.Fatal("no client")
	}
	waitFor(t, func() bool { return c.Status().Status == "loaded" })
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The backend's credentials never show in the API; sending back what was
// read keeps them.
func TestExternalCredentialsHidden(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"streams":[]}`))
	}))
	defer be.Close()
	withKey := "http://sekrit@" + strings.TrimPrefix(be.URL, "http://") + "/streams"
	n := newTestNode(t, "config_external "+withKey+";\n")
	code, body := n.do("GET", apiBase+"/config", "")
	if code != http.StatusOK || strings.Contains(body, "sekrit") || !strings.Contains(body, "config_external") {
		t.Fatalf("GET /config: %d %s", code, body)
	}
	shown := "http://" + strings.TrimPrefix(be.URL, "http://") + "/streams"
	if code, body := n.do("PUT", apiBase+"/config", `{"config_external":"`+shown+`"}`); code != http.StatusOK || strings.Contains(body, "sekrit") {
		t.Fatalf("PUT /config: %d %s", code, body)
	}
	if got := n.node.store.current().file.ConfigExternal; got != withKey {
		t.Fatalf("config_external after sending back what was read: %q, want %q", got, withKey)
	}
}
