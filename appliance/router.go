package appliance

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livedge/livedge/appliance/player"
	"github.com/livedge/livedge/cluster"
	"github.com/livedge/livedge/engine"
	"github.com/livedge/livedge/netio"
	"github.com/livedge/livedge/proto/hls"
	"github.com/livedge/livedge/proto/mpegts"
)

// Content types of what viewers get.
const (
	typePlaylist = "application/vnd.apple.mpegurl"
	typeTS       = "video/mp2t"
	typeHTML     = "text/html; charset=utf-8"
	typeJS       = "text/javascript; charset=utf-8"
)

// router serves the viewer URLs (Flussonic's): /NAME/index.m3u8,
// /NAME/playlist.m3u8, /NAME/<segment>.ts, /NAME/mpegts, /NAME/embed.html.
// It runs on the event loop: anything that waits is held and finished from
// a goroutine.
//
// It also serves the API v3 (api.go), which changes the config through store.
type router struct {
	streams *engine.Registry
	store   *configStore
	// pool holds the streams' TS chunks (nil in tests: the heap).
	pool     *mpegts.Pool
	sessions *sessionTable
	// startWait bounds how long a first viewer waits for an on-demand stream.
	startWait time.Duration
	startedAt time.Time
	// outputKbit is the rate of bytes to viewers, updated every second.
	outputKbit atomic.Uint64
	// ready: the config is applied; stopping: shutdown began.
	ready, stopping atomic.Bool
	// metrics renders GET /metrics (metrics.go).
	metrics metricsExporter
	// cluster decides redirects to peers (cluster.go); nil in tests of a
	// server alone.
	cluster *cluster.Node
	// redirects counts viewers sent to peers.
	redirects atomic.Uint64
}

func (rt *router) ServeHTTP(rw *netio.ResponseWriter, req *netio.Request) {
	path := req.Path
	if path == cluster.TablePath {
		rt.serveClusterTable(rw, req)
		return
	}
	if strings.HasPrefix(path, apiPrefix) {
		rt.serveAPI(rw, req)
		return
	}
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		rw.SetHeader("Allow", "GET, HEAD")
		rw.Error(http.StatusMethodNotAllowed, "method_not_allowed", "method "+req.Method+" is not allowed here")
		return
	}
	if path == metricsPath {
		rt.serveMetrics(rw, req)
		return
	}
	if path == player.HLSJSPath {
		rw.SetHeader("Cache-Control", "public, max-age=86400")
		rw.Write(http.StatusOK, typeJS, player.HLSJS)
		return
	}
	if name, seg, ok := hls.SplitSegmentPath(path); ok {
		if !rt.clusterRedirect(rw, req, name) {
			rt.serveSegment(rw, req, name, seg)
		}
		return
	}
	name, kind := splitStreamPath(path)
	if serve, ok := viewerRoutes[kind]; ok && name != "" {
		if !rt.clusterRedirect(rw, req, name) {
			serve(rt, rw, req, name)
		}
		return
	}
	rw.Error(http.StatusNotFound, "not_found", "no such resource: "+path)
}

// metricsPath serves Prometheus metrics.
const metricsPath = "/metrics"

// viewerRoutes serve /NAME/KIND by KIND. (Segments, /NAME/<segment>.ts,
// and the player's script have their own paths.)
var viewerRoutes = map[string]func(rt *router, rw *netio.ResponseWriter, req *netio.Request, name string){
	"index.m3u8":    (*router).servePlaylist,
	"playlist.m3u8": (*router).servePlaylist,
	"mpegts":        (*router).serveMPEGTS,
	"embed.html":    (*router).serveEmbed,
}

func (rt *router) serveEmbed(rw *netio.ResponseWriter, _ *netio.Request, name string) {
	write := func() {
		rw.SetHeader("Cache-Control", "no-cache")
		rw.Write(http.StatusOK, typeHTML, player.EmbedHTML)
	}
	if _, ok := rt.streams.Configured(name); ok {
		write()
		return
	}
	client := rt.externalClient()
	if client == nil || name == "" {
		notFound(rw, name)
		return
	}
	// A name the config backend may know: ask it off the loop.
	rw.Hold()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), lookupWait)
		defer cancel()
		if _, found, err := client.Lookup(ctx, name); err != nil || !found {
			notFound(rw, name)
			return
		}
		write()
	}()
}

// splitStreamPath splits "/a/b/index.m3u8" into ("a/b", "index.m3u8").
func splitStreamPath(path string) (name, kind string) {
	i := strings.LastIndexByte(path, '/')
	if i <= 0 {
		return "", ""
	}
	return path[1:i], path[i+1:]
}

func notFound(rw *netio.ResponseWriter, name string) {
	rw.Error(http.StatusNotFound, "stream_not_found", "stream "+name+" is not configured")
}

