package configext

import (
	"context"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// Every way a backend can fail leaves the desired set exactly as it was.
func TestOutageNeverChangesTheDesiredSet(t *testing.T) {
	b := newTestBackend(t)
	a := &applyRecorder{}
	logs := &logBuffer{}
	b.setListed(stream("a"), stream("b", `"static":false`))
	b.setKnown(stream("x"))
	c := newTestClient(t, b.url("/"), a, logs, func(o *Options) {
		o.Timeout = 300 * time.Millisecond
		o.Running = func() []string { return append(a.running(), "x") }
	})
	refresh(t, c)
	want := a.lastNames()
	if !slices.Equal(want, []string{"a", "b", "x"}) {
		t.Fatalf("applied %v", want)
	}
	c.fetch.maxBody = 4096 // the 64 MiB limit, scaled down

	release := make(chan struct{})
	defer close(release)
	faults := []struct {
		name string
		code int
		f    func(w http.ResponseWriter, r *http.Request) bool
	}{
		{"5xx", 500, func(w http.ResponseWriter, r *http.Request) bool {
			http.Error(w, "boom", http.StatusInternalServerError)
			return true
		}},
		{"4xx", 403, func(w http.ResponseWriter, r *http.Request) bool {
			http.Error(w, "go away", http.StatusForbidden)
			return true
		}},
		{"malformed JSON", 200, func(w http.ResponseWriter, r *http.Request) bool {
			w.Write([]byte(`{"streams":[{"name":"a",]}`))
			return true
		}},
		{"not an object", 200, func(w http.ResponseWriter, r *http.Request) bool {
			w.Write([]byte(`null`))
			return true
		}},
		{"no streams array", 200, func(w http.ResponseWriter, r *http.Request) bool {
			w.Write([]byte(`{"error":"db down"}`))
			return true
		}},
		{"empty body", 200, func(w http.ResponseWriter, r *http.Request) bool {
			return true
		}},
		{"truncated body", 200, func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Length", "1000")
			w.Write([]byte(`{"streams":[`))
			return true
		}},
		{"truncated chunked body", 200, func(w http.ResponseWriter, r *http.Request) bool {
			w.Write([]byte(`{"streams":[` + stream("a")))
			w.(http.Flusher).Flush()
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return true
		}},
		{"oversized body", 200, func(w http.ResponseWriter, r *http.Request) bool {
			w.Write([]byte(`{"streams":[],"pad":"` + strings.Repeat("x", 5000) + `"}`))
			return true
		}},
		{"oversized by Content-Length", 200, func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Length", "100000000")
			w.Write([]byte(`{"streams":[]}`))
			return true
		}},
		{"slow", 0, func(w http.ResponseWriter, r *http.Request) bool {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return true
		}},
		{"connection reset", 0, func(w http.ResponseWriter, r *http.Request) bool {
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close()
			return true
		}},
		{"diff fails", 502, func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Query().Has("name") {
				http.Error(w, "bad gateway", http.StatusBadGateway)
				return true
			}
			return false
		}},
	}
	for round := range 2 { // the second round: the same failures again log nothing
		for _, f := range faults {
			b.setFault(f.f)
			err := c.Refresh(context.Background())
			if err == nil {
				t.Fatalf("%s: no error", f.name)
			}
			st := c.Status()
			if st.Status != StatusError || st.While != WhileRefresh || st.Code != f.code {
				t.Fatalf("%s: status %+v", f.name, st)
			}
			if a.count() != 1 {
				t.Fatalf("%s (round %d): Apply called during the outage: %v", f.name, round, a.lastNames())
			}
		}
	}
	// One line per change of state: per kind of failure in a row, not per failure.
	changes, prev := 0, -1
	for range 2 {
		for _, f := range faults {
			if f.code != prev {
				changes++
			}
			prev = f.code
		}
	}
	if n := strings.Count(logs.String(), "config_external error"); n != changes {
		t.Fatalf("%d error log lines for %d changes of state in %d failures", n, changes, 2*len(faults))
	}

	b.setFault(nil)
	refresh(t, c)
	if st := c.Status(); st.Status != StatusLoaded {
		t.Fatalf("status after recovery %+v", st)
	}
	if a.count() != 1 {
		t.Fatalf("recovery with the same config applied again: %d", a.count())
	}
	if strings.Count(logs.String(), "config_external loaded") != 2 {
		t.Fatalf("log:\n%s", logs.String())
	}
}

// A long outage while the registry keeps running: every cycle of it fails,
// none applies, and the first good answer after it applies only its changes.
func TestOutageThenRecoveryWithChanges(t *testing.T) {
	b := newTestBackend(t)
	a := &applyRecorder{}
	b.setListed(stream("a"), stream("b"))
	c := newTestClient(t, b.url("/"), a, nil)
	refresh(t, c)
	b.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return true
	})
	for range 20 {
		if c.Refresh(context.Background()) == nil {
			t.Fatal("no error")
		}
	}
	// Dynamic lookups fail too, and say so.
	if _, ok, err := c.Lookup(context.Background(), "dyn"); ok || err == nil {
		t.Fatalf("lookup during outage: %v %v", ok, err)
	}
	if st := c.Status(); st.Status != StatusError || st.Code != 503 || st.While != WhileRequest {
		t.Fatalf("status %+v", st)
	}
	if a.count() != 1 {
		t.Fatalf("%d applies", a.count())
	}
	b.setListed(stream("a"), stream("c"))
	b.setFault(nil)
	refresh(t, c)
	if got := a.lastNames(); a.count() != 2 || !slices.Equal(got, []string{"a", "c"}) {
		t.Fatalf("applied %v", got)
	}
}

func TestInvalidBodiesNeverApply(t *testing.T) {
	for _, body := range []string{
		`[]`, `"streams"`, `{"streams":{}}`, `{"streams":null}`, `{"streams":[],"next":{}}`,
		`{"streams":[],"next":true}`, `{"streams":[]} trailing`, `{"streams":[` + strings.Repeat(`[`, 20000) + `]}`,
		`{"streams":[],"next":"` + strings.Repeat("c", maxCursorLen+1) + `"}`,
	} {
		b := newTestBackend(t)
		a := &applyRecorder{}
		c := newTestClient(t, b.url("/"), a, nil)
		b.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			w.Write([]byte(body))
			return true
		})
		if err := c.Refresh(context.Background()); err == nil {
			t.Fatalf("%.40q: no error", body)
		}
		if a.count() != 0 {
			t.Fatalf("%.40q applied", body)
		}
	}
}

// A cycle cut short by shutdown is no verdict on the backend.
func TestCanceledCycleKeepsStatus(t *testing.T) {
	b := newTestBackend(t)
	a := &applyRecorder{}
	b.setListed(stream("a"))
	c := newTestClient(t, b.url("/"), a, nil)
	refresh(t, c)
	ctx, cancel := context.WithCancel(context.Background())
	b.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		cancel()
		<-r.Context().Done()
		return true
	})
	if err := c.Refresh(ctx); err == nil {
		t.Fatal("no error")
	}
	if st := c.Status(); st.Status != StatusLoaded || a.count() != 1 {
		t.Fatalf("status %+v, %d applies", st, a.count())
	}
}
