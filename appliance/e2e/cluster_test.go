package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Cluster timing of these tests: peers poll every 200 ms and count as dead
// after 1 s without an answer.
const (
	clusterFetch = 200 * time.Millisecond
	clusterStale = time.Second
)

// clusterMember is one livedge of a test cluster. It listens on 127.0.0.1
// (the internal address peers poll) and on 127.0.0.(10+i) (its public
// address, where viewers are redirected), so a redirect shows which address
// it names.
type clusterMember struct {
	name          string
	port          int
	internal, pub string // HOST:PORT
	conf          string // path of its config file
	*server
}

// newClusterMembers picks the addresses of n members.
func newClusterMembers(t *testing.T, n int) []*clusterMember {
	ms := make([]*clusterMember, n)
	for i := range ms {
		port := freePort(t)
		ms[i] = &clusterMember{
			name:     fmt.Sprintf("s%d", i+1),
			port:     port,
			internal: fmt.Sprintf("127.0.0.1:%d", port),
			pub:      fmt.Sprintf("127.0.0.%d:%d", 11+i, port),
			conf:     filepath.Join(t.TempDir(), fmt.Sprintf("s%d.conf", i+1)),
		}
	}
	return ms
}

// writeConf writes member i's config: its listeners and name, every other
// member as a peer, then extra. The last member declares its public
// address itself (`public`); the others' are in their peers' peer blocks.
func writeConf(t *testing.T, ms []*clusterMember, i int, key, extra string) {
	m := ms[i]
	var b strings.Builder
	fmt.Fprintf(&b, "http %s;\nhttp %s;\nhostname %s;\ncluster_key %s;\n", m.internal, m.pub, m.name, key)
	last := len(ms) - 1
	if i == last {
		fmt.Fprintf(&b, "public %s;\n", m.pub)
	}
	for j, p := range ms {
		if j == i {
			continue
		}
		fmt.Fprintf(&b, "peer %s {\n", p.internal)
		if j != last {
			fmt.Fprintf(&b, "  public %s;\n", p.pub)
		}
		fmt.Fprintf(&b, "  fetch_timeout %dms;\n  stale_timeout %dms;\n}\n", clusterFetch.Milliseconds(), clusterStale.Milliseconds())
	}
	b.WriteString(extra)
	if err := os.WriteFile(m.conf, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (m *clusterMember) start(t *testing.T) {
	m.server = startServerFile(t, m.conf, "http://"+m.internal)
}

// peersLive waits until m sees want peers live.
func (m *clusterMember) peersLive(t *testing.T, want int) {
	t.Helper()
	waitUntil(t, 15*time.Second, m.name+" sees its peers live", func() bool {
		return m.countPeers("live") == want
	})
}

func (m *clusterMember) countPeers(state string) int {
	var list struct {
		Peers []struct {
			State string `json:"state"`
		} `json:"peers"`
	}
	code, body, _ := m.call("GET", "/streamer/api/v3/cluster/peers", "", "")
	if code != http.StatusOK || json.Unmarshal(body, &list) != nil {
		return -1
	}
	n := 0
	for _, p := range list.Peers {
		if p.State == state {
			n++
		}
	}
	return n
}

// noFollow is a client that shows redirects instead of following them.
var noFollow = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// ask requests path of m without following a redirect.
func (m *clusterMember) ask(t *testing.T, path string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", m.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatalf("GET %s%s: %v", m.base, path, err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

// Every member redirects viewers of a stream it does not have to the public
// address of the member that has it (running or on demand), over the
// viewer's scheme, and never redirects a redirected viewer again.
func TestClusterRedirects(t *testing.T) {
	needFFmpeg(t)
	ms := newClusterMembers(t, 3)
	for i := range ms {
		// s1 runs a1; s2 has a2 on demand; s3 runs a3.
		static := "static; "
		if i == 1 {
			static = ""
		}
		writeConf(t, ms, i, "k1", fmt.Sprintf("stream a%d { input testsrc://?bitrate=300k&size=320x176; %s}\n", i+1, static))
		ms[i].start(t)
	}
	for _, m := range ms {
		m.peersLive(t, 2)
	}
	// Tables travel at the next poll after a peer is live.
	waitUntil(t, 10*time.Second, "s1 redirects a3", func() bool {
		code, _ := ms[0].ask(t, "/a3/index.m3u8")
		return code == http.StatusFound
	})
	for _, tt := range []struct {
		from       int
		path, want string
		header     []string
	}{
		{0, "/a2/index.m3u8", "http://" + ms[1].pub + "/a2/index.m3u8?cluster_redirect=1", nil},
		{0, "/a3/mpegts", "http://" + ms[2].pub + "/a3/mpegts?cluster_redirect=1", nil},
		{2, "/a1/embed.html?token=x%20y&a=1", "http://" + ms[0].pub + "/a1/embed.html?token=x%20y&a=1&cluster_redirect=1", nil},
		{1, "/a1/playlist.m3u8", "https://" + ms[0].pub + "/a1/playlist.m3u8?cluster_redirect=1", []string{"X-Forwarded-Proto", "https"}},
		{2, "/a2/2026/11/23/10/00/00-02000.ts", "http://" + ms[1].pub + "/a2/2026/11/23/10/00/00-02000.ts?cluster_redirect=1", nil},
	} {
		code, loc := ms[tt.from].ask(t, tt.path, tt.header...)
		if code != http.StatusFound || loc != tt.want {
			t.Errorf("%s %s: %d Location %q, want 302 %q", ms[tt.from].name, tt.path, code, loc, tt.want)
		}
	}
	// A stream here is served here; unknown names and redirected viewers of
	// streams not here get 404, never another redirect.
	if code, loc := ms[0].ask(t, "/a1/embed.html"); code != http.StatusOK {
		t.Errorf("s1 own stream: %d %q", code, loc)
	}
	for _, path := range []string{"/nope/index.m3u8", "/a2/index.m3u8?cluster_redirect=1", "/a3/mpegts?x=1&cluster_redirect=1"} {
		if code, loc := ms[0].ask(t, path); code != http.StatusNotFound {
			t.Errorf("s1 %s: %d %q, want 404", path, code, loc)
		}
	}
	_, metrics, _ := ms[0].get("/metrics")
	for _, want := range []string{`livedge_cluster_peers{state="live"} 2`, "livedge_cluster_redirects_total "} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("s1 /metrics lacks %q", want)
		}
	}
	// Real clients follow the redirect and play.
	wantCodecs(t, ms[0].base+"/a2/index.m3u8", "h264")
	wantCodecs(t, ms[2].base+"/a1/mpegts", "h264")
}

// Servers with another cluster_key stay apart: the poll is refused with
// 403 and nothing is redirected there.
func TestClusterWrongKey(t *testing.T) {
	ms := newClusterMembers(t, 2)
	writeConf(t, ms, 0, "right", "stream only1 { input testsrc://?bitrate=300k&size=320x176; static; }\n")
	writeConf(t, ms, 1, "wrong", "")
	for _, m := range ms {
		m.start(t)
	}
	waitUntil(t, 10*time.Second, "both see the other forbidden", func() bool {
		return ms[0].countPeers("forbidden") == 1 && ms[1].countPeers("forbidden") == 1
	})
	if code, loc := ms[1].ask(t, "/only1/index.m3u8"); code != http.StatusNotFound {
		t.Fatalf("a peer with another key redirected: %d %q", code, loc)
	}
	code, body, _ := ms[0].call("GET", "/streamer/api/v3/cluster/table", "", "Cluster 1:0000")
	if code != http.StatusForbidden || !strings.Contains(string(body), `"status":"403"`) {
		t.Fatalf("table with a bad key: %d %s", code, body)
	}
}

// A member over its max_bitrate sends new viewers of a stream to the other
// member that has it.
func TestClusterBalancesLoad(t *testing.T) {
	ms := newClusterMembers(t, 2)
	const stream = "stream shared { input testsrc://?bitrate=1000k&size=320x176; static; }\n"
	writeConf(t, ms, 0, "k2", "max_bitrate 2M;\ncluster_balance usage;\n"+stream)
	writeConf(t, ms, 1, "k2", "max_bitrate 1G;\n"+stream)
	for _, m := range ms {
		m.start(t)
	}
	ms[0].peersLive(t, 1)
	if code, loc := ms[0].ask(t, "/shared/mpegts"); code != http.StatusOK {
		t.Fatalf("idle s1: %d %q, want 200", code, loc)
	}
	// Keep s1 busy: viewers that already were redirected stay on it.
	load := exec.Command(binPath, "load", "-c", "4", "-ramp", "1s", "-d", "30s", "-json",
		ms[0].base+"/shared/mpegts?cluster_redirect=1")
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = load.Process.Kill(); _ = load.Wait() })
	want := "http://" + ms[1].pub + "/shared/mpegts?cluster_redirect=1"
	waitUntil(t, 20*time.Second, "busy s1 sends a new viewer to s2", func() bool {
		code, loc := ms[0].ask(t, "/shared/mpegts")
		return code == http.StatusFound && loc == want
	})
	// s2 is not over its limit: it serves.
	if code, loc := ms[1].ask(t, "/shared/mpegts"); code != http.StatusOK {
		t.Fatalf("s2: %d %q, want 200", code, loc)
	}
}

