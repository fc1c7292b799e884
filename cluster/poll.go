package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/livedge/livedge/engine"
	"github.com/livedge/livedge/perf"
)

// reply is the raw answer to one poll, before any of it is trusted.
type reply struct {
	status int
	// etag and load are the ETag and LoadHeader header values.
	etag, load string
	body       []byte
	// sentETag is the If-None-Match the poll carried ("" none).
	sentETag string
	// err: no answer (connection, timeout, oversized body).
	err error
}

// fetchFunc polls host's table. The simulation tests replace the HTTP one.
type fetchFunc func(ctx context.Context, host, authorization, ifNoneMatch string) reply

type httpFetcher struct{ client *http.Client }

// newPeerClient is the HTTP client of the pollers: keep-alive connections,
// no proxy from the environment (peers talk directly), no redirects
// followed, bounded headers.
func newPeerClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                  nil,
			DialContext:            (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost:    2,
			IdleConnTimeout:        90 * time.Second,
			MaxResponseHeaderBytes: 64 << 10,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (f httpFetcher) fetch(ctx context.Context, host, authorization, ifNoneMatch string) reply {
	// A host is HOST[:PORT] and nothing else: no user info, path or query
	// may ride into the URL.
	if err := engine.ValidateHostPort(host); err != nil {
		return reply{err: fmt.Errorf("bad peer address %s: %w", engine.QuoteShort(host), err)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+TablePath, nil)
	if err != nil {
		return reply{err: fmt.Errorf("bad peer address %s: %w", engine.QuoteShort(host), err)}
	}
	req.Header.Set("Authorization", authorization)
	if ifNoneMatch != "" {
		req.Header.Set("If-None-Match", ifNoneMatch)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return reply{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxTableBytes+1))
	if err != nil {
		return reply{err: fmt.Errorf("reading the answer: %w", err)}
	}
	if len(body) > MaxTableBytes {
		return reply{err: fmt.Errorf("answer larger than %d bytes", MaxTableBytes)}
	}
	return reply{status: resp.StatusCode, etag: resp.Header.Get("ETag"), load: resp.Header.Get(LoadHeader), body: body}
}

type outcomeKind int

const (
	outcomeFailed outcomeKind = iota
	outcomeGood
	outcomeForbidden
)

// outcome is a reply judged: a good answer (table nil: unchanged), a 403,
// or a failure.
type outcome struct {
	kind           outcomeKind
	table          *peerTable
	etag           string
	load           perf.Load
	maxBitrateKbit uint64
	err            error
}

// interpret judges a reply: untrusted input.
func interpret(r reply) outcome {
	if r.err != nil {
		return outcome{err: r.err}
	}
	switch r.status {
	case http.StatusOK, http.StatusNotModified:
		if r.status == http.StatusNotModified && r.sentETag == "" {
			return outcome{err: errors.New("answered 304 Not Modified to a poll without If-None-Match")}
		}
		load, limit, err := parseLoad(r.load)
		if err != nil {
			return outcome{err: err}
		}
		o := outcome{kind: outcomeGood, load: load, maxBitrateKbit: limit}
		if r.status == http.StatusOK {
			if o.table, err = parseTable(r.body); err != nil {
				return outcome{err: err}
			}
			if validETag(r.etag) {
				o.etag = r.etag
			}
		}
		return o
	case http.StatusForbidden:
		return outcome{kind: outcomeForbidden, err: fmt.Errorf("403 Forbidden (cluster_key differs or clocks are apart): %s", errorTitle(r.body))}
	}
	return outcome{err: fmt.Errorf("unexpected HTTP status %d", r.status)}
}

// maxErrorTitle bounds the reason of a peer's error kept for the peers API.
const maxErrorTitle = 200

// errorTitle is the title of the first error of an API error body, made
// printable and short; a body of another shape gives a placeholder.
func errorTitle(body []byte) string {
	var e apiErrors
	if json.Unmarshal(body, &e) != nil || len(e.Errors) == 0 || e.Errors[0].Title == "" {
		return "(no reason given)"
	}
	var b strings.Builder
	for _, c := range []byte(e.Errors[0].Title) {
		if b.Len() >= maxErrorTitle {
			b.WriteString("...")
			break
		}
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		b.WriteByte(c)
	}
	return b.String()
}

// pollLoop polls p every FetchTimeout until ctx ends. A poll slower than the
// period delays the next one, never overlaps it; staleness runs on its own
// timer, so a hanging peer is declared dead on time.
func (n *Node) pollLoop(ctx context.Context, p *peer) {
	defer n.work.Done()
	n.mu.Lock()
	period := p.cfg.FetchTimeout
	n.mu.Unlock()
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		n.pollOnce(ctx, p)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pollOnce polls p once and records the result, unless ctx ended (the node
// is stopping or reloading: a cancelled poll says nothing of the peer).
func (n *Node) pollOnce(ctx context.Context, p *peer) {
	n.mu.Lock()
	key, etag, host, timeout := n.cfg.Key, p.etag, p.cfg.Host, requestTimeout(p.cfg)
	n.mu.Unlock()
	rctx, cancel := context.WithTimeout(ctx, timeout)
	r := n.fetch(rctx, host, Sign(key, n.now()), etag)
	cancel()
	if ctx.Err() != nil {
		return
	}
	r.sentETag = etag
	n.observe(p, r, n.now())
}
