package configext

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// slowAnswer is the protocol's target for a whole answer.
const slowAnswer = 100 * time.Millisecond

// CheckMain is `livedge configext check [-timeout D] URL`: it probes a
// backend the way livedge uses it (the list with paging and ETag, name
// queries in both endpoint styles, a dynamic name, episodes when
// advertised) and prints what it found. It returns 0 when the backend
// behaves, 1 when it found a problem, 2 on a usage error. args are those
// after "check".
func CheckMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("livedge configext check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", DefaultTimeout, "timeout of each request")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: livedge configext check [-timeout 5s] URL")
		fmt.Fprintln(stderr, "Probes a config_external backend the way livedge will use it and prints what it finds wrong.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 || *timeout <= 0 {
		fs.Usage()
		return 2
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxResponseHeaderBytes = 1 << 20
	rec := &recordingTransport{rt: tr}
	c, err := New(Options{
		URL:        fs.Arg(0),
		Timeout:    *timeout,
		Log:        slog.New(slog.DiscardHandler),
		HTTPClient: &http.Client{Transport: rec},
	})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	ck := &checker{c: c, out: stdout, rec: rec}
	ck.run(context.Background())
	return ck.exit()
}

// checker runs the probes and reports.
type checker struct {
	c        *Client
	out      io.Writer
	rec      *recordingTransport
	problems int
}

func (k *checker) line(tag, format string, args ...any) {
	fmt.Fprintf(k.out, "%-5s %s\n", tag, fmt.Sprintf(format, args...))
}
func (k *checker) ok(format string, args ...any)   { k.line("ok", format, args...) }
func (k *checker) info(format string, args ...any) { k.line("info", format, args...) }
func (k *checker) warn(format string, args ...any) { k.line("warn", format, args...) }
func (k *checker) fail(format string, args ...any) {
	k.problems++
	k.line("FAIL", format, args...)
}

func (k *checker) exit() int {
	if k.problems > 0 {
		fmt.Fprintf(k.out, "%d problem(s) found\n", k.problems)
		return 1
	}
	fmt.Fprintln(k.out, "the backend behaves")
	return 0
}

func (k *checker) run(ctx context.Context) {
	c := k.c
	cred := "none"
	switch {
	case strings.HasPrefix(c.be.auth, "Bearer "):
		cred = "Bearer (from KEY@host)"
	case strings.HasPrefix(c.be.auth, "Basic "):
		cred = "Basic (from user:pass@host)"
	}
	k.info("backend %s, list endpoint %s, credentials: %s", c.be.display, displayURL(c.be.endpoint(pathStreams, "")), cred)

	list, listErr := k.checkList(ctx)
	known := ""
	if listErr == nil {
		known = k.firstValidName(list)
	}
	unknown := "livedge-check-" + randomHex(6)
	k.checkNameQueries(ctx, list.feat, known, unknown)
	k.checkDynamic(ctx, list.feat, listErr == nil, unknown)
	if listErr == nil {
		k.checkEpisodes(ctx, list)
	}
	k.checkTimings()
}

// checkList fetches every page of the list and judges it.
func (k *checker) checkList(ctx context.Context) (listResult, error) {
	c := k.c
	list, err := c.fetchList(ctx)
	if err != nil {
		k.fail("list: %v", err)
		return list, err
	}
	const maxLines = 20
	n, bad := 0, 0
	seen := map[string]bool{}
	invalid := func(format string, args ...any) {
		bad++
		if bad <= maxLines {
			k.fail(format, args...)
		} else {
			k.problems++
		}
	}
	for _, p := range list.pages {
		for _, err := range p.rejected {
			invalid("list: %v", err)
		}
		for _, e := range p.entries {
			n++
			if seen[e.name] {
				invalid("list: stream %s listed twice", e.name)
			}
			seen[e.name] = true
			if e.err != nil {
				invalid("list: %v (livedge skips this stream)", e.err)
			}
		}
	}
	if bad > maxLines {
		k.line("FAIL", "list: ... and %d more", bad-maxLines)
	}
	k.ok("list: %d stream(s) in %d page(s), %d invalid", n, len(list.pages), bad)
	k.reportHeaders(list)

	// ETag: a second poll must cost the backend little.
	first := c.pages[""]
	if first.etag == "" {
		k.info("list: no ETag; each poll costs a full answer (send ETag and honour If-None-Match to save it)")
		return list, nil
	}
	rctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	resp, err := c.fetch.get(rctx, c.be.endpoint(pathStreams, ""), c.be.auth, first.etag)
	cancel()
	switch {
	case err != nil:
		k.fail("list with If-None-Match: %v", err)
	case resp.code == http.StatusNotModified:
		k.ok("list: ETag honoured (304 Not Modified)")
	default:
		k.warn("list: ETag sent but If-None-Match answered %d, not 304", resp.code)
	}
	return list, nil
}

