package configext

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/livedge/livedge/engine"
)

// Episodes.
const (
	// episodesTTL is how long a fetched answer stands for the same window.
	episodesTTL = 10 * time.Second
	// episodesRetry: after a failed fetch from an endpoint, answers about it
	// are "not trustworthy" at once for this long instead of waiting for
	// another timeout, so that a cleanup pass over many streams is not
	// held up by an outage.
	episodesRetry = 5 * time.Second
	// maxEpisodePages bounds the pages of one episodes answer.
	maxEpisodePages = 100
)

// episodeCache holds the last answer per stream.
type episodeCache struct {
	mu       sync.Mutex
	entries  map[string]episodeAnswer
	inflight map[string]*episodeCall
	failedAt map[string]time.Time // by endpoint
	healthy  bool                 // the last fetch worked (for logging changes)
	tried    bool
}

type episodeAnswer struct {
	from, to time.Time
	ranges   []Range
	at       time.Time
	// none: the backend answered 501, it keeps no episodes.
	none bool
}

type episodeCall struct {
	key  string
	done chan struct{}
	ans  episodeAnswer
	err  error
}

func (e *episodeCache) init() {
	e.entries = map[string]episodeAnswer{}
	e.inflight = map[string]*episodeCall{}
	e.failedAt = map[string]time.Time{}
}

// prune forgets streams that left the desired set.
func (e *episodeCache) prune(desired map[string]desiredStream) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for name := range e.entries {
		if d, ok := desired[name]; !ok || d.episodes == nil {
			delete(e.entries, name)
		}
	}
	now := time.Now()
	for endpoint, at := range e.failedAt {
		if now.Sub(at) >= episodesRetry {
			delete(e.failedAt, endpoint)
		}
	}
}

// Protected answers which stretches of a stream's archive within [from, to]
// episodes protect, and whether that answer can be trusted now. When it
// cannot (backend unreachable, an answer other than 200 or 501, a bad body,
// or no config loaded yet), the DVR cleanup must keep everything it would
// delete only by trusting it. A stream without episodes (the backend did not
// send X-Config-Server-Episodes: true, or its dvr has no episodes_url) has
// nothing protected, trustworthily. An episode still open is protected up to
// to. The call may wait for one request (Options.Timeout).
func (c *Client) Protected(ctx context.Context, name string, from, to time.Time) ([]Range, bool) {
	c.mu.Lock()
	loaded, on := c.loaded, c.feat.episodes
	d, ok := c.desired[name]
	c.mu.Unlock()
	if !loaded {
		return nil, false
	}
	if !on || !ok || d.episodes == nil {
		return nil, true
	}
	target, err := c.be.episodesEndpoint(*d.episodes)
	if err != nil {
		return nil, false
	}
	e := &c.ep
	now := time.Now()
	e.mu.Lock()
	if a, ok := e.entries[name]; ok && now.Sub(a.at) < episodesTTL && !a.from.After(from) && !a.to.Before(to) {
		e.mu.Unlock()
		return overlapping(a.ranges, from, to), true
	}
	endpoint := displayURL(target.url)
	if at, ok := e.failedAt[endpoint]; ok && now.Sub(at) < episodesRetry {
		e.mu.Unlock()
		return nil, false
	}
	key := name + "\x00" + strconv.FormatInt(from.UnixMilli(), 10) + "\x00" + strconv.FormatInt(to.UnixMilli(), 10)
	call, waiting := e.inflight[name]
	if waiting && call.key != key {
		waiting = false // another window: fetch ours too, without sharing
		call = nil
	}
	if !waiting {
		call = &episodeCall{key: key, done: make(chan struct{})}
		if e.inflight[name] == nil {
			e.inflight[name] = call
		}
	}
	e.mu.Unlock()
	if waiting {
		select {
		case <-call.done:
		case <-ctx.Done():
			return nil, false
		}
	} else {
		call.ans, call.err = c.fetchEpisodes(ctx, target, name, from, to)
		e.mu.Lock()
		if e.inflight[name] == call {
			delete(e.inflight, name)
		}
		if call.err == nil {
			e.entries[name] = call.ans
			delete(e.failedAt, endpoint)
		} else {
			e.failedAt[endpoint] = time.Now()
		}
		changed := !e.tried || e.healthy != (call.err == nil)
		e.tried, e.healthy = true, call.err == nil
		e.mu.Unlock()
		close(call.done)
		if changed {
			if call.err != nil {
				c.log.Warn("config_external episodes unavailable: DVR cleanup keeps what they might protect", "error", call.err.Error())
			} else {
				c.log.Info("config_external episodes available")
			}
		}
	}
	if call.err != nil {
		return nil, false
	}
	return overlapping(call.ans.ranges, from, to), true
}

// fetchEpisodes asks for the episodes of one stream overlapping [from, to].
func (c *Client) fetchEpisodes(ctx context.Context, t episodesTarget, name string, from, to time.Time) (episodeAnswer, error) {
	ans := episodeAnswer{from: from, to: to, at: time.Now()}
	q := "media=" + url.QueryEscape(name) +
		"&opened_at_lt=" + strconv.FormatInt(to.UnixMilli(), 10) +
		"&closed_at_gt=" + strconv.FormatInt(from.UnixMilli(), 10)
	cursor := ""
	seen := map[string]bool{}
	for n := 0; ; n++ {
		if n == maxEpisodePages {
			return ans, fmt.Errorf("episodes of %s: more than %d pages", name, maxEpisodePages)
		}
		extra := q
		if cursor != "" {
			extra += "&cursor=" + url.QueryEscape(cursor)
		}
		u := withQuery(t.url, extra)
		rctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
		resp, err := c.fetch.get(rctx, u, t.auth, "", http.StatusNotImplemented)
		cancel()
		if err != nil {
			return ans, err
		}
		if resp.code == http.StatusNotImplemented {
			// The backend keeps no episodes: an answer, and nothing is protected.
			return episodeAnswer{from: from, to: to, at: ans.at, none: true}, nil
		}
		p, err := parseEpisodes(resp.body, to)
		if err != nil {
			return ans, fmt.Errorf("GET %s: %w", displayURL(u), err)
		}
		if len(ans.ranges)+len(p.ranges) > maxEpisodes {
			return ans, fmt.Errorf("episodes of %s: more than %d", name, maxEpisodes)
		}
		ans.ranges = append(ans.ranges, p.ranges...)
		if p.next == "" {
			return ans, nil
		}
		if seen[p.next] || p.next == cursor {
			return ans, fmt.Errorf("GET %s: next cursor %s repeats", displayURL(u), engine.QuoteShort(p.next))
		}
		seen[p.next] = true
		cursor = p.next
	}
}

// overlapping returns the ranges that touch [from, to], clipped to it.
func overlapping(ranges []Range, from, to time.Time) []Range {
	var out []Range
	for _, r := range ranges {
		if r.To.Before(from) || r.From.After(to) {
			continue
		}
		if r.From.Before(from) {
			r.From = from
		}
		if r.To.After(to) {
			r.To = to
		}
		out = append(out, r)
	}
	return out
}
