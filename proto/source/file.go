package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"

	"github.com/livedge/livedge/engine"
	"github.com/livedge/livedge/proto/mpegts"
)

// fileSource plays an MPEG-TS file in a loop, in real time.
type fileSource struct {
	path string
	log  *slog.Logger
}

// newFile parses file:///path (or file://localhost/path).
func newFile(u *url.URL, log *slog.Logger) (*fileSource, error) {
	if u.Opaque != "" || (u.Host != "" && u.Host != "localhost") || u.Path == "" {
		return nil, fmt.Errorf("input %s: file URL is file:///absolute/path", u.Redacted())
	}
	return &fileSource{path: u.Path, log: log}, nil
}

// Run plays the file until ctx ends or the file cannot be read. Each loop
// starts its timestamps again from the file's: the engine keeps the stream's
// timeline continuous across the jump.
func (s *fileSource) Run(ctx context.Context, sink engine.Sink) error {
	p := newPacer(ctx, sink)
	defer p.stop()
	for {
		f, err := os.Open(s.path)
		if err != nil {
			return fmt.Errorf("file source: %w", err)
		}
		p.restart()
		err = mpegts.NewDemuxer(p, s.log).Run(ctx, f)
		f.Close()
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		if !errors.Is(err, io.EOF) {
			return fmt.Errorf("file source: read %s: %w", s.path, err)
		}
		if p.frames == 0 {
			return fmt.Errorf("file source: %s holds no H.264, H.265 or AAC frames", s.path)
		}
	}
}