func (k *checker) reportHeaders(list listResult) {
	for _, x := range []struct{ key, readAs string }{
		{headerSeparate, "off"}, {headerDynamic, "on"}, {headerEpisodes, "off"},
	} {
		v := strings.TrimSpace(list.header.Get(x.key))
		if v != "" && !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
			k.warn("header %s: %q is neither true nor false; livedge reads it as %s", x.key, v, x.readAs)
		}
	}
	f := list.feat
	k.info("features: separate endpoints %s, dynamic streams %s, episodes %s",
		onOff(f.separate), onOff(!f.dynamicOff), onOff(f.episodes))
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func (k *checker) firstValidName(list listResult) string {
	for _, p := range list.pages {
		for _, e := range p.entries {
			if e.err == nil && !e.disabled {
				return e.name
			}
		}
	}
	return ""
}

// checkNameQueries asks both endpoint styles for names: the one the diff
// step uses must work; the other is reported.
func (k *checker) checkNameQueries(ctx context.Context, f features, known, unknown string) {
	for _, ep := range []string{pathStreams, pathUpdate} {
		used := (ep == pathStreams) != f.separate
		report := k.fail
		if !used {
			report = k.info
		}
		what := fmt.Sprintf("name query %s", ep)
		if !used {
			what += " (not used: separate endpoints " + onOff(f.separate) + ")"
		}
		names := []string{unknown}
		if known != "" {
			names = []string{known, unknown}
		}
		ans, err := k.c.queryNames(ctx, ep, names)
		if err != nil {
			report("%s: %v", what, err)
			continue
		}
		for _, p := range ans.problems {
			report("%s: %s", what, p)
		}
		got := map[string]bool{}
		for _, e := range ans.entries {
			got[e.name] = true
			if e.err != nil {
				report("%s: %v", what, e.err)
			}
		}
		if ans.unasked > 0 {
			k.warn("%s: answer holds %d stream(s) not asked for (livedge ignores them); does the backend read name=?", what, ans.unasked)
		}
		if known != "" && !got[known] {
			// Asked alone, does it come back? If so, the list form is the problem.
			alone, err := k.c.queryNames(ctx, ep, []string{known})
			if err == nil && len(alone.entries) > 0 {
				report("%s: %s comes back when asked alone but not in name=%s,%s: split name= on commas", what, known, known, unknown)
			} else if used {
				k.info("%s: listed stream %s is not returned when asked by name (livedge asks only for streams the list omits)", what, known)
			}
		}
		if got[unknown] {
			k.info("%s: the backend configured the made-up name %s (fine if it configures any name)", what, unknown)
		}
		k.ok("%s: answered (%d stream(s))", what, len(ans.entries))
	}
}

