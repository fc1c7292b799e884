package configext

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/livedge/livedge/engine"
)

// Bounds of what a backend may send.
const (
	// maxCursorLen bounds a paging cursor, which goes back into a URL.
	maxCursorLen = 2048
	// maxPages bounds the pages of one list, so that a backend whose cursors
	// never end cannot hold a cycle forever.
	maxPages = 10000
)

// wireStream is the subset of the API v3 stream_config this server uses.
// Fields it does not know are ignored: a backend written for Flussonic sends
// many (transcoder, pushes, on_play, ...). The fields that change what must
// run are all here: a stream's inputs, static and disabled.
type wireStream struct {
	Name            string      `json:"name"`
	Inputs          []wireInput `json:"inputs"`
	Static          *bool       `json:"static"`
	Disabled        bool        `json:"disabled"`
	SegmentDuration int         `json:"segment_duration"`
	SegmentCount    int         `json:"segment_count"`
	DVR             *wireDVR    `json:"dvr"`
	// ClusterIngest: {} or {"capture_at": HOST}; absent or null: off.
	ClusterIngest *engine.ClusterIngest `json:"cluster_ingest"`
}

type wireInput struct {
	URL           string `json:"url"`
	SourceTimeout int    `json:"source_timeout"`
}

type wireDVR struct {
	// EpisodesURL absent: no episodes; "" the config backend's own
	// …/episodes; otherwise the URL to ask.
	EpisodesURL *string `json:"episodes_url"`
}

// entry is one stream of a backend answer.
type entry struct {
	name string
	cfg  engine.StreamConfig
	// disabled: the backend names the stream and says it must not run.
	disabled bool
	// episodes is set when the stream's dvr has episodes_url; its value
	// is that URL ("" for the backend's own endpoint).
	episodes *string
	// err: the stream's config was rejected; name is still known, and the
	// stream keeps whatever config it had.
	err error
}

// page is one decoded response of a streams endpoint.
type page struct {
	entries []entry
	// next is the cursor of the next page, "" at the end.
	next string
	// rejected holds streams that were skipped without a usable name.
	rejected []error
}

// parsePage decodes {"streams":[...], "next": CURSOR}. A malformed envelope
// is an error; a malformed stream is reported in its entry (or in rejected
// when it has no valid name) and does not spoil the others.
func parsePage(body []byte) (page, error) {
	// One pass over the body serves the common case, where every stream
	// decodes; a stream of the wrong shape sends us to decoding them one by
	// one, to skip it alone.
	p, err := decodePage(body, makeEntry)
	var te *json.UnmarshalTypeError
	if err == nil || !errors.As(err, &te) {
		return p, err
	}
	return parsePageByStream(body)
}

// parsePageByStream decodes each stream on its own, so that one of the
// wrong shape is skipped alone.
func parsePageByStream(body []byte) (page, error) {
	return decodePage(body, func(raw *json.RawMessage) (entry, error) { return parseStream(*raw) })
}

// decodePage decodes the envelope of a page with its streams as S, and
// makes each stream an entry with makeOne.
func decodePage[S any](body []byte, makeOne func(*S) (entry, error)) (page, error) {
	var env struct {
		Streams []S             `json:"streams"`
		Next    json.RawMessage `json:"next"`
	}
	if err := decodeObject(body, &env); err != nil {
		return page{}, err
	}
	if env.Streams == nil {
		return page{}, errors.New(`no "streams" array in the response`)
	}
	next, err := parseCursor(env.Next)
	if err != nil {
		return page{}, err
	}
	p := page{next: next, entries: make([]entry, 0, len(env.Streams))}
	for i := range env.Streams {
		e, err := makeOne(&env.Streams[i])
		if err != nil {
			p.rejected = append(p.rejected, fmt.Errorf("streams[%d]: %w", i, err))
			continue
		}
		p.entries = append(p.entries, e)
	}
	return p, nil
}

// decodeObject decodes a JSON object, refusing any other top-level value
// (null would otherwise decode into v silently).
func decodeObject(body []byte, v any) error {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return errors.New("empty response body")
	}
	if trimmed[0] != '{' {
		return errors.New("response is not a JSON object")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("malformed JSON: %w", err)
	}
	return nil
}

// parseCursor accepts a string or number cursor; absent, null and "" end
// the list.
func parseCursor(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	switch raw[0] {
	case '"':
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("bad next cursor: %w", err)
		}
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", fmt.Errorf("bad next cursor: %w", err)
		}
		s = n.String()
	default:
		return "", errors.New("next cursor is neither a string nor a number")
	}
	if len(s) > maxCursorLen {
		return "", fmt.Errorf("next cursor longer than %d bytes", maxCursorLen)
	}
	return s, nil
}

// parseStream decodes and validates one stream. It fails only when the
// stream has no valid name; a named stream with a bad config comes back as
// an entry with err set.
func parseStream(raw json.RawMessage) (entry, error) {
	var w wireStream
	if err := json.Unmarshal(raw, &w); err != nil {
		// Salvage the name so that the stream is known to be listed.
		var named struct {
			Name string `json:"name"`
		}
		if json.Unmarshal(raw, &named) != nil || engine.ValidateStreamName(named.Name) != nil {
			return entry{}, fmt.Errorf("malformed stream: %v", jsonProblem(err))
		}
		return entry{name: named.Name, err: fmt.Errorf("stream %s: %v", named.Name, jsonProblem(err))}, nil
	}
	return makeEntry(&w)
}

