package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/livedge/livedge/engine"
	"github.com/livedge/livedge/proto/mpegts"
)

// httpTransport is shared by all HTTP sources. There is no overall client
// timeout (the body of a live stream never ends): connecting, the TLS
// handshake and the response header are bounded, and the body by the idle
// guard. HTTP/2 stays off so that streams from one origin do not share a
// TCP connection and block each other.
var httpTransport = &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	TLSHandshakeTimeout:   10 * time.Second,
	ResponseHeaderTimeout: 10 * time.Second,
	DisableCompression:    true,
	IdleConnTimeout:       30 * time.Second,
}

var httpClient = &http.Client{Transport: httpTransport}

var errHTTPIdle = errors.New("no data")

// httpSource pulls a continuous MPEG-TS body.
type httpSource struct {
	url      string
	redacted string
	idle     time.Duration
	log      *slog.Logger
}

func newHTTP(u *url.URL, in engine.InputConfig, log *slog.Logger) (*httpSource, error) {
	if u.Host == "" {
		return nil, fmt.Errorf("input %s: http URL without host", u.Redacted())
	}
	return &httpSource{url: u.String(), redacted: u.Redacted(), idle: idleGuard(in), log: log}, nil
}

// Run reads the body until ctx ends, the body ends or stalls, or the server
// answers anything but 200.
func (s *httpSource) Run(ctx context.Context, sink engine.Sink) error {
	reqCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(reqCtx, http.MethodGet, s.url, nil)
	if err != nil {
		return fmt.Errorf("http %s: %w", s.redacted, err)
	}
	req.Header.Set("User-Agent", "livedge")
	resp, err := httpClient.Do(req)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		return fmt.Errorf("http get %s: %w", s.redacted, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("http get %s: status %s", s.redacted, resp.Status)
	}

	guard := time.AfterFunc(s.idle, func() { cancel(errHTTPIdle) })
	defer guard.Stop()
	body := &idleReader{r: resp.Body, guard: guard, idle: s.idle, refreshed: time.Now()}
	err = mpegts.NewDemuxer(sink, s.log).Run(reqCtx, body)
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(context.Cause(reqCtx), errHTTPIdle):
		return fmt.Errorf("http %s: %w for %s", s.redacted, errHTTPIdle, s.idle)
	case errors.Is(err, io.EOF):
		return fmt.Errorf("http %s: the stream ended", s.redacted)
	}
	return fmt.Errorf("http %s: %w", s.redacted, err)
}

// idleReader pushes the idle guard back whenever bytes arrive.
type idleReader struct {
	r         io.Reader
	guard     *time.Timer
	idle      time.Duration
	refreshed time.Time
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		// Once a second is enough for a guard of seconds.
		if now := time.Now(); now.Sub(r.refreshed) >= time.Second {
			r.guard.Reset(r.idle)
			r.refreshed = now
		}
	}
	return n, err
}