// checkDynamic asks for a made-up name the way a viewer's request would.
func (k *checker) checkDynamic(ctx context.Context, f features, listed bool, unknown string) {
	if listed && f.dynamicOff {
		k.info("dynamic names: off (X-Config-Server-Dynamic-Streams: false); viewers of unknown names get 404 without a request")
		return
	}
	ep := pathStreams
	if f.separate {
		ep = pathDynamic
	}
	name := unknown + "-dyn"
	ctx, cancel := context.WithTimeout(ctx, min(k.c.o.Timeout, LookupWait))
	defer cancel()
	ans, err := k.c.queryNames(ctx, ep, []string{name})
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			k.fail("dynamic name via %s: no answer within %v (viewers wait at most that long)", ep, min(k.c.o.Timeout, LookupWait))
			return
		}
		k.fail("dynamic name via %s: %v (answer 200 with {\"streams\":[]} for a name you do not know)", ep, err)
		return
	}
	for _, p := range ans.problems {
		k.fail("dynamic name via %s: %s", ep, p)
	}
	for _, e := range ans.entries {
		if e.err != nil {
			k.fail("dynamic name via %s: %v", ep, e.err)
			return
		}
	}
	if len(ans.entries) > 0 {
		k.ok("dynamic name via %s: the backend configured %s", ep, name)
		return
	}
	k.ok("dynamic name via %s: unknown name answered with no stream", ep)
}

// checkEpisodes asks for episodes when the backend advertises them.
func (k *checker) checkEpisodes(ctx context.Context, list listResult) {
	if !list.feat.episodes {
		k.info("episodes: off (no X-Config-Server-Episodes: true)")
		return
	}
	type probe struct {
		name string
		url  string
	}
	var probes []probe
	for _, p := range list.pages {
		for _, e := range p.entries {
			if e.err == nil && e.episodes != nil && len(probes) < 3 {
				probes = append(probes, probe{e.name, *e.episodes})
			}
		}
	}
	if len(probes) == 0 {
		k.warn("episodes: advertised, but no listed stream has dvr.episodes_url, so none will be asked; probing %s anyway", pathEpisodes)
		name := k.firstValidName(list)
		if name == "" {
			name = "livedge-check-" + randomHex(6)
		}
		probes = append(probes, probe{name, ""})
	}
	to := time.Now()
	from := to.Add(-24 * time.Hour)
	for _, p := range probes {
		t, err := k.c.be.episodesEndpoint(p.url)
		if err != nil {
			k.fail("episodes of %s: %v", p.name, err)
			continue
		}
		ans, err := k.c.fetchEpisodes(ctx, t, p.name, from, to)
		if err != nil {
			k.fail("episodes of %s: %v (livedge's DVR cleanup then keeps everything episodes might protect)", p.name, err)
			continue
		}
		if ans.none {
			k.ok("episodes of %s: 501 (the backend keeps no episodes)", p.name)
			continue
		}
		k.ok("episodes of %s: %d episode(s) in the last 24 h", p.name, len(ans.ranges))
	}
}

// checkTimings reports slow answers: the protocol targets 100 ms.
func (k *checker) checkTimings() {
	k.rec.mu.Lock()
	defer k.rec.mu.Unlock()
	var slowest exchange
	for _, x := range k.rec.log {
		if x.took > slowest.took {
			slowest = x
		}
	}
	k.info("%d request(s) made", len(k.rec.log))
	if slowest.took > slowAnswer {
		k.warn("slowest answer %v (%s); the protocol targets %v, and a fleet polls every 2-3 s", slowest.took.Round(time.Millisecond), slowest.path, slowAnswer)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// recordingTransport times every exchange for the checker.
type recordingTransport struct {
	rt  http.RoundTripper
	mu  sync.Mutex
	log []exchange
}

type exchange struct {
	path string
	code int
	took time.Duration
}

func (t *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.rt.RoundTrip(req)
	x := exchange{path: pathOf(req.URL), took: time.Since(start)}
	if err == nil {
		x.code = resp.StatusCode
	}
	t.add(x)
	return resp, err
}

func pathOf(u *url.URL) string {
	v := *u
	v.User = nil
	if q := v.Query(); q.Has("name") || q.Has("media") || q.Has("cursor") {
		var keys []string
		for key := range q {
			keys = append(keys, key)
		}
		slices.Sort(keys)
		v.RawQuery = strings.Join(keys, "=…&") + "=…"
	} else {
		v.RawQuery = ""
	}
	return v.String()
}

func (t *recordingTransport) add(x exchange) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.log = append(t.log, x)
}
