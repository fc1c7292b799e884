package configext

import (
	"context"
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func refresh(t *testing.T, c *Client) {
	t.Helper()
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatalf("refresh: %v", err)
	}
}

func TestStreamsAppearChangeDisappear(t *testing.T) {
	b := newTestBackend(t)
	a := &applyRecorder{}
	c := newTestClient(t, b.url("/cfg/streams"), a, nil)

	b.setListed(stream("a"), stream("b"))
	refresh(t, c)
	if got := a.lastNames(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("applied %v", got)
	}
	if st := c.Status(); st.Status != StatusLoaded {
		t.Fatalf("status %+v", st)
	}
	if a.last()[0].Static != true {
		t.Fatal("static must default to true")
	}

	// Unchanged: no Apply.
	refresh(t, c)
	if a.count() != 1 {
		t.Fatalf("%d applies for an unchanged list", a.count())
	}

	// b changes, c appears.
	b.setListed(stream("a"), stream("b", `"segment_duration":3000`), stream("c", `"static":false`))
	refresh(t, c)
	got := a.last()
	if len(got) != 3 || got[1].SegmentDuration != 3000 || got[2].Static {
		t.Fatalf("applied %+v", got)
	}

	// a leaves the list: running but unlisted, it is asked for, and gone.
	b.reset()
	b.setListed(stream("b", `"segment_duration":3000`), stream("c", `"static":false`))
	refresh(t, c)
	if got := a.lastNames(); !slices.Equal(got, []string{"b", "c"}) {
		t.Fatalf("applied %v", got)
	}
	diff := b.named("streams", true)
	if len(diff) != 1 || diff[0].Query.Get("name") != "a" {
		t.Fatalf("diff requests %+v", diff)
	}
	if len(b.named("update_streams_list", true)) != 0 {
		t.Fatal("separate endpoint used without the header")
	}

	// A running stream the list omits but the backend still configures stays.
	b.setKnown(stream("d", `"static":false`))
	c.o.Running = func() []string { return append(a.running(), "d") }
	refresh(t, c)
	if got := a.lastNames(); !slices.Equal(got, []string{"b", "c", "d"}) {
		t.Fatalf("applied %v", got)
	}
	// The path of /cfg/streams has siblings.
	for _, r := range b.requests() {
		if !strings.HasPrefix(r.Path, "/cfg/") {
			t.Fatalf("request to %s", r.Path)
		}
	}
}

func TestDiffNamesExactlyTheUnlistedInChunks(t *testing.T) {
	b := newTestBackend(t)
	a := &applyRecorder{}
	var running []string
	for i := range 300 {
		running = append(running, "camera/with-a-longish-name-"+strings.Repeat("x", i%7)+itoa(i))
	}
	listed := running[:50]
	var listedJSON []string
	for _, n := range listed {
		listedJSON = append(listedJSON, stream(n))
	}
	b.setListed(listedJSON...)
	b.setKnown(stream(running[100]), stream(running[299]))
	c := newTestClient(t, b.url("/base"), a, nil, func(o *Options) { o.Running = func() []string { return running } })
	refresh(t, c)

	reqs := b.named("streams", true)
	if len(reqs) < 2 {
		t.Fatalf("%d diff requests: want several chunks", len(reqs))
	}
	var asked []string
	for _, r := range reqs {
		raw := strings.TrimPrefix(r.RawQuery, "name=")
		if len(raw) > nameChunkLen {
			t.Fatalf("name= of %d bytes", len(raw))
		}
		asked = append(asked, strings.Split(r.Query.Get("name"), ",")...)
	}
	want := slices.Clone(running[50:])
	slices.Sort(want)
	slices.Sort(asked)
	if !slices.Equal(asked, want) {
		t.Fatalf("asked %d names, want exactly the %d unlisted", len(asked), len(want))
	}
	got := a.lastNames()
	if len(got) != 52 || !slices.Contains(got, running[100]) || !slices.Contains(got, running[299]) {
		t.Fatalf("applied %d streams", len(got))
	}
	if p := b.requests()[0].Path; p != "/base/streams" {
		t.Fatalf("list at %s", p)
	}
}

func TestSeparateEndpointsOnlyWithHeader(t *testing.T) {
	b := newTestBackend(t)
	a := &applyRecorder{}
	b.setListed(stream("a"))
	b.setKnown(stream("x"), stream("dyn"))
	c := newTestClient(t, b.url("/"), a, nil, func(o *Options) { o.Running = func() []string { return []string{"a", "x"} } })

	refresh(t, c)
	if _, ok, err := c.Lookup(context.Background(), "dyn"); !ok || err != nil {
		t.Fatalf("lookup: %v %v", ok, err)
	}
	if n := len(b.named("streams", true)); n != 2 {
		t.Fatalf("%d name queries to /streams, want the diff and the lookup", n)
	}
	if n := len(b.named("update_streams_list", true)) + len(b.named("dynamic_streams_list", true)); n != 0 {
		t.Fatalf("%d requests to separate endpoints without the header", n)
	}

	b.reset()
	b.mu.Lock()
	b.header.Set(headerSeparate, "true")
	b.mu.Unlock()
	refresh(t, c)
	if _, ok, err := c.Lookup(context.Background(), "dyn2"); ok || err != nil {
		t.Fatalf("lookup of unknown: %v %v", ok, err)
	}
	upd := b.named("update_streams_list", true)
	if len(upd) != 1 || upd[0].Query.Get("name") != "dyn,x" {
		t.Fatalf("update_streams_list requests %+v", upd)
	}
	dyn := b.named("dynamic_streams_list", true)
	if len(dyn) != 1 || dyn[0].Query.Get("name") != "dyn2" {
		t.Fatalf("dynamic_streams_list requests %+v", dyn)
	}
	if n := len(b.named("streams", true)); n != 0 {
		t.Fatalf("%d name queries to /streams with separate endpoints", n)
	}
}

