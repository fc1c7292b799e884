package appliance

import (
	"net/netip"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livedge/livedge/netio"
)

// Session protocols, as the sessions API names them.
const (
	protoHLS    = "hls"
	protoMPEGTS = "mpegts"
)

// Bounds of the session table.
const (
	// hlsSessionIdle ends an HLS session this long after its last request
	// (HLS has no connection that lasts as long as the viewer).
	hlsSessionIdle = 20 * time.Second
	// maxHLSSessions bounds the table against clients that make up a new
	// identity per request; past it, requests are served but not tracked.
	maxHLSSessions = 100_000
	// maxUserAgent bounds what a session keeps of the User-Agent header.
	maxUserAgent = 256
)

// sessionTable tracks viewer sessions and the bytes sent per stream. An
// HTTP MPEG-TS session is its connection; an HLS session is the requests of
// one (stream, address, user agent) until hlsSessionIdle passes without one.
// Its methods are called on the event loops; they take one mutex briefly.
type sessionTable struct {
	mu      sync.Mutex
	nextID  uint64
	all     map[uint64]*session
	hls     map[hlsKey]*session
	streams map[string]*streamTraffic
	// untracked counts HLS requests not tracked because the table was full.
	untracked atomic.Uint64
	// bytesOut counts every byte handed to viewers, for the output rate.
	bytesOut atomic.Uint64
}

type hlsKey struct {
	stream    string
	ip        netip.Addr
	userAgent string
}

// session is one viewer.
type session struct {
	id        uint64
	stream    string
	proto     string
	ip        netip.Addr
	userAgent string
	openedAt  time.Time
	bytes     atomic.Uint64
	lastSeen  atomic.Int64 // unix ns of the last HLS request
	traffic   *streamTraffic
}

// streamTraffic is what one stream's viewers got.
type streamTraffic struct {
	bytesOut atomic.Uint64
	sessions [2]int // open sessions by protocol (hls, mpegts); guarded by sessionTable.mu
}

func protoIndex(proto string) int {
	if proto == protoHLS {
		return 0
	}
	return 1
}

func newSessionTable() *sessionTable {
	return &sessionTable{
		all:     make(map[uint64]*session),
		hls:     make(map[hlsKey]*session),
		streams: make(map[string]*streamTraffic),
	}
}

func clipUserAgent(ua string) string {
	if len(ua) > maxUserAgent {
		ua = ua[:maxUserAgent]
	}
	return strings.Clone(ua)
}

// open registers a session; t.mu is held.
func (t *sessionTable) open(stream, proto string, ip netip.Addr, ua string, now time.Time) *session {
	tr := t.streams[stream]
	if tr == nil {
		tr = &streamTraffic{}
		t.streams[strings.Clone(stream)] = tr
	}
	tr.sessions[protoIndex(proto)]++
	t.nextID++
	s := &session{id: t.nextID, stream: strings.Clone(stream), proto: proto, ip: ip, userAgent: clipUserAgent(ua),
		openedAt: now, traffic: tr}
	s.lastSeen.Store(now.UnixNano())
	t.all[s.id] = s
	return s
}

// close unregisters a session; t.mu is held.
func (t *sessionTable) close(s *session) {
	if _, ok := t.all[s.id]; !ok {
		return
	}
	delete(t.all, s.id)
	s.traffic.sessions[protoIndex(s.proto)]--
	if s.proto == protoHLS {
		delete(t.hls, hlsKey{s.stream, s.ip, s.userAgent})
	}
}

func (s *session) add(n int) {
	s.bytes.Add(uint64(n))
	s.traffic.bytesOut.Add(uint64(n))
}

// hlsRequest counts an HLS request of stream that sent n bytes.
func (t *sessionTable) hlsRequest(stream string, req *netio.Request, n int) {
	ua := req.Header.Get("User-Agent")
	key := hlsKey{stream, req.RemoteIP, ua}
	if len(ua) > maxUserAgent {
		key.userAgent = ua[:maxUserAgent]
	}
	now := time.Now()
	t.mu.Lock()
	s := t.hls[key]
	if s == nil {
		if len(t.hls) >= maxHLSSessions {
			t.mu.Unlock()
			t.untracked.Add(1)
			t.bytesOut.Add(uint64(n))
			return
		}
		s = t.open(stream, protoHLS, req.RemoteIP, ua, now)
		t.hls[hlsKey{s.stream, s.ip, s.userAgent}] = s
	}
	t.mu.Unlock()
	s.lastSeen.Store(now.UnixNano())
	s.add(n)
	t.bytesOut.Add(uint64(n))
}

