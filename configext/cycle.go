package configext

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/livedge/livedge/engine"
)

// dynamicGrace is how long a stream added by Lookup stays in the desired set
// without running: long enough for the viewer who asked to start it.
const dynamicGrace = 30 * time.Second

// cachedPage is a list page kept for If-None-Match.
type cachedPage struct {
	etag   string
	header http.Header
	page   page
}

// maxETagLen bounds an ETag kept for If-None-Match.
const maxETagLen = 1024

// failUnlessCanceled records a failed cycle, unless it failed because the
// caller gave up (shutdown): that says nothing about the backend.
func (c *Client) failUnlessCanceled(ctx context.Context, err error) {
	if ctx.Err() == nil {
		c.fail(WhileRefresh, err)
	}
}

// listResult is the whole list endpoint's answer of one cycle.
type listResult struct {
	feat   features
	header http.Header // of the first page
	pages  []page
}

// Refresh runs one cycle: the list, then the names running here that the
// list did not name. Any failed request leaves the desired set exactly as it
// was; a stream with an invalid config is skipped alone and keeps the config
// it had.
func (c *Client) Refresh(ctx context.Context) error {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	c.stats.cycles.Add(1)
	start := time.Now()

	list, err := c.fetchList(ctx)
	if err != nil {
		c.failUnlessCanceled(ctx, err)
		return err
	}
	listed := make(map[string]bool)
	for _, p := range list.pages {
		for _, e := range p.entries {
			listed[e.name] = true
		}
	}
	ask := c.unlisted(listed, start)
	endpoint := pathStreams
	if list.feat.separate {
		endpoint = pathUpdate
	}
	confirmed, err := c.queryNames(ctx, endpoint, ask)
	if err != nil {
		c.failUnlessCanceled(ctx, err)
		return err
	}

	c.applyMu.Lock()
	defer c.applyMu.Unlock()
	c.mu.Lock()
	prev := c.desired
	next := make(map[string]desiredStream, len(prev)+len(listed))
	var problems []string
	placed := make(map[string]bool, len(listed))
	place := func(e entry) {
		if placed[e.name] {
			problems = append(problems, fmt.Sprintf("stream %s: named twice, the first kept", e.name))
			return
		}
		placed[e.name] = true
		switch {
		case e.err != nil:
			problems = append(problems, e.err.Error())
			if old, ok := prev[e.name]; ok {
				next[e.name] = old
			}
		case e.disabled:
		default:
			next[e.name] = desiredStream{cfg: e.cfg, episodes: e.episodes}
		}
	}
	for _, p := range list.pages {
		for _, err := range p.rejected {
			problems = append(problems, err.Error())
		}
		for _, e := range p.entries {
			place(e)
		}
	}
	for _, e := range confirmed.entries {
		place(e)
	}
	problems = append(problems, confirmed.problems...)
	// A name Lookup added while this cycle ran was not asked about: keep it.
	asked := make(map[string]bool, len(ask))
	for _, n := range ask {
		asked[n] = true
	}
	for name, at := range c.dynamic {
		_, have := next[name]
		switch {
		case at.After(start) && !listed[name] && !asked[name] && !have:
			if old, ok := prev[name]; ok {
				next[name] = old
			}
		case !have || start.Sub(at) > dynamicGrace:
			delete(c.dynamic, name)
		}
	}
	c.feat = list.feat
	first := !c.loaded
	c.loaded = true
	c.mu.Unlock()
	c.commit(next, first)

	if len(problems) > 0 {
		msg := fmt.Sprintf("%d invalid stream(s) skipped: %s", len(problems), problems[0])
		c.setStatus(Status{Status: StatusError, Code: http.StatusOK, Error: msg, While: WhileRefresh}, "problems", limitList(problems, 20))
	} else {
		c.setStatus(Status{Status: StatusLoaded}, "streams", len(next))
	}
	return nil
}

func limitList(list []string, n int) []string {
	if len(list) > n {
		return append(list[:n:n], fmt.Sprintf("... %d more", len(list)-n))
	}
	return list
}

// unlisted returns, sorted, the names running here or recently looked up
// that the list did not name: the backend is asked about each.
func (c *Client) unlisted(listed map[string]bool, now time.Time) []string {
	running := c.o.Running()
	set := make(map[string]bool, len(running))
	for _, n := range running {
		set[n] = true
	}
	c.mu.Lock()
	for n, at := range c.dynamic {
		if now.Sub(at) <= dynamicGrace {
			set[n] = true
		}
	}
	c.mu.Unlock()
	ask := make([]string, 0, len(set))
	for n := range set {
		if !listed[n] && engine.ValidateStreamName(n) == nil {
			ask = append(ask, n)
		}
	}
	sort.Strings(ask)
	return ask
}