// captureChecker polls every member's stream list every 200 ms and keeps,
// per stream, the longest time it saw the stream captured twice or by no one.
type captureChecker struct {
	ms      []*clusterMember
	streams []string

	mu                 sync.Mutex
	since2, since0     map[string]time.Time
	longest2, longest0 time.Duration
	owners             map[string][]string
	sampledAt          time.Time // when owners was taken
	stop               chan struct{}
	done               chan struct{}
}

func newCaptureChecker(ms []*clusterMember, streams []string) *captureChecker {
	c := &captureChecker{ms: ms, streams: streams, since2: map[string]time.Time{}, since0: map[string]time.Time{},
		owners: map[string][]string{}, stop: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c
}

// running lists the streams m runs, nil when m does not answer. (It reads
// only m's fixed fields: the test restarts members while the checker runs.)
func running(m *clusterMember) (map[string]bool, bool) {
	client := &http.Client{Timeout: time.Second}
	resp, err := client.Get("http://" + m.internal + "/streamer/api/v3/streams?limit=1000")
	if err != nil {
		return nil, false
	}
	defer resp.Body.Close()
	var list struct {
		Streams []struct {
			Name  string `json:"name"`
			Stats struct {
				Running bool `json:"running"`
			} `json:"stats"`
		} `json:"streams"`
	}
	if json.NewDecoder(resp.Body).Decode(&list) != nil {
		return nil, false
	}
	out := map[string]bool{}
	for _, s := range list.Streams {
		if s.Stats.Running {
			out[s.Name] = true
		}
	}
	return out, true
}

func (c *captureChecker) run() {
	defer close(c.done)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-tick.C:
		}
		now := time.Now()
		owners := map[string][]string{}
		for _, m := range c.ms {
			run, ok := running(m)
			if !ok {
				continue // a dead member captures nothing
			}
			for name := range run {
				owners[name] = append(owners[name], m.name)
			}
		}
		c.mu.Lock()
		c.owners, c.sampledAt = owners, now
		for _, s := range c.streams {
			c.track(c.since2, &c.longest2, s, len(owners[s]) > 1, now)
			c.track(c.since0, &c.longest0, s, len(owners[s]) == 0, now)
		}
		c.mu.Unlock()
	}
}

