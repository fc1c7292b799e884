package appliance

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/livedge/livedge/engine"
)

// Paging of lists.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// streamView is a stream in API v3 shape: its effective config, where the
// config came from, and its runtime stats.
type streamView struct {
	engine.StreamConfig
	// NamedBy is "config" for streams of the config file (including those
	// saved through the API); "external" and "user" are for config_external
	// and published streams.
	NamedBy string       `json:"named_by"`
	Stats   *streamStats `json:"stats,omitempty"`
}

// streamStats is a stream's runtime state. Durations are milliseconds,
// bitrates kbit/s.
type streamStats struct {
	Alive          bool   `json:"alive"`
	Running        bool   `json:"running"`
	Input          string `json:"input,omitempty"`
	InputIndex     int    `json:"input_index"`
	InputBitrate   uint64 `json:"input_bitrate"`
	BytesIn        uint64 `json:"bytes_in"`
	BytesOut       uint64 `json:"bytes_out"`
	LastFrameAgeMs int64  `json:"last_frame_age,omitempty"`
	LifetimeMs     int64  `json:"lifetime"`
	OnlineClients  int    `json:"online_clients"`
	// Clients counts online clients by protocol.
	Clients        map[string]int `json:"clients"`
	SourceRestarts uint64         `json:"source_restarts"`
	Resyncs        uint64         `json:"resyncs"`
	DroppedClients uint64         `json:"dropped_clients"`
}

const (
	namedByConfig   = "config"
	namedByExternal = "external"
)

func (rt *router) view(c engine.StreamConfig) streamView {
	use := rt.sessions.usage(c.Name)
	st := &streamStats{
		InputIndex:    -1,
		BytesOut:      use.BytesOut,
		OnlineClients: use.HLS + use.MPEGTS,
		Clients:       map[string]int{protoHLS: use.HLS, protoMPEGTS: use.MPEGTS},
	}
	v := streamView{StreamConfig: c, NamedBy: namedByConfig, Stats: st}
	if rt.store != nil && rt.store.current().external[c.Name] {
		v.NamedBy = namedByExternal
	}
	s, ok := rt.streams.Get(c.Name)
	if !ok {
		return v
	}
	status := s.Status()
	hub := outputsOf(s).ts.Stats()
	st.Running = true
	st.Alive = status.Alive
	st.Input = status.Input
	st.InputIndex = status.InputIndex
	st.InputBitrate = status.InputBitrate
	st.BytesIn = status.BytesIn
	st.LastFrameAgeMs = status.LastFrameAge.Milliseconds()
	st.LifetimeMs = status.Lifetime.Milliseconds()
	st.SourceRestarts = status.Restarts
	st.Resyncs = hub.Resyncs
	st.DroppedClients = hub.Dropped
	return v
}

// streamList is the answer of GET /streams.
type streamList struct {
	Streams        []any  `json:"streams"`
	Next           string `json:"next,omitempty"`
	EstimatedCount int    `json:"estimated_count"`
}

// A cursor is opaque to clients: base64 of "KEY_gt=VALUE", VALUE being the
// sort key of the last item of the page (a stream name, a session id), so
// paging is stable while items come and go.
const (
	cursorByName = "name_gt="
	cursorByID   = "id_gt="
)

func encodeCursor(key, after string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(key + url.QueryEscape(after)))
}

func decodeCursor(key, s string) (string, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return "", false
	}
	rest, ok := strings.CutPrefix(string(raw), key)
	if !ok {
		return "", false
	}
	after, err := url.QueryUnescape(rest)
	return after, err == nil
}

// pageParams reads limit and cursor; ok is false when they were bad and
// the call was answered.
func (c *apiCall) pageParams(cursorKey string) (limit int, after string, ok bool) {
	limit = defaultLimit
	if s := c.query.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			c.fail(&apiError{status: http.StatusBadRequest, code: "bad_parameter", param: "limit",
				title: "limit must be a positive integer"})
			return 0, "", false
		}
		limit = min(n, maxLimit)
	}
	if s := c.query.Get("cursor"); s != "" {
		if after, ok = decodeCursor(cursorKey, s); !ok {
			c.fail(&apiError{status: http.StatusBadRequest, code: "bad_parameter", param: "cursor",
				title: "cursor is not one this server gave out"})
			return 0, "", false
		}
	}
	return limit, after, true
}

