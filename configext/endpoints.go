package configext

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/livedge/livedge/engine"
)

// Endpoint paths, as siblings of the list endpoint.
const (
	pathStreams  = "streams"
	pathUpdate   = "update_streams_list"
	pathDynamic  = "dynamic_streams_list"
	pathEpisodes = "episodes"
)

// Response headers of the list endpoint that switch features.
const (
	headerSeparate = "X-Config-Server-Separate-Endpoints"
	headerDynamic  = "X-Config-Server-Dynamic-Streams"
	headerEpisodes = "X-Config-Server-Episodes"
)

// maxBody is the largest response accepted.
const maxBody = 64 << 20

// nameChunkLen bounds the name parameter of one request: "about 1 KB of
// names" per the protocol.
const nameChunkLen = 1024

// backend is where and how to reach a config backend. Credentials live only
// in auth; base carries none, so no URL built from it can leak them.
type backend struct {
	// dir is the base with its path ending in '/'; endpoints are appended.
	dir *url.URL
	// auth is the Authorization header value, "" for none.
	auth string
	// display names the backend in logs and errors: no credentials, no query.
	display string
}

// parseBackend reads a config_external URL: a path ending in /streams is the
// list endpoint, any other path is a base under which /streams etc. live.
// KEY@host becomes Bearer KEY, user:pass@host Basic.
func parseBackend(raw string) (backend, error) {
	u, err := checkBackendURL(raw)
	if err != nil {
		return backend{}, fmt.Errorf("bad config_external URL %s: %w", engine.QuoteShort(engine.RedactURL(raw)), err)
	}
	dir := *u
	dir.User = nil
	dir.Fragment, dir.RawFragment = "", ""
	p := dir.Path
	if strings.HasSuffix(p, "/"+pathStreams) {
		p = strings.TrimSuffix(p, pathStreams)
	} else if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	dir.Path, dir.RawPath = p, ""
	b := backend{dir: &dir, auth: authHeader(u.User)}
	shown := dir
	shown.RawQuery = ""
	b.display = shown.String()
	return b, nil
}

// authHeader turns URL userinfo into an Authorization value.
func authHeader(ui *url.Userinfo) string {
	if ui == nil {
		return ""
	}
	if pass, ok := ui.Password(); ok {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(ui.Username()+":"+pass))
	}
	if ui.Username() == "" {
		return ""
	}
	return "Bearer " + ui.Username()
}

// endpoint builds the URL of an endpoint with extra query parameters; the
// configured URL's own query parameters are kept, since backends use them
// (tokens, the server's name).
func (b *backend) endpoint(path, extra string) *url.URL {
	u := *b.dir
	u.Path += path
	switch {
	case extra == "":
	case u.RawQuery == "":
		u.RawQuery = extra
	default:
		u.RawQuery += "&" + extra
	}
	return &u
}

// episodesTarget is where to ask for one stream's episodes.
type episodesTarget struct {
	url  *url.URL
	auth string
}

// episodesEndpoint resolves a stream's dvr.episodes_url: "" is the backend's
// own …/episodes. The backend's credentials go only to the backend's own
// origin; another URL carries its own.
func (b *backend) episodesEndpoint(raw string) (episodesTarget, error) {
	if raw == "" {
		return episodesTarget{url: b.endpoint(pathEpisodes, ""), auth: b.auth}, nil
	}
	u, err := checkBackendURL(raw)
	if err != nil {
		return episodesTarget{}, fmt.Errorf("bad episodes_url %s: %w", engine.QuoteShort(engine.RedactURL(raw)), err)
	}
	t := episodesTarget{auth: authHeader(u.User)}
	if u.User == nil && u.Scheme == b.dir.Scheme && u.Host == b.dir.Host {
		t.auth = b.auth
	}
	clean := *u
	clean.User = nil
	clean.Fragment, clean.RawFragment = "", ""
	t.url = &clean
	return t, nil
}

// withQuery adds query parameters to a URL.
func withQuery(u *url.URL, extra string) *url.URL {
	v := *u
	if v.RawQuery == "" {
		v.RawQuery = extra
	} else {
		v.RawQuery += "&" + extra
	}
	return &v
}

// displayURL names a URL in messages: no credentials, no query.
func displayURL(u *url.URL) string {
	v := *u
	v.User = nil
	v.RawQuery = ""
	return v.String()
}

// fetchError is a failed request: Code is the HTTP status, 0 when there was
// no answer. Its text never holds credentials or query parameters.
type fetchError struct {
	Code int
	Msg  string
}

func (e *fetchError) Error() string { return e.Msg }

// response is an answered request.
type response struct {
	code   int // 200 or 304
	header http.Header
	body   []byte
}

// fetcher makes requests to a backend and counts them.
type fetcher struct {
	http    *http.Client
	maxBody int64
	stats   *counters
}

// get performs a GET; etag, when set, goes as If-None-Match and a 304 is an
// answer. Any status but 200 (and 304 when asked) is a fetchError.
func (f *fetcher) get(ctx context.Context, u *url.URL, auth, etag string, okCodes ...int) (*response, error) {
	shown := displayURL(u)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, &fetchError{Msg: fmt.Sprintf("GET %s: %v", shown, err)}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "livedge-configext")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	f.stats.requests.Add(1)
	resp, err := f.http.Do(req)
	if err != nil {
		f.stats.failures.Add(1)
		return nil, &fetchError{Msg: fmt.Sprintf("GET %s: %s", shown, transportProblem(err))}
	}
	defer resp.Body.Close()
	code := resp.StatusCode
	ok := code == http.StatusOK || (etag != "" && code == http.StatusNotModified)
	for _, c := range okCodes {
		ok = ok || code == c
	}
	if !ok {
		f.stats.failures.Add(1)
		// Drain a little so that the connection can be reused.
		_, _ = io.CopyN(io.Discard, resp.Body, 4096)
		return nil, &fetchError{Code: code, Msg: fmt.Sprintf("GET %s: HTTP %d", shown, code)}
	}
	body, err := readBody(resp, f.maxBody)
	f.stats.bytes.Add(uint64(len(body)))
	if err != nil {
		f.stats.failures.Add(1)
		return nil, &fetchError{Code: code, Msg: fmt.Sprintf("GET %s: %v", shown, err)}
	}
	return &response{code: code, header: resp.Header, body: body}, nil
}

// readBody reads a whole body of at most limit bytes.
func readBody(resp *http.Response, limit int64) ([]byte, error) {
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("response of %d bytes exceeds the %d-byte limit", resp.ContentLength, limit)
	}
	var buf bytes.Buffer
	if resp.ContentLength > 0 {
		buf.Grow(int(resp.ContentLength))
	}
	n, err := buf.ReadFrom(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return buf.Bytes(), fmt.Errorf("read body: %s", transportProblem(err))
	}
	if n > limit {
		return buf.Bytes()[:limit], fmt.Errorf("response exceeds the %d-byte limit", limit)
	}
	return buf.Bytes(), nil
}

// transportProblem describes a transport error without the request URL
// (*url.Error would repeat it, query and all).
func transportProblem(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated response"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return err.Error()
}