// fetchList reads every page of the list endpoint. A page whose ETag still
// matches (304) is taken from the cache.
func (c *Client) fetchList(ctx context.Context) (listResult, error) {
	var res listResult
	fresh := make(map[string]cachedPage)
	seen := make(map[string]bool)
	cursor := ""
	for n := 0; ; n++ {
		if n == maxPages {
			return res, &fetchError{Code: http.StatusOK, Msg: fmt.Sprintf("list of more than %d pages", maxPages)}
		}
		extra := ""
		if cursor != "" {
			extra = "cursor=" + url.QueryEscape(cursor)
		}
		u := c.be.endpoint(pathStreams, extra)
		cached, hasCached := c.pages[cursor]
		rctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
		resp, err := c.fetch.get(rctx, u, c.be.auth, cached.etag)
		cancel()
		if err != nil {
			return res, err
		}
		var cp cachedPage
		if resp.code == http.StatusNotModified && hasCached {
			cp = cached
			if resp.header.Get(headerSeparate)+resp.header.Get(headerDynamic)+resp.header.Get(headerEpisodes) != "" {
				cp.header = resp.header
			}
		} else {
			p, err := parsePage(resp.body)
			if err != nil {
				return res, &fetchError{Code: resp.code, Msg: fmt.Sprintf("GET %s: %v", displayURL(u), err)}
			}
			cp = cachedPage{etag: resp.header.Get("ETag"), header: resp.header, page: p}
			if len(cp.etag) > maxETagLen {
				cp.etag = ""
			}
		}
		if cp.etag != "" {
			fresh[cursor] = cp
		}
		if n == 0 {
			res.header = cp.header
			res.feat = featuresOf(cp.header)
		}
		res.pages = append(res.pages, cp.page)
		next := cp.page.next
		if next == "" {
			break
		}
		if seen[next] || next == cursor {
			return res, &fetchError{Code: http.StatusOK, Msg: fmt.Sprintf("GET %s: next cursor %s repeats", displayURL(u), engine.QuoteShort(next))}
		}
		seen[next] = true
		cursor = next
	}
	c.pages = fresh
	return res, nil
}

// nameAnswer is what a name query returned for the names it asked.
type nameAnswer struct {
	entries  []entry
	problems []string
	// unasked counts the streams returned that were not asked for.
	unasked int
}

// queryNames asks an endpoint for the configs of names, in requests of at
// most nameChunkLen bytes of names. Only the names asked are taken.
func (c *Client) queryNames(ctx context.Context, endpoint string, names []string) (nameAnswer, error) {
	var ans nameAnswer
	for _, chunk := range chunkNames(names, nameChunkLen) {
		asked := make(map[string]bool, len(chunk.names))
		for _, n := range chunk.names {
			asked[n] = true
		}
		cursor := ""
		seen := map[string]bool{}
		for n := 0; ; n++ {
			if n == maxPages {
				return ans, &fetchError{Code: http.StatusOK, Msg: fmt.Sprintf("answer of more than %d pages", maxPages)}
			}
			extra := "name=" + chunk.param
			if cursor != "" {
				extra += "&cursor=" + url.QueryEscape(cursor)
			}
			u := c.be.endpoint(endpoint, extra)
			rctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
			resp, err := c.fetch.get(rctx, u, c.be.auth, "")
			cancel()
			if err != nil {
				return ans, err
			}
			p, err := parsePage(resp.body)
			if err != nil {
				return ans, &fetchError{Code: resp.code, Msg: fmt.Sprintf("GET %s: %v", displayURL(u), err)}
			}
			for _, err := range p.rejected {
				ans.problems = append(ans.problems, err.Error())
			}
			for _, e := range p.entries {
				if asked[e.name] {
					ans.entries = append(ans.entries, e)
				} else {
					ans.unasked++
				}
			}
			if p.next == "" {
				break
			}
			if seen[p.next] || p.next == cursor {
				return ans, &fetchError{Code: http.StatusOK, Msg: fmt.Sprintf("GET %s: next cursor %s repeats", displayURL(u), engine.QuoteShort(p.next))}
			}
			seen[p.next] = true
			cursor = p.next
		}
	}
	return ans, nil
}

// nameChunk is the names of one request and their name= value.
type nameChunk struct {
	names []string
	param string
}

// chunkNames splits names into comma-joined, URL-encoded parameters of at
// most limit bytes each (a single longer name goes alone).
func chunkNames(names []string, limit int) []nameChunk {
	var chunks []nameChunk
	var b strings.Builder
	start := 0
	for i, n := range names {
		esc := url.QueryEscape(n)
		if b.Len() > 0 && b.Len()+1+len(esc) > limit {
			chunks = append(chunks, nameChunk{names: names[start:i], param: b.String()})
			b.Reset()
			start = i
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(esc)
	}
	if b.Len() > 0 {
		chunks = append(chunks, nameChunk{names: names[start:], param: b.String()})
	}
	return chunks
}