func TestInvalidStreamSkippedAlone(t *testing.T) {
	b := newTestBackend(t)
	a := &applyRecorder{}
	c := newTestClient(t, b.url("/"), a, nil)
	b.setListed(stream("a"), stream("b"))
	refresh(t, c)

	// b turns invalid: it keeps its config; c is invalid and new: skipped.
	b.setListed(stream("a"),
		`{"name":"b","inputs":[{"url":"gopher://x"}]}`,
		`{"name":"c","inputs":[{"url":"udp://1.2.3.4:5"}],"segment_count":"six"}`,
		`{"name":"../etc","inputs":[{"url":"udp://1.2.3.4:5"}]}`,
		`42`,
		stream("d"))
	refresh(t, c)
	if got := a.lastNames(); !slices.Equal(got, []string{"a", "b", "d"}) {
		t.Fatalf("applied %v", got)
	}
	if a.last()[1].Inputs[0].URL != "udp://239.0.0.1:1001" {
		t.Fatalf("b's config was not kept: %+v", a.last()[1])
	}
	st := c.Status()
	if st.Status != StatusError || st.Code != 200 || st.While != WhileRefresh || !strings.Contains(st.Error, "4 invalid") {
		t.Fatalf("status %+v", st)
	}
	// b was named by the list: it must not be asked for.
	if n := len(b.named("streams", true)); n != 0 {
		t.Fatalf("%d name queries", n)
	}

	// Disabled: named, must not run.
	b.setListed(stream("a"), stream("b"), `{"name":"d","disabled":true}`)
	refresh(t, c)
	if got := a.lastNames(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("applied %v", got)
	}
	if st := c.Status(); st.Status != StatusLoaded {
		t.Fatalf("status %+v", st)
	}
}

func TestPagingAndETag(t *testing.T) {
	b := newTestBackend(t)
	a := &applyRecorder{}
	var list []string
	for i := range 25 {
		list = append(list, stream("s"+itoa(i)))
	}
	b.setListed(list...)
	b.pageSize = 10
	b.etags = true
	c := newTestClient(t, b.url("/"), a, nil)
	refresh(t, c)
	if len(a.last()) != 25 {
		t.Fatalf("applied %d", len(a.last()))
	}
	reqs := b.named("streams", false)
	if len(reqs) != 3 || reqs[1].Query.Get("cursor") != "10" || reqs[2].Query.Get("cursor") != "20" {
		t.Fatalf("pages %+v", reqs)
	}

	b.reset()
	refresh(t, c)
	reqs = b.named("streams", false)
	if len(reqs) != 3 {
		t.Fatalf("%d page requests", len(reqs))
	}
	for _, r := range reqs {
		if r.IfNoneMatch == "" {
			t.Fatalf("no If-None-Match on %+v", r)
		}
	}
	if a.count() != 1 || c.Status().Status != StatusLoaded {
		t.Fatalf("%d applies, status %+v", a.count(), c.Status())
	}

	// A change on the last page only.
	list[24] = stream("s24", `"segment_count":3`)
	b.setListed(list...)
	refresh(t, c)
	if a.count() != 2 || a.last()[len(a.last())-1].Name != "s9" {
		// sorted by name: s0 s1 s10..s19 s2 s20..s24 s3..s9
		t.Fatalf("%d applies", a.count())
	}
	for _, s := range a.last() {
		if s.Name == "s24" && s.SegmentCount != 3 {
			t.Fatalf("s24 not updated: %+v", s)
		}
	}
}

func TestCursorLoopIsAnError(t *testing.T) {
	b := newTestBackend(t)
	a := &applyRecorder{}
	b.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		w.Write([]byte(`{"streams":[],"next":"again"}`))
		return true
	})
	c := newTestClient(t, b.url("/"), a, nil)
	if err := c.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), "repeats") {
		t.Fatalf("err %v", err)
	}
	if len(b.requests()) != 2 || a.count() != 0 {
		t.Fatalf("%d requests, %d applies", len(b.requests()), a.count())
	}
}

