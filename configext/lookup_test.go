package configext

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLookupBurstIsOneRequest(t *testing.T) {
	b := newTestBackend(t)
	a := &applyRecorder{}
	b.setListed(stream("static1"))
	b.header.Set(headerSeparate, "true")
	var dyn []string
	for i := range 20 {
		name := "dyn/" + itoa(i)
		if i%2 == 0 {
			b.setKnown(stream(name, `"static":false`))
		}
		dyn = append(dyn, name)
	}
	c := newTestClient(t, b.url("/"), a, nil)
	refresh(t, c)
	b.reset()

	// The burst: gated so that all arrive within the gathering window.
	var wg sync.WaitGroup
	start := make(chan struct{})
	type result struct {
		name  string
		found bool
		err   error
	}
	results := make(chan result, len(dyn)*2)
	for _, name := range append(slices.Clone(dyn), dyn...) { // each name twice
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			cfg, ok, err := c.Lookup(context.Background(), name)
			if ok && cfg.Name != name {
				err = context.Canceled
			}
			results <- result{name, ok, err}
		}()
	}
	close(start)
	wg.Wait()
	close(results)
	for r := range results {
		want := false
		for i, n := range dyn {
			if n == r.name {
				want = i%2 == 0
			}
		}
		if r.err != nil || r.found != want {
			t.Fatalf("lookup %s: found %v err %v", r.name, r.found, r.err)
		}
	}
	reqs := b.requests()
	// Goroutine scheduling could split the burst at a gathering boundary;
	// what matters is far fewer requests than viewers and every name asked once.
	var asked []string
	for _, r := range reqs {
		if r.Endpoint != "dynamic_streams_list" {
			t.Fatalf("request to %s", r.Path)
		}
		asked = append(asked, strings.Split(r.Query.Get("name"), ",")...)
	}
	t.Logf("%d dynamic_streams_list request(s) for a burst of %d lookups", len(reqs), 2*len(dyn))
	if len(reqs) > 2 {
		t.Fatalf("%d requests for a burst of %d lookups", len(reqs), 2*len(dyn))
	}
	slices.Sort(asked)
	want := slices.Clone(dyn)
	slices.Sort(want)
	if !slices.Equal(asked, want) {
		t.Fatalf("asked %v", asked)
	}
	// Found ones joined the desired set.
	got := a.lastNames()
	if len(got) != 11 || !slices.Contains(got, "dyn/0") || slices.Contains(got, "dyn/1") {
		t.Fatalf("applied %v", got)
	}
	// Unknown names are not asked again at once; known ones need no request.
	b.reset()
	for _, n := range []string{"dyn/1", "dyn/0"} {
		if _, ok, err := c.Lookup(context.Background(), n); ok != (n == "dyn/0") || err != nil {
			t.Fatalf("again %s: %v %v", n, ok, err)
		}
	}
	if n := len(b.requests()); n != 0 {
		t.Fatalf("%d requests for names just answered", n)
	}

	// The next cycle asks about the dynamic streams (running or fresh) and
	// keeps them while the backend still configures them.
	refresh(t, c)
	upd := b.named("update_streams_list", true)
	if len(upd) != 1 || !strings.Contains(upd[0].Query.Get("name"), "dyn/0") {
		t.Fatalf("update requests %+v", upd)
	}
	if got := a.lastNames(); len(got) != 11 {
		t.Fatalf("applied %v", got)
	}
}

func TestLookupDynamicOffAsksNothing(t *testing.T) {
	b := newTestBackend(t)
	a := &applyRecorder{}
	b.setListed(stream("a"))
	b.setKnown(stream("dyn"))
	b.header.Set(headerDynamic, "false")
	c := newTestClient(t, b.url("/"), a, nil)
	refresh(t, c)
	b.reset()
	for _, name := range []string{"dyn", "other", "../bad"} {
		if _, ok, err := c.Lookup(context.Background(), name); ok || err != nil {
			t.Fatalf("%s: %v %v", name, ok, err)
		}
	}
	if cfg, ok, _ := c.Lookup(context.Background(), "a"); !ok || cfg.Name != "a" {
		t.Fatal("a configured stream must be found")
	}
	if n := len(b.requests()); n != 0 {
		t.Fatalf("%d requests", n)
	}
}

func TestLookupWaitsAtMostTheLimit(t *testing.T) {
	b := newTestBackend(t)
	a := &applyRecorder{}
	release := make(chan struct{})
	defer close(release)
	b.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return true
	})
	c := newTestClient(t, b.url("/"), a, nil, func(o *Options) { o.Timeout = 200 * time.Millisecond })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, ok, err := c.Lookup(ctx, "x"); ok || err == nil {
		t.Fatalf("%v %v", ok, err)
	}
	if _, ok, err := c.Lookup(context.Background(), "y"); ok || err == nil {
		t.Fatalf("%v %v", ok, err)
	}
	if st := c.Status(); st.Status != StatusError || st.While != WhileRequest {
		t.Fatalf("status %+v", st)
	}
}

func TestLookupBatchSizeIsBounded(t *testing.T) {
	b := newTestBackend(t)
	a := &applyRecorder{}
	c := newTestClient(t, b.url("/"), a, nil)
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, _ = c.Lookup(context.Background(), "some-rather-long-dynamic-stream-name-"+itoa(i))
		}()
	}
	wg.Wait()
	for _, r := range b.requests() {
		if len(strings.TrimPrefix(r.RawQuery, "name=")) > nameChunkLen {
			t.Fatalf("lookup request of %d bytes", len(r.RawQuery))
		}
	}
}

func TestLookupAddedDuringACycleSurvivesIt(t *testing.T) {
	b := newTestBackend(t)
	a := &applyRecorder{}
	b.setListed(stream("a"))
	b.setKnown(stream("x"), stream("dyn"))
	b.header.Set(headerSeparate, "true")
	c := newTestClient(t, b.url("/"), a, nil, func(o *Options) {
		o.Running = func() []string { return append(a.running(), "x") }
	})
	refresh(t, c)
	if got := a.lastNames(); !slices.Equal(got, []string{"a", "x"}) {
		t.Fatalf("applied %v", got)
	}
	// Hold the cycle's diff request until a lookup has been applied: the
	// cycle took its names before the lookup existed.
	looked := make(chan struct{})
	asking := make(chan struct{}, 1)
	b.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/update_streams_list") {
			asking <- struct{}{}
			<-looked
		}
		return false
	})
	done := make(chan error)
	go func() { done <- c.Refresh(context.Background()) }()
	<-asking
	if _, ok, err := c.Lookup(context.Background(), "dyn"); !ok || err != nil {
		t.Fatalf("lookup %v %v", ok, err)
	}
	if got := a.lastNames(); !slices.Equal(got, []string{"a", "dyn", "x"}) {
		t.Fatalf("applied %v", got)
	}
	close(looked)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := a.lastNames(); !slices.Equal(got, []string{"a", "dyn", "x"}) {
		t.Fatalf("the cycle dropped the looked-up stream: %v", got)
	}
}
