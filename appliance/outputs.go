package appliance

import (
	"github.com/livedge/livedge/engine"
	"github.com/livedge/livedge/netio"
	"github.com/livedge/livedge/proto/hls"
	"github.com/livedge/livedge/proto/httpts"
	"github.com/livedge/livedge/proto/mpegts"
)

// outputs is a stream's packager: one TS chunker whose bytes are shared by
// the HLS segmenter and the HTTP MPEG-TS viewers.
type outputs struct {
	*mpegts.Chunker
	hls *hls.Packager
	ts  *httpts.Hub
}

func newOutputs(s *engine.Stream) engine.Packager {
	cfg := s.Config()
	// 256 chunks: at least one GOP for resyncing viewers, seconds not minutes of memory.
	ch := mpegts.NewChunker(mpegts.ChunkerOptions{RingSize: 256})
	return &outputs{
		Chunker: ch,
		hls:     hls.New(ch, cfg.SegmentTarget(), cfg.Segments()),
		ts:      httpts.NewHub(ch),
	}
}

func (o *outputs) Close() {
	o.hls.Close()
	o.ts.Close()
	o.Chunker.Close()
}

func outputsOf(s *engine.Stream) *outputs { return s.Packager().(*outputs) }

// tsFeed adapts an HTTP MPEG-TS viewer to the network layer and counts it
// as a viewer of its stream while it lasts.
type tsFeed struct {
	*httpts.Viewer
	stream *engine.Stream
}

func (f tsFeed) Start(w netio.Waker) { f.Viewer.Start(w) }

func (f tsFeed) Close() {
	f.Viewer.Close()
	f.stream.AddViewer(-1)
}