// trackFeed opens an HTTP MPEG-TS session that lasts as long as feed.
func (t *sessionTable) trackFeed(stream string, req *netio.Request, feed netio.Feed) netio.Feed {
	t.mu.Lock()
	s := t.open(stream, protoMPEGTS, req.RemoteIP, req.Header.Get("User-Agent"), time.Now())
	t.mu.Unlock()
	end, _ := feed.(netio.FeedEnd)
	drop, _ := feed.(netio.FeedDrop)
	return &sessionFeed{Feed: feed, end: end, drop: drop, sess: s, table: t}
}

// sweep ends HLS sessions idle for hlsSessionIdle and forgets the traffic of
// streams that are not configured and have no sessions.
func (t *sessionTable) sweep(now time.Time, configured func(string) bool) {
	cutoff := now.Add(-hlsSessionIdle).UnixNano()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.hls {
		if s.lastSeen.Load() < cutoff {
			t.close(s)
		}
	}
	for name, tr := range t.streams {
		if tr.sessions == [2]int{} && !configured(name) {
			delete(t.streams, name)
		}
	}
}

// sessionInfo is a session in API v3 shape.
type sessionInfo struct {
	ID        uint64 `json:"id"`
	Name      string `json:"name"`  // the stream
	Proto     string `json:"proto"` // hls, mpegts
	IP        string `json:"ip"`
	UserAgent string `json:"user_agent,omitempty"`
	Bytes     uint64 `json:"bytes"`
	OpenedAt  int64  `json:"opened_at"` // unix ms
}

// list returns the open sessions, oldest first.
func (t *sessionTable) list() []sessionInfo {
	t.mu.Lock()
	out := make([]sessionInfo, 0, len(t.all))
	for _, s := range t.all {
		out = append(out, sessionInfo{ID: s.id, Name: s.stream, Proto: s.proto, IP: s.ip.String(),
			UserAgent: s.userAgent, Bytes: s.bytes.Load(), OpenedAt: s.openedAt.UnixMilli()})
	}
	t.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// streamUsage is one stream's viewers and bytes out.
type streamUsage struct {
	HLS, MPEGTS int
	BytesOut    uint64
}

func (t *sessionTable) usage(stream string) streamUsage {
	t.mu.Lock()
	defer t.mu.Unlock()
	tr := t.streams[stream]
	if tr == nil {
		return streamUsage{}
	}
	return streamUsage{HLS: tr.sessions[0], MPEGTS: tr.sessions[1], BytesOut: tr.bytesOut.Load()}
}

// total returns the number of open sessions.
func (t *sessionTable) total() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.all)
}

// sessionFeed counts what a feed hands out and ends its session with it.
type sessionFeed struct {
	netio.Feed
	end   netio.FeedEnd
	drop  netio.FeedDrop
	sess  *session
	table *sessionTable
}

func (f *sessionFeed) Next(dst [][]byte) [][]byte {
	n := len(dst)
	dst = f.Feed.Next(dst)
	sent := 0
	for _, b := range dst[n:] {
		sent += len(b)
	}
	if sent > 0 {
		f.sess.add(sent)
		f.table.bytesOut.Add(uint64(sent))
	}
	return dst
}

// Ended implements netio.FeedEnd for feeds that can end.
func (f *sessionFeed) Ended() bool { return f.end != nil && f.end.Ended() }

// Dropped implements netio.FeedDrop for feeds that give slow viewers up.
func (f *sessionFeed) Dropped() bool { return f.drop != nil && f.drop.Dropped() }

func (f *sessionFeed) Close() {
	f.Feed.Close()
	f.table.mu.Lock()
	f.table.close(f.sess)
	f.table.mu.Unlock()
}