func TestCredentials(t *testing.T) {
	for _, tc := range []struct{ userinfo, header, secret string }{
		{"s3cr3tkey@", "Bearer s3cr3tkey", "s3cr3tkey"},
		{"admin:pa55w0rd@", "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:pa55w0rd")), "pa55w0rd"},
	} {
		b := newTestBackend(t)
		b.setListed(stream("a"))
		logs := &logBuffer{}
		a := &applyRecorder{}
		raw := strings.Replace(b.url("/x/streams"), "://", "://"+tc.userinfo, 1)
		c := newTestClient(t, raw, a, logs)
		refresh(t, c)
		if r := b.requests()[0]; r.Auth != tc.header {
			t.Fatalf("Authorization %q, want %q", r.Auth, tc.header)
		}
		b.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			http.Error(w, "no", http.StatusServiceUnavailable)
			return true
		})
		err := c.Refresh(context.Background())
		if err == nil {
			t.Fatal("no error")
		}
		b.srv.Close() // now: connection refused
		err2 := c.Refresh(context.Background())
		_, _, err3 := c.Lookup(context.Background(), "zzz")
		st := c.Status()
		for _, text := range []string{err.Error(), err2.Error(), err3.Error(), st.Error, logs.String(), c.be.display} {
			if strings.Contains(text, tc.secret) || strings.Contains(text, tc.userinfo) {
				t.Fatalf("secret leaked: %s", text)
			}
		}
		if st.Status != StatusError || st.While != WhileRequest {
			t.Fatalf("status %+v", st)
		}
	}
	if _, err := New(Options{URL: "ftp://k@host/x"}); err == nil || strings.Contains(err.Error(), "k@") {
		t.Fatalf("bad scheme: %v", err)
	}
}

func TestURLForms(t *testing.T) {
	for _, tc := range []struct{ in, list, update, episodes string }{
		{"http://h/streams", "http://h/streams", "http://h/update_streams_list", "http://h/episodes"},
		{"http://h/a/b/streams?token=x", "http://h/a/b/streams?token=x", "http://h/a/b/update_streams_list?token=x", "http://h/a/b/episodes?token=x"},
		{"http://h", "http://h/streams", "http://h/update_streams_list", "http://h/episodes"},
		{"https://k@h:8443/central/api/v3/streamers/s1", "https://h:8443/central/api/v3/streamers/s1/streams", "https://h:8443/central/api/v3/streamers/s1/update_streams_list", "https://h:8443/central/api/v3/streamers/s1/episodes"},
		{"http://h/publish/", "http://h/publish/streams", "http://h/publish/update_streams_list", "http://h/publish/episodes"},
		{"http://h/mystreams", "http://h/mystreams/streams", "http://h/mystreams/update_streams_list", "http://h/mystreams/episodes"},
	} {
		be, err := parseBackend(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if got := be.endpoint(pathStreams, "").String(); got != tc.list {
			t.Errorf("%s: list %s, want %s", tc.in, got, tc.list)
		}
		if got := be.endpoint(pathUpdate, "").String(); got != tc.update {
			t.Errorf("%s: update %s, want %s", tc.in, got, tc.update)
		}
		ep, _ := be.episodesEndpoint("")
		if got := ep.url.String(); got != tc.episodes {
			t.Errorf("%s: episodes %s, want %s", tc.in, got, tc.episodes)
		}
		if strings.Contains(be.display, "k@") || strings.Contains(be.display, "token") {
			t.Errorf("display %s", be.display)
		}
	}
	for _, bad := range []string{"", "streams", "udp://h/x", "http:///x", "http://h:99999/", "http://h h/", "mailto:x@y"} {
		if _, err := parseBackend(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestChunkNames(t *testing.T) {
	names := []string{"a/b", "c", strings.Repeat("n", 128)}
	for i := range 100 {
		names = append(names, "stream-"+itoa(i))
	}
	chunks := chunkNames(names, 100)
	var back []string
	for _, ch := range chunks {
		if len(ch.param) > 100 && len(ch.names) > 1 {
			t.Fatalf("chunk of %d bytes", len(ch.param))
		}
		if strings.Count(ch.param, ",") != len(ch.names)-1 {
			t.Fatalf("chunk %q", ch.param)
		}
		back = append(back, ch.names...)
	}
	if !slices.Equal(back, names) {
		t.Fatal("names lost")
	}
	if chunks[0].param != "a%2Fb,c" {
		t.Fatalf("first chunk %q", chunks[0].param)
	}
	if chunkNames(nil, 100) != nil {
		t.Fatal("chunks of nothing")
	}
}

func TestRunPollsUntilCanceled(t *testing.T) {
	b := newTestBackend(t)
	b.setListed(stream("a"))
	a := &applyRecorder{}
	c := newTestClient(t, b.url("/"), a, nil, func(o *Options) { o.Interval = 10 * time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	deadline := time.After(10 * time.Second)
	for c.Counters().Cycles < 3 {
		select {
		case <-deadline:
			t.Fatal("no cycles")
		case <-time.After(5 * time.Millisecond):
		}
	}
	cancel()
	<-done
	if a.count() != 1 {
		t.Fatalf("%d applies", a.count())
	}
}
