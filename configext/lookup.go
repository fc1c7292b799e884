package configext

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/livedge/livedge/engine"
)

// Dynamic name lookups.
const (
	// lookupGather is how long a first unknown name waits for others to
	// share its request.
	lookupGather = 50 * time.Millisecond
	// LookupWait is how long a viewer is held for the backend's answer.
	LookupWait = 3 * time.Second
	// negativeTTL: a name the backend did not know is not asked again for
	// this long, so that a burst of viewers of a wrong name costs one request.
	negativeTTL = 2 * time.Second
	// maxNegative bounds the remembered unknown names.
	maxNegative = 10000
	// maxBatches bounds lookup requests waiting or in flight: viewers asking
	// for random names must not turn into a flood on the backend.
	maxBatches = 16
)

// ErrLookupBusy is returned when too many lookups are already pending.
var ErrLookupBusy = errors.New("config_external: too many dynamic name lookups pending")

// ErrLookupTimeout is returned when the backend did not answer within LookupWait.
var ErrLookupTimeout = errors.New("config_external: no answer for the dynamic name in time")

// lookupBatch is one request for the names that arrived within lookupGather.
type lookupBatch struct {
	names []string
	asked map[string]bool
	size  int // bytes of the name= parameter
	once  sync.Once
	done  chan struct{}
	// Set before done closes.
	found map[string]engine.StreamConfig
	err   error
}

// Lookup asks the backend for a stream this server does not know. Requests
// arriving within ~50 ms share one call; the caller is held at most
// LookupWait. A found stream joins the desired set (Apply is called before
// Lookup returns) and stays while it runs and the backend confirms it.
// It returns false at once, asking nothing, for an invalid name or when the
// backend turned dynamic streams off.
func (c *Client) Lookup(ctx context.Context, name string) (engine.StreamConfig, bool, error) {
	if engine.ValidateStreamName(name) != nil {
		return engine.StreamConfig{}, false, nil
	}
	c.mu.Lock()
	if d, ok := c.desired[name]; ok {
		c.mu.Unlock()
		return d.cfg, true, nil
	}
	if c.feat.dynamicOff {
		c.mu.Unlock()
		return engine.StreamConfig{}, false, nil
	}
	if at, ok := c.negative[name]; ok {
		if time.Since(at) < negativeTTL {
			c.mu.Unlock()
			return engine.StreamConfig{}, false, nil
		}
		delete(c.negative, name)
	}
	b, err := c.joinBatchLocked(name)
	c.mu.Unlock()
	if err != nil {
		return engine.StreamConfig{}, false, err
	}
	c.stats.lookups.Add(1)
	t := time.NewTimer(LookupWait)
	defer t.Stop()
	select {
	case <-b.done:
		if b.err != nil {
			return engine.StreamConfig{}, false, b.err
		}
		cfg, ok := b.found[name]
		return cfg, ok, nil
	case <-ctx.Done():
		return engine.StreamConfig{}, false, ctx.Err()
	case <-t.C:
		return engine.StreamConfig{}, false, ErrLookupTimeout
	}
}

// joinBatchLocked adds a name to the gathering batch, starting one when
// there is none or the current one is full. c.mu is held.
func (c *Client) joinBatchLocked(name string) (*lookupBatch, error) {
	b := c.pending
	if b != nil && b.asked[name] {
		return b, nil
	}
	esc := len(url.QueryEscape(name))
	if b != nil && b.size+1+esc > nameChunkLen {
		c.pending = nil
		b.fire(c) // full: send it now
		b = nil
	}
	if b == nil {
		if c.batches >= maxBatches {
			return nil, ErrLookupBusy
		}
		c.batches++
		b = &lookupBatch{asked: map[string]bool{}, done: make(chan struct{})}
		c.pending = b
		time.AfterFunc(lookupGather, func() {
			c.mu.Lock()
			if c.pending == b {
				c.pending = nil
			}
			c.mu.Unlock()
			b.fire(c)
		})
	}
	if b.size > 0 {
		b.size++
	}
	b.size += esc
	b.names = append(b.names, name)
	b.asked[name] = true
	return b, nil
}

// fire sends the batch's request once.
func (b *lookupBatch) fire(c *Client) {
	b.once.Do(func() { go c.runBatch(b) })
}

func (c *Client) runBatch(b *lookupBatch) {
	defer func() {
		c.mu.Lock()
		c.batches--
		c.mu.Unlock()
		close(b.done)
	}()
	c.mu.Lock()
	names := b.names // no more joins: the batch is no longer pending
	endpoint := pathStreams
	if c.feat.separate {
		endpoint = pathDynamic
	}
	c.mu.Unlock()
	timeout := min(c.o.Timeout, LookupWait)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	ans, err := c.queryNames(ctx, endpoint, names)
	cancel()
	if err != nil {
		b.err = fmt.Errorf("dynamic stream lookup: %w", err)
		c.fail(WhileRequest, err)
		return
	}
	b.found = make(map[string]engine.StreamConfig)
	var problems []string
	problems = append(problems, ans.problems...)
	c.applyMu.Lock()
	c.mu.Lock()
	now := time.Now()
	next := maps.Clone(c.desired)
	for _, e := range ans.entries {
		if _, dup := b.found[e.name]; dup {
			continue
		}
		switch {
		case e.err != nil:
			problems = append(problems, e.err.Error())
		case e.disabled:
		default:
			if d, ok := next[e.name]; ok {
				// A cycle got it meanwhile; its config stands.
				b.found[e.name] = d.cfg
				continue
			}
			next[e.name] = desiredStream{cfg: e.cfg, episodes: e.episodes}
			c.dynamic[e.name] = now
			b.found[e.name] = e.cfg
		}
	}
	for _, n := range names {
		if _, ok := b.found[n]; !ok {
			c.rememberUnknownLocked(n, now)
		}
	}
	c.mu.Unlock()
	c.commit(next, false)
	c.applyMu.Unlock()
	if len(problems) > 0 {
		msg := fmt.Sprintf("%d invalid stream(s) skipped: %s", len(problems), problems[0])
		c.setStatus(Status{Status: StatusError, Code: http.StatusOK, Error: msg, While: WhileRequest}, "problems", limitList(problems, 20))
		return
	}
	// A good answer clears an error of its own kind only: it says nothing
	// about the list.
	if st := c.Status(); st.Status != StatusError || st.While == WhileRequest {
		c.setStatus(Status{Status: StatusLoaded})
	}
}

// rememberUnknownLocked adds a name to the negative cache; c.mu is held.
func (c *Client) rememberUnknownLocked(name string, now time.Time) {
	if len(c.negative) >= maxNegative {
		for n, at := range c.negative {
			if now.Sub(at) >= negativeTTL {
				delete(c.negative, n)
			}
		}
		if len(c.negative) >= maxNegative {
			return
		}
	}
	c.negative[name] = now
}