func (rt *router) servePlaylist(rw *netio.ResponseWriter, req *netio.Request, name string) {
	rt.acquireOrLookup(rw, req, name, (*router).playlistOf)
}

// playlistOf answers a playlist request for a stream found by acquireOrLookup.
func (rt *router) playlistOf(rw *netio.ResponseWriter, req *netio.Request, name string, s *engine.Stream) {
	out := outputsOf(s)
	if body, hold, ok := out.hls.AcquirePlaylist(); ok {
		rt.sessions.hlsRequest(name, req, len(body))
		writePlaylist(rw, body)
		hold.Release()
		return
	}
	// First viewer of a starting stream: wait for its first segment.
	rw.Hold()
	go func() {
		t := time.NewTimer(rt.startWait)
		defer t.Stop()
		select {
		case <-out.hls.Ready():
			body, _ := out.hls.Playlist()
			rt.sessions.hlsRequest(name, req, len(body))
			writePlaylist(rw, body)
		case <-s.Done():
			rw.Error(http.StatusServiceUnavailable, "stream_stopped", "stream "+name+" stopped")
		case <-t.C:
			rw.Error(http.StatusServiceUnavailable, "no_media", "stream "+name+" has no media yet")
		}
	}()
}

func writePlaylist(rw *netio.ResponseWriter, body []byte) {
	rw.SetHeader("Cache-Control", "no-cache")
	rw.SetHeader("Access-Control-Allow-Origin", "*")
	rw.Write(http.StatusOK, typePlaylist, body)
}

// segmentSend is one segment answer in flight: the list its chunks are
// gathered in and the packager's hold on them. netio sends the chunks by
// reference and calls release once they are all in the kernel (or the
// viewer left), which is when the hold may go.
type segmentSend struct {
	body    [][]byte
	hold    hls.Hold
	release func() // done, bound once so that answering allocates nothing
}

// segmentSends recycles segmentSends; each carries its bound release.
var segmentSends sync.Pool

func init() {
	// Set here, not in the declaration: done refers to the pool.
	segmentSends.New = func() any {
		s := new(segmentSend)
		s.release = s.done
		return s
	}
}

// done releases the hold and recycles the answer: netio no longer refers
// to the chunks, nor to the list (it copies the slice headers it keeps).
func (s *segmentSend) done() {
	s.hold.Release()
	s.hold = hls.Hold{}
	clear(s.body)
	s.body = s.body[:0]
	segmentSends.Put(s)
}

func (rt *router) serveSegment(rw *netio.ResponseWriter, req *netio.Request, name, seg string) {
	s, ok := rt.streams.Get(name)
	if !ok {
		notFound(rw, name)
		return
	}
	s.Touch()
	send := segmentSends.Get().(*segmentSend)
	body, hold, ok := outputsOf(s).hls.AcquireSegment(send.body[:0], seg)
	send.body = body
	if !ok {
		send.done()
		rw.Error(http.StatusNotFound, "segment_not_found", "segment "+seg+" of "+name+" is not available")
		return
	}
	send.hold = hold
	n := 0
	for _, b := range body {
		n += len(b)
	}
	rt.sessions.hlsRequest(name, req, n)
	rw.SetHeader("Cache-Control", "max-age=60")
	rw.SetHeader("Access-Control-Allow-Origin", "*")
	// The segment stays held while a slow viewer drains it, without a copy.
	rw.WriteShared(http.StatusOK, typeTS, send.release, body...)
}

func (rt *router) serveMPEGTS(rw *netio.ResponseWriter, req *netio.Request, name string) {
	rt.acquireOrLookup(rw, req, name, (*router).mpegtsOf)
}

// mpegtsOf answers an MPEG-TS request for a stream found by acquireOrLookup.
func (rt *router) mpegtsOf(rw *netio.ResponseWriter, req *netio.Request, name string, s *engine.Stream) {
	start := func() {
		s.AddViewer(1)
		rw.SetHeader("Cache-Control", "no-cache")
		feed := tsFeed{Viewer: outputsOf(s).ts.NewViewer(), stream: s}
		rw.Stream(http.StatusOK, typeTS, rt.sessions.trackFeed(name, req, feed))
	}
	select {
	case <-s.Ready():
		start()
		return
	default:
	}
	rw.Hold()
	go func() {
		t := time.NewTimer(rt.startWait)
		defer t.Stop()
		select {
		case <-s.Ready():
			start()
		case <-s.Done():
			rw.Error(http.StatusServiceUnavailable, "stream_stopped", "stream "+name+" stopped")
		case <-t.C:
			rw.Error(http.StatusServiceUnavailable, "no_media", "stream "+name+" has no media yet")
		}
	}()
}