// makeEntry validates a decoded stream. It fails only when the stream has
// no valid name.
func makeEntry(w *wireStream) (entry, error) {
	if err := engine.ValidateStreamName(w.Name); err != nil {
		return entry{}, fmt.Errorf("bad stream name %s: %w", engine.QuoteShort(w.Name), err)
	}
	e := entry{name: w.Name, disabled: w.Disabled}
	if w.Disabled {
		return e, nil // what it would run does not matter
	}
	e.cfg = engine.StreamConfig{
		Name:            w.Name,
		Static:          w.Static == nil || *w.Static, // the schema's default
		SegmentDuration: w.SegmentDuration,
		SegmentCount:    w.SegmentCount,
		ClusterIngest:   w.ClusterIngest,
	}
	if len(w.Inputs) > 0 {
		e.cfg.Inputs = make([]engine.InputConfig, len(w.Inputs))
		for i, in := range w.Inputs {
			e.cfg.Inputs[i] = engine.InputConfig{URL: in.URL, SourceTimeout: in.SourceTimeout}
		}
	}
	if err := validateStream(&e.cfg); err != nil {
		e.cfg = engine.StreamConfig{}
		e.err = fmt.Errorf("stream %s: %w", w.Name, err)
		return e, nil
	}
	if w.DVR != nil && w.DVR.EpisodesURL != nil {
		u := *w.DVR.EpisodesURL
		if u != "" {
			if _, err := checkBackendURL(u); err != nil {
				e.cfg = engine.StreamConfig{}
				e.err = fmt.Errorf("stream %s: dvr.episodes_url %s: %w", w.Name, engine.QuoteShort(engine.RedactURL(u)), err)
				return e, nil
			}
		}
		e.episodes = &u
	}
	return e, nil
}

// jsonProblem says what is wrong without echoing values, which may be long
// or hold secrets.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "value"
		}
		return fmt.Sprintf("%s: want %s, got JSON %s", field, te.Type, te.Value)
	}
	return err.Error()
}

// Episode bounds: unix milliseconds as the schema has them (1e12..1e13,
// 2001..2286).
const (
	minEpisodeMS = 1e12
	maxEpisodeMS = 1e13
	// maxEpisodes bounds the episodes kept for one stream and window.
	maxEpisodes = 100000
)

// Range is a protected stretch of a stream's archive.
type Range struct {
	From, To time.Time
}

// episodesPage is one decoded episodes response.
type episodesPage struct {
	ranges []Range
	next   string
}

// parseEpisodes decodes {"episodes":[{"opened_at":MS,"closed_at":MS,
// "updated_at":MS},...], "next": CURSOR}. An episode still open (no
// closed_at) protects up to openEnd. Any bad episode fails the whole answer:
// a partial list would let the cleanup erase what the missing ones protect.
func parseEpisodes(body []byte, openEnd time.Time) (episodesPage, error) {
	var env struct {
		Episodes []struct {
			OpenedAt  *json.Number `json:"opened_at"`
			ClosedAt  *json.Number `json:"closed_at"`
			UpdatedAt *json.Number `json:"updated_at"`
		} `json:"episodes"`
		Next json.RawMessage `json:"next"`
	}
	if err := decodeObject(body, &env); err != nil {
		return episodesPage{}, err
	}
	if env.Episodes == nil {
		return episodesPage{}, errors.New(`no "episodes" array in the response`)
	}
	if len(env.Episodes) > maxEpisodes {
		return episodesPage{}, fmt.Errorf("more than %d episodes", maxEpisodes)
	}
	next, err := parseCursor(env.Next)
	if err != nil {
		return episodesPage{}, err
	}
	p := episodesPage{next: next, ranges: make([]Range, 0, len(env.Episodes))}
	for i, ep := range env.Episodes {
		if ep.OpenedAt == nil {
			return episodesPage{}, fmt.Errorf("episodes[%d]: no opened_at", i)
		}
		opened, err := parseMS(*ep.OpenedAt)
		if err != nil {
			return episodesPage{}, fmt.Errorf("episodes[%d].opened_at: %w", i, err)
		}
		if ep.UpdatedAt != nil {
			if _, err := parseMS(*ep.UpdatedAt); err != nil {
				return episodesPage{}, fmt.Errorf("episodes[%d].updated_at: %w", i, err)
			}
		}
		r := Range{From: time.UnixMilli(opened), To: openEnd}
		if ep.ClosedAt != nil {
			closed, err := parseMS(*ep.ClosedAt)
			if err != nil {
				return episodesPage{}, fmt.Errorf("episodes[%d].closed_at: %w", i, err)
			}
			if closed < opened {
				return episodesPage{}, fmt.Errorf("episodes[%d]: closed_at before opened_at", i)
			}
			r.To = time.UnixMilli(closed)
		}
		p.ranges = append(p.ranges, r)
	}
	return p, nil
}

// parseMS reads a unix-millisecond timestamp; a fractional part is dropped.
func parseMS(n json.Number) (int64, error) {
	v, err := strconv.ParseFloat(n.String(), 64)
	if err != nil || v < minEpisodeMS || v > maxEpisodeMS {
		return 0, fmt.Errorf("%s is not a unix time in milliseconds", engine.QuoteShort(n.String()))
	}
	return int64(v), nil
}