func (c *captureChecker) track(since map[string]time.Time, longest *time.Duration, s string, bad bool, now time.Time) {
	start, was := since[s]
	switch {
	case bad && !was:
		since[s] = now
	case bad && was:
		*longest = max(*longest, now.Sub(start))
	case !bad && was:
		*longest = max(*longest, now.Sub(start))
		delete(since, s)
	}
}

// sampledSince tells whether the checker looked at the members after t.
func (c *captureChecker) sampledSince(t time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sampledAt.After(t)
}

func (c *captureChecker) ownersOf(s string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.owners[s]
}

// reset forgets what was seen so far (the cluster's start-up).
func (c *captureChecker) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.longest0, c.longest2 = 0, 0
	clear(c.since0)
	clear(c.since2)
}

func (c *captureChecker) worst() (twice, none time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.longest2, c.longest0
}

func (c *captureChecker) close() {
	close(c.stop)
	<-c.done
}

// Ten cluster_ingest streams spread over three members, each captured by
// exactly one; a member killed with SIGKILL has its streams captured
// elsewhere, and takes them back when it returns.
func TestClusterIngest(t *testing.T) {
	ms := newClusterMembers(t, 3)
	var streams []string
	var conf strings.Builder
	for i := range 10 {
		name := fmt.Sprintf("ing%d", i)
		streams = append(streams, name)
		fmt.Fprintf(&conf, "stream %s { input testsrc://?bitrate=100k&size=160x96; cluster_ingest; }\n", name)
	}
	for i := range ms {
		writeConf(t, ms, i, "k3", conf.String())
		ms[i].start(t)
	}
	for _, m := range ms {
		m.peersLive(t, 2)
	}
	checker := newCaptureChecker(ms, streams)
	defer checker.close()
	byOwner := func() map[string][]string {
		out := map[string][]string{}
		for _, s := range streams {
			if o := checker.ownersOf(s); len(o) == 1 {
				out[o[0]] = append(out[o[0]], s)
			}
		}
		return out
	}
	allOnce := func() bool {
		for _, s := range streams {
			if len(checker.ownersOf(s)) != 1 {
				return false
			}
		}
		return true
	}
	waitUntil(t, 15*time.Second, "every stream captured exactly once", allOnce)
	before := byOwner()
	t.Logf("owners: %v", before)
	// Names and hashes are fixed, so the split is too (7/2/1): every member
	// captures some.
	if len(before) != len(ms) {
		t.Errorf("10 streams on %d of %d members: not spread", len(before), len(ms))
	}
	checker.reset()

	victim := ms[1]
	lost := before[victim.name]
	_ = victim.cmd.Process.Kill()
	<-victim.done
	killed := time.Now()
	waitUntil(t, 15*time.Second, "the victim's streams captured elsewhere", func() bool {
		if !checker.sampledSince(killed) {
			return false
		}
		for _, s := range lost {
			if o := checker.ownersOf(s); len(o) != 1 || o[0] == victim.name {
				return false
			}
		}
		return allOnce()
	})
	after := byOwner()
	// Streams of the members that stayed did not move.
	for _, owner := range []string{ms[0].name, ms[2].name} {
		for _, s := range before[owner] {
			if o := checker.ownersOf(s); len(o) != 1 || o[0] != owner {
				t.Errorf("%s moved from %s to %v when %s died", s, owner, o, victim.name)
			}
		}
	}
	t.Logf("owners without %s: %v", victim.name, after)

	victim.start(t)
	waitUntil(t, 15*time.Second, "the returned member owns its streams again", func() bool {
		for _, s := range lost {
			if o := checker.ownersOf(s); len(o) != 1 || o[0] != victim.name {
				return false
			}
		}
		return allOnce()
	})
	// The checker polls every 200 ms, which also bounds its precision.
	twice, none := checker.worst()
	t.Logf("longest double capture %v, longest without capture %v", twice, none)
	const slack = time.Second // the checker's sampling and a loaded machine
	if twice > clusterFetch+slack {
		t.Errorf("a stream was captured twice for %v (one poll period is %v)", twice, clusterFetch)
	}
	if bound := clusterStale + clusterFetch; none > bound+slack {
		t.Errorf("a stream was captured by nobody for %v (bound %v)", none, bound)
	}
}
