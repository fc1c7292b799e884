package source

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/livedge/livedge/engine"
	"github.com/livedge/livedge/proto/internal/tsclip"
)

func TestHTTP(t *testing.T) {
	clip, err := os.ReadFile(testClip(t, "1"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/mp2t")
		// In pieces, as a live origin sends it.
		for off := 0; off < len(clip); off += 4096 {
			w.Write(clip[off:min(off+4096, len(clip))])
			w.(http.Flusher).Flush()
		}
	}))
	defer srv.Close()

	src, err := Open(engine.InputConfig{URL: srv.URL + "/live/mpegts"})
	if err != nil {
		t.Fatal(err)
	}
	sink := &recordSink{}
	err = src.Run(context.Background(), sink)
	if err == nil || !strings.Contains(err.Error(), "ended") {
		t.Errorf("Run: %v, want the stream ended", err)
	}
	c := sink.counts()
	if c.video != 25 || c.audio < 40 || !c.firstKey {
		t.Errorf("%d video frames (want 25), %d audio frames, first key %v", c.video, c.audio, c.firstKey)
	}
	if len(c.codecs) != 2 || c.codecs[0] != engine.CodecH264 || c.codecs[1] != engine.CodecAAC {
		t.Errorf("tracks %v", c.codecs)
	}
}

func TestHTTPStatus(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	src, err := Open(engine.InputConfig{URL: srv.URL + "/missing"})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Run(context.Background(), &recordSink{}); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("Run: %v, want an error with status 404", err)
	}
}

// TestHTTPStall: a body that stops sending ends the source by the idle
// guard, and cancelling a source blocked in a read ends it at once.
func TestHTTPStall(t *testing.T) {
	ts := tsclip.Synth(30, 0, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(ts)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer srv.Close()

	src, err := Open(engine.InputConfig{URL: srv.URL, SourceTimeout: 1})
	if err != nil {
		t.Fatal(err)
	}
	sink := &recordSink{}
	err = src.Run(context.Background(), sink)
	if err == nil || !strings.Contains(err.Error(), "no data") {
		t.Errorf("Run: %v, want no data", err)
	}
	if c := sink.counts(); c.video < 29 {
		t.Errorf("%d video frames before the stall, want 29", c.video)
	}

	stop := runSource(t, src, &recordSink{})
	time.Sleep(100 * time.Millisecond)
	if err := stop(); err != context.Canceled {
		t.Errorf("Run after cancel: %v", err)
	}
}