// streamFilter selects streams by the name and q query parameters.
type streamFilter struct {
	names []string // exact names (name=a,b)
	q     string   // substring of the name
}

func (f streamFilter) empty() bool { return f.names == nil && f.q == "" }

func (f streamFilter) match(name string) bool {
	if f.names != nil && !slices.Contains(f.names, name) {
		return false
	}
	return f.q == "" || strings.Contains(name, f.q)
}

// listStreams answers GET /streams: streams sorted by name, a page of
// limit after the cursor.
func (c *apiCall) listStreams() {
	limit, after, ok := c.pageParams(cursorByName)
	if !ok {
		return
	}
	if s := c.query.Get("sort"); s != "" && s != "name" {
		c.fail(&apiError{status: http.StatusBadRequest, code: "bad_parameter", param: "sort",
			title: "only sort=name is supported"})
		return
	}
	fields, ok := c.selectParam()
	if !ok {
		return
	}
	var filter streamFilter
	if s, ok := c.query["name"]; ok {
		filter.names = strings.Split(strings.Join(s, ","), ",")
	}
	filter.q = c.query.Get("q")

	st := c.rt.store.current()
	names := st.byName
	start := 0
	if c.query.Get("cursor") != "" {
		start = sort.Search(len(names), func(i int) bool { return st.effective.Streams[names[i]].Name > after })
	}
	out := streamList{Streams: []any{}, EstimatedCount: len(names)}
	if !filter.empty() {
		out.EstimatedCount = 0
		for _, i := range names {
			if filter.match(st.effective.Streams[i].Name) {
				out.EstimatedCount++
			}
		}
	}
	last := ""
	for _, i := range names[start:] {
		cfg := st.effective.Streams[i]
		if !filter.match(cfg.Name) {
			continue
		}
		if len(out.Streams) == limit {
			out.Next = encodeCursor(cursorByName, last)
			break
		}
		item, err := selected(c.rt.view(cfg), fields)
		if err != nil {
			c.fail(internalError(err))
			return
		}
		out.Streams = append(out.Streams, item)
		last = cfg.Name
	}
	c.reply(http.StatusOK, out)
}

// selectParam parses the select parameter; ok is false when it failed and
// the call was answered.
func (c *apiCall) selectParam() ([][]string, bool) {
	s, ok := c.query["select"]
	if !ok {
		return nil, true
	}
	fields, err := parseSelect(strings.Join(s, ","))
	if err != nil {
		c.fail(&apiError{status: http.StatusBadRequest, code: "bad_parameter", param: "select", title: "select: " + err.Error()})
		return nil, false
	}
	return fields, true
}

// selected keeps the selected fields of v, or all of it without a selection.
func selected(v any, fields [][]string) (any, error) {
	if fields == nil {
		return v, nil
	}
	doc, err := toDoc(v)
	if err != nil {
		return nil, err
	}
	return selectFields(doc, fields), nil
}

func (c *apiCall) streamNotFound() {
	c.fail(&apiError{status: http.StatusNotFound, code: codeNotFound, title: "stream " + c.name + " is not configured"})
}

// getStream answers GET /streams/NAME.
func (c *apiCall) getStream() {
	cfg, ok := c.rt.store.current().streamByName(c.name)
	if !ok {
		c.streamNotFound()
		return
	}
	fields, ok := c.selectParam()
	if !ok {
		return
	}
	item, err := selected(c.rt.view(cfg), fields)
	if err != nil {
		c.fail(internalError(err))
		return
	}
	c.reply(http.StatusOK, item)
}

// readOnlyStreamFields are parts of a stream's GET answer that a PUT may
// send back (clients edit what they read) and that are ignored.
var readOnlyStreamFields = []string{"stats", "named_by"}

