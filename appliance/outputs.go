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

// outputOptions are what every stream's packagers share: the memory their
// chunks live in and the HTTP MPEG-TS slow-viewer policy.
type outputOptions struct {
	pool *mpegts.Pool // nil: chunks on the heap
	ts   httpts.Options
}

// outputsFactory makes the packagers of streams whose TS chunks live in
// pool (one pool for all streams, made at start from memory_pool) and
// whose HTTP MPEG-TS viewers follow ts.
func outputsFactory(pool *mpegts.Pool, ts httpts.Options) engine.PackagerFactory {
	return outputOptions{pool: pool, ts: ts}.newOutputs
}

// newOutputs makes a stream's packagers with chunks on the heap and the
// default viewer policy.
var newOutputs = outputsFactory(nil, httpts.Options{})

func (o outputOptions) newOutputs(s *engine.Stream) engine.Packager {
	cfg := s.Config()
	// 256 chunks: at least one GOP for resyncing viewers, seconds not minutes of memory.
	ch := mpegts.NewChunker(mpegts.ChunkerOptions{RingSize: 256, Pool: o.pool})
	return &outputs{
		Chunker: ch,
		hls:     hls.New(ch, cfg.SegmentTarget(), cfg.Segments()),
		ts:      httpts.NewHub(ch, o.ts),
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
