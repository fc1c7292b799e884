package appliance

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/livedge/livedge/appliance/player"
	"github.com/livedge/livedge/engine"
	"github.com/livedge/livedge/netio"
	"github.com/livedge/livedge/proto/hls"
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
type router struct {
	streams *engine.Registry
	// startWait bounds how long a first viewer waits for an on-demand stream.
	startWait time.Duration
}

func (rt *router) ServeHTTP(rw *netio.ResponseWriter, req *netio.Request) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		rw.SetHeader("Allow", "GET, HEAD")
		rw.Error(http.StatusMethodNotAllowed, "method_not_allowed", "method "+req.Method+" is not allowed here")
		return
	}
	path := req.Path
	if strings.HasPrefix(path, apiPrefix) {
		rt.serveAPI(rw, req)
		return
	}
	if path == player.HLSJSPath {
		rw.SetHeader("Cache-Control", "public, max-age=86400")
		rw.Write(http.StatusOK, typeJS, player.HLSJS)
		return
	}
	if name, seg, ok := hls.SplitSegmentPath(path); ok {
		rt.serveSegment(rw, name, seg)
		return
	}
	name, kind := splitStreamPath(path)
	switch kind {
	case "index.m3u8", "playlist.m3u8":
		rt.servePlaylist(rw, name)
	case "mpegts":
		rt.serveMPEGTS(rw, name)
	case "embed.html":
		if _, ok := rt.streams.Configured(name); !ok {
			notFound(rw, name)
			return
		}
		rw.SetHeader("Cache-Control", "no-cache")
		rw.Write(http.StatusOK, typeHTML, player.EmbedHTML)
	default:
		rw.Error(http.StatusNotFound, "not_found", "no such resource: "+path)
	}
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

// acquire finds the stream, starting it when it is on-demand; it answers
// 404 itself when there is no such stream.
func (rt *router) acquire(rw *netio.ResponseWriter, name string) (*engine.Stream, bool) {
	s, err := rt.streams.Acquire(name)
	if errors.Is(err, engine.ErrNotFound) || name == "" {
		notFound(rw, name)
		return nil, false
	}
	if err != nil {
		rw.Error(http.StatusServiceUnavailable, "stream_unavailable", err.Error())
		return nil, false
	}
	return s, true
}

func (rt *router) servePlaylist(rw *netio.ResponseWriter, name string) {
	s, ok := rt.acquire(rw, name)
	if !ok {
		return
	}
	out := outputsOf(s)
	if body, ok := out.hls.Playlist(); ok {
		writePlaylist(rw, body)
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

func (rt *router) serveSegment(rw *netio.ResponseWriter, name, seg string) {
	s, ok := rt.streams.Get(name)
	if !ok {
		notFound(rw, name)
		return
	}
	s.Touch()
	body, ok := outputsOf(s).hls.Segment(seg)
	if !ok {
		rw.Error(http.StatusNotFound, "segment_not_found", "segment "+seg+" of "+name+" is not available")
		return
	}
	rw.SetHeader("Cache-Control", "max-age=60")
	rw.SetHeader("Access-Control-Allow-Origin", "*")
	rw.Write(http.StatusOK, typeTS, body...)
}

func (rt *router) serveMPEGTS(rw *netio.ResponseWriter, name string) {
	s, ok := rt.acquire(rw, name)
	if !ok {
		return
	}
	start := func() {
		s.AddViewer(1)
		rw.SetHeader("Cache-Control", "no-cache")
		rw.Stream(http.StatusOK, typeTS, tsFeed{Viewer: outputsOf(s).ts.NewViewer(), stream: s})
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
