package configext

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestEpisodes(t *testing.T) {
	b := newTestBackend(t)
	a := &applyRecorder{}
	b.setListed(
		stream("cam1", `"dvr":{"root":"/storage","episodes_url":""}`),
		stream("cam2", `"dvr":{"root":"/storage","episodes_url":""}`),
		stream("cam3", `"dvr":{"root":"/storage"}`),
		stream("cam4", `"dvr":{"episodes_url":"`+b.url("/other/episodes")+`"}`),
	)
	b.setKnown()
	b.episodes["cam1"] = `{"episodes":[
		{"opened_at":1700000000000,"closed_at":1700000600000,"updated_at":1700000600000,"episode_id":7},
		{"opened_at":1700003000000,"updated_at":1700003100000}]}`
	b.episodes["cam2"] = "501"
	b.episodes["cam4"] = `{"episodes":[{"opened_at":1700000000000,"closed_at":1700000001000,"updated_at":1700000001000}]}`
	raw := strings.Replace(b.url("/api/streams"), "://", "://key@", 1)
	c := newTestClient(t, raw, a, nil)
	ctx := context.Background()
	from, to := time.UnixMilli(1699990000000), time.UnixMilli(1700010000000)

	// Nothing loaded yet: not trustworthy.
	if _, ok := c.Protected(ctx, "cam1", from, to); ok {
		t.Fatal("trustworthy before any config")
	}
	refresh(t, c)
	// Episodes off (no header): nothing protected, trustworthily, no request.
	b.reset()
	if r, ok := c.Protected(ctx, "cam1", from, to); !ok || r != nil {
		t.Fatalf("episodes off: %v %v", r, ok)
	}
	b.mu.Lock()
	b.header.Set(headerEpisodes, "true")
	b.mu.Unlock()
	refresh(t, c)
	b.reset()

	r, ok := c.Protected(ctx, "cam1", from, to)
	if !ok || len(r) != 2 {
		t.Fatalf("cam1: %v %v", r, ok)
	}
	if !r[0].From.Equal(time.UnixMilli(1700000000000)) || !r[0].To.Equal(time.UnixMilli(1700000600000)) || !r[1].To.Equal(to) {
		t.Fatalf("ranges %v", r)
	}
	reqs := b.named("episodes", false)
	if len(reqs) != 1 {
		t.Fatalf("%d episodes requests", len(reqs))
	}
	q := reqs[0].Query
	if reqs[0].Path != "/api/episodes" || q.Get("media") != "cam1" || q.Get("opened_at_lt") != strconv.FormatInt(to.UnixMilli(), 10) ||
		q.Get("closed_at_gt") != strconv.FormatInt(from.UnixMilli(), 10) || reqs[0].Auth != "Bearer key" {
		t.Fatalf("request %+v", reqs[0])
	}
	// A narrower window is answered from the cache.
	r, ok = c.Protected(ctx, "cam1", time.UnixMilli(1700000300000), time.UnixMilli(1700000400000))
	if !ok || len(r) != 1 || !r[0].From.Equal(time.UnixMilli(1700000300000)) {
		t.Fatalf("narrow: %v %v", r, ok)
	}
	if len(b.requests()) != 1 {
		t.Fatalf("%d requests", len(b.requests()))
	}
	// 501: the backend keeps none; an answer.
	if r, ok := c.Protected(ctx, "cam2", from, to); !ok || r != nil {
		t.Fatalf("cam2: %v %v", r, ok)
	}
	// No episodes_url: not asked.
	if r, ok := c.Protected(ctx, "cam3", from, to); !ok || r != nil {
		t.Fatalf("cam3: %v %v", r, ok)
	}
	// An explicit episodes_url on the same origin gets the credentials.
	if r, ok := c.Protected(ctx, "cam4", from, to); !ok || len(r) != 1 {
		t.Fatalf("cam4: %v %v", r, ok)
	}
	reqs = b.requests()
	if last := reqs[len(reqs)-1]; last.Path != "/other/episodes" || last.Auth != "Bearer key" {
		t.Fatalf("cam4 request %+v", last)
	}
	if len(reqs) != 3 {
		t.Fatalf("%d requests", len(reqs))
	}

	// Failures: not trustworthy, and no second wait right after.
	b.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/episodes") {
			http.Error(w, "no", http.StatusInternalServerError)
			return true
		}
		return false
	})
	b.reset()
	wide := to.Add(time.Hour)
	if _, ok := c.Protected(ctx, "cam1", from, wide); ok {
		t.Fatal("trustworthy after a 500")
	}
	if _, ok := c.Protected(ctx, "cam1", from, wide.Add(time.Hour)); ok {
		t.Fatal("trustworthy right after a 500")
	}
	if n := len(b.requests()); n != 1 {
		t.Fatalf("%d requests after a failure", n)
	}
	// Streams unknown here are not protected by this backend.
	if r, ok := c.Protected(ctx, "nope", from, to); !ok || r != nil {
		t.Fatalf("unknown: %v %v", r, ok)
	}
}

func TestEpisodesMalformedIsNotTrustworthy(t *testing.T) {
	for _, body := range []string{
		`{"episodes":[{"opened_at":17}]}`,
		`{"episodes":[{"closed_at":1700000000000}]}`,
		`{"episodes":[{"opened_at":1700000600000,"closed_at":1700000000000}]}`,
		`{"episodes":"x"}`, `{}`, `[]`, `{"episodes":[{"opened_at":"soon"}]}`,
	} {
		b := newTestBackend(t)
		a := &applyRecorder{}
		b.setListed(stream("cam", `"dvr":{"episodes_url":""}`))
		b.header.Set(headerEpisodes, "true")
		b.episodes["cam"] = body
		c := newTestClient(t, b.url("/"), a, nil)
		refresh(t, c)
		if r, ok := c.Protected(context.Background(), "cam", time.UnixMilli(1e12), time.UnixMilli(2e12)); ok {
			t.Fatalf("%s: trustworthy %v", body, r)
		}
	}
}