// putStream answers PUT /streams/NAME: it creates the stream or merges the
// body into it (null removes a field, "$reset": true replaces it whole).
func (c *apiCall) putStream() {
	if c.refuseWhileExternal() {
		return
	}
	body, reset, ok := c.editBody()
	if !ok {
		return
	}
	for _, k := range readOnlyStreamFields {
		delete(body, k)
	}
	if v, ok := body["name"]; ok && v != nil && v != any(c.name) {
		c.fail(&apiError{status: http.StatusBadRequest, code: "bad_value", pointer: ptr("/name"),
			title: "name in the body differs from the name in the URL (" + c.name + "); renaming is not supported"})
		return
	}
	idx := -1
	st, aerr := c.rt.store.change(func(doc map[string]any) *apiError {
		streams, _ := doc["streams"].([]any)
		idx = findStreamDoc(streams, c.name)
		var cur any
		if idx >= 0 && !reset {
			cur = streams[idx]
		}
		merged, _ := mergePatch(cur, body).(map[string]any)
		merged["name"] = c.name
		if idx >= 0 {
			streams[idx] = merged
		} else {
			idx = len(streams)
			streams = append(streams, merged)
		}
		doc["streams"] = streams
		return nil
	})
	if aerr != nil {
		c.fail(relativeToStream(aerr, idx))
		return
	}
	saved, _ := st.file.Stream(c.name)
	c.changed(http.StatusOK, streamView{StreamConfig: saved, NamedBy: namedByConfig})
}

// relativeToStream makes an error about streams[idx] point into the
// stream's own body.
func relativeToStream(e *apiError, idx int) *apiError {
	if len(e.path) >= 2 && e.path[0] == any("streams") && e.path[1] == any(idx) {
		e.pointer = ptr(pointerOf(e.path[2:]))
	}
	return e
}

func findStreamDoc(streams []any, name string) int {
	for i, s := range streams {
		if m, ok := s.(map[string]any); ok && m["name"] == any(name) {
			return i
		}
	}
	return -1
}

// deleteStream answers DELETE /streams/NAME.
func (c *apiCall) deleteStream() {
	if c.refuseWhileExternal() {
		return
	}
	_, aerr := c.rt.store.change(func(doc map[string]any) *apiError {
		streams, _ := doc["streams"].([]any)
		i := findStreamDoc(streams, c.name)
		if i < 0 {
			return &apiError{status: http.StatusNotFound, code: codeNotFound, title: "stream " + c.name + " is not configured"}
		}
		doc["streams"] = slices.Delete(streams, i, i+1)
		return nil
	})
	if aerr != nil {
		c.fail(aerr)
		return
	}
	c.changed(http.StatusNoContent, nil)
}

// stopStream answers POST /streams/NAME/stop: a static stream restarts, an
// on-demand one stops until its next viewer.
func (c *apiCall) stopStream() {
	if !c.rt.store.restart(c.name) {
		c.streamNotFound()
		return
	}
	c.rw.Write(http.StatusNoContent, "")
}

// editBody decodes the JSON object of a PUT and takes its "$reset"; ok is
// false when the body was refused (answered already).
func (c *apiCall) editBody() (body map[string]any, reset, ok bool) {
	body, aerr := decodeObject(c.req.Body)
	if aerr == nil {
		reset, aerr = takeReset(body)
	}
	if aerr != nil {
		c.fail(aerr)
		return nil, false, false
	}
	return body, reset, true
}

// takeReset removes "$reset" from a PUT body and says whether it asked for a
// replacement instead of a merge.
func takeReset(body map[string]any) (bool, *apiError) {
	v, ok := body["$reset"]
	if !ok {
		return false, nil
	}
	reset, isBool := v.(bool)
	if !isBool {
		return false, &apiError{status: http.StatusBadRequest, code: "bad_value", title: "$reset must be true or false", pointer: ptr("/$reset")}
	}
	delete(body, "$reset")
	return reset, nil
}
