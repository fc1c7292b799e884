package appliance

import (
	"bytes"
	"mime"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/livedge/livedge/appliance/config"
	"github.com/livedge/livedge/configext"
)

// Version is the server version the API reports; release builds set it
// with -ldflags "-X github.com/livedge/livedge/appliance.Version=...".
var Version = ""

func serverVersion() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "devel"
}

// serverStats is the answer of GET /config/stats and the "stats" of GET
// /config, in Flussonic's names. Bitrates are kbit/s.
type serverStats struct {
	ServerVersion  string `json:"server_version"`
	StartedAt      int64  `json:"started_at"` // unix seconds
	Uptime         int64  `json:"uptime"`     // seconds
	Now            int64  `json:"now"`        // unix milliseconds
	StreamerStatus string `json:"streamer_status"`
	TotalStreams   int    `json:"total_streams"`
	OnlineStreams  int    `json:"online_streams"`
	TotalClients   int    `json:"total_clients"`
	InputKbit      uint64 `json:"input_kbit"`
	OutputKbit     uint64 `json:"output_kbit"`
	// ConfigVersion counts the config changes applied since start.
	ConfigVersion uint64 `json:"config_version"`
	// ConfigFile is where changes are saved; empty when they are not
	// (the embedded default config has no file).
	ConfigFile      string `json:"config_file,omitempty"`
	ConfigPersisted bool   `json:"config_persisted"`
	// ConfigExternalStatus is the state of the config_external backend
	// while it is on.
	ConfigExternalStatus *configext.Status `json:"config_external_status,omitempty"`
}

func (rt *router) serverStats(st *configState) serverStats {
	now := time.Now()
	out := serverStats{
		ServerVersion:   serverVersion(),
		StartedAt:       rt.startedAt.Unix(),
		Uptime:          int64(now.Sub(rt.startedAt).Seconds()),
		Now:             now.UnixMilli(),
		StreamerStatus:  "running",
		TotalStreams:    len(st.effective.Streams),
		TotalClients:    rt.sessions.total(),
		OutputKbit:      rt.outputKbit.Load(),
		ConfigVersion:   st.version,
		ConfigPersisted: rt.store.persisted(),
	}
	if rt.store.persisted() {
		out.ConfigFile = rt.store.src.Path
	}
	if rt.stopping.Load() {
		out.StreamerStatus = "stopping"
	}
	if c := rt.externalClient(); c != nil {
		status := c.Status()
		out.ConfigExternalStatus = &status
	}
	for _, s := range rt.streams.Running() {
		status := s.Status()
		if status.Alive {
			out.OnlineStreams++
		}
		out.InputKbit += status.InputBitrate
	}
	return out
}

// configStats answers GET /config/stats.
func (c *apiCall) configStats() {
	c.reply(http.StatusOK, c.rt.serverStats(c.rt.store.current()))
}

// configDoc is the global part of the effective config, secrets left out
// for callers without edit rights, with the runtime status as "stats".
func (c *apiCall) configDoc(st *configState) (map[string]any, error) {
	doc, err := toDoc(st.effective)
	if err != nil {
		return nil, err
	}
	delete(doc, "streams")
	if !c.edit {
		redactSecrets(doc)
	}
	// The backend's credentials never show, not even to editors.
	if u, ok := doc["config_external"].(string); ok {
		doc["config_external"] = withoutUserinfo(u)
	}
	doc["stats"] = c.rt.serverStats(st)
	return doc, nil
}

// withoutUserinfo drops the credentials of a URL; what does not parse is
// left as it is (the config validated it).
func withoutUserinfo(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = nil
	return u.String()
}

// keepExternalCredentials: a client that sends back the config_external it
// read (without credentials) keeps the credentials it cannot see.
func keepExternalCredentials(doc, body map[string]any) {
	sent, ok := body["config_external"].(string)
	cur, _ := doc["config_external"].(string)
	if ok && cur != sent && withoutUserinfo(cur) == sent {
		body["config_external"] = cur
	}
}

// redactSecrets removes passwords, keys and tokens from a document.
func redactSecrets(doc map[string]any) {
	for k, v := range doc {
		if k == "password" || k == "secret" || strings.HasSuffix(k, "_key") || strings.HasSuffix(k, "token") {
			delete(doc, k)
			continue
		}
		switch v := v.(type) {
		case map[string]any:
			redactSecrets(v)
		case []any:
			for _, e := range v {
				if m, ok := e.(map[string]any); ok {
					redactSecrets(m)
				}
			}
		}
	}
}

// getConfig answers GET /config.
func (c *apiCall) getConfig() {
	doc, err := c.configDoc(c.rt.store.current())
	if err != nil {
		c.fail(internalError(err))
		return
	}
	c.reply(http.StatusOK, doc)
}

// putConfig answers PUT /config: the body merges into the global options
// (null removes one); "$reset": true replaces them all. A "streams" array,
// when present, replaces the stream list; without it streams stay.
func (c *apiCall) putConfig() {
	body, reset, ok := c.editBody()
	if !ok {
		return
	}
	delete(body, "stats") // read-only, sent back by clients that edit what they read
	st, aerr := c.rt.store.change(func(doc map[string]any) *apiError {
		if reset {
			streams := doc["streams"]
			clear(doc)
			if streams != nil {
				doc["streams"] = streams
			}
		}
		keepExternalCredentials(doc, body)
		mergePatch(doc, body)
		return nil
	})
	if aerr != nil {
		c.fail(aerr)
		return
	}
	doc, err := c.configDoc(st)
	if err != nil {
		c.fail(internalError(err))
		return
	}
	c.changed(http.StatusOK, doc)
}

// validationAnswer is Flussonic's answer to a config that fails
// validation, with the JSON:API errors too.
type validationAnswer struct {
	Line   int           `json:"line"`
	Col    int           `json:"col"`
	Error  string        `json:"error"`
	Path   []any         `json:"path"`
	Detail string        `json:"detail"`
	Errors []errorObject `json:"errors"`
}

// validateConfig answers POST /config: it parses and validates the body, a
// config as JSON or as config file text (Content-Type: text/plain, or a
// body that does not start with '{'), and saves nothing.
func (c *apiCall) validateConfig() {
	body := c.req.Body
	var cfg *config.Config
	var aerr *apiError
	if isConfigText(c.req.Header.Get("Content-Type"), body) {
		var err error
		if cfg, err = config.Parse("config", body); err != nil {
			aerr = validationError(err)
		}
	} else {
		cfg, aerr = validateJSONConfig(body)
	}
	if aerr != nil {
		c.fail(aerr.withValidation())
		return
	}
	doc, err := toDoc(cfg)
	if err != nil {
		c.fail(internalError(err))
		return
	}
	c.reply(http.StatusOK, doc)
}

func isConfigText(contentType string, body []byte) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	switch {
	case mt == "text/plain":
		return true
	case strings.HasSuffix(mt, "json"):
		return false
	}
	return !bytes.HasPrefix(bytes.TrimSpace(body), []byte("{"))
}

// validateJSONConfig decodes and validates a config in JSON; errors carry
// the line and column of the culprit in the body.
func validateJSONConfig(body []byte) (*config.Config, *apiError) {
	doc, aerr := decodeObject(body)
	if aerr != nil {
		aerr.code = config.CodeSyntax
		return nil, aerr
	}
	var cfg config.Config
	if derr := decodeInto(doc, &cfg); derr != nil {
		aerr = &apiError{status: http.StatusBadRequest, code: derr.code(), title: derr.msg, path: derr.path}
	} else if err := cfg.Validate(); err != nil {
		aerr = validationError(err)
	}
	if aerr != nil {
		if off := jsonPosition(body, aerr.path); off >= 0 {
			aerr.line, aerr.col = lineCol(body, off)
		}
		return nil, aerr
	}
	return &cfg, nil
}

// withValidation renders an error as a validation answer.
func (e *apiError) withValidation() *apiError {
	e.validation = true
	return e
}

func (c *apiCall) failValidation(e *apiError) {
	if e.pointer == nil && e.path != nil {
		e.pointer = ptr(pointerOf(e.path))
	}
	path := e.path
	if path == nil {
		path = []any{}
	}
	c.reply(e.status, validationAnswer{Line: e.line, Col: e.col, Error: e.code, Path: path, Detail: e.title,
		Errors: []errorObject{e.object()}})
}

// liveness answers the Kubernetes liveness probe: the event loop answers.
func (c *apiCall) liveness() {
	c.reply(http.StatusOK, healthAnswer{Status: "ok"})
}

// readiness answers the readiness probe: the config is applied and the
// server is not shutting down.
func (c *apiCall) readiness() {
	switch {
	case c.rt.stopping.Load():
		c.fail(&apiError{status: http.StatusServiceUnavailable, code: "stopping", title: "the server is shutting down"})
	case !c.rt.ready.Load():
		c.fail(&apiError{status: http.StatusServiceUnavailable, code: "starting", title: "the server is starting"})
	default:
		c.reply(http.StatusOK, healthAnswer{Status: "ok"})
	}
}

// sessionList is the answer of GET /sessions.
type sessionList struct {
	Sessions       []sessionInfo `json:"sessions"`
	Next           string        `json:"next,omitempty"`
	EstimatedCount int           `json:"estimated_count"`
}

// listSessions answers GET /sessions: open viewer sessions, oldest first,
// optionally of the streams named by name=a,b.
func (c *apiCall) listSessions() {
	limit, after, ok := c.pageParams(cursorByID)
	if !ok {
		return
	}
	var afterID uint64
	if after != "" {
		var err error
		if afterID, err = strconv.ParseUint(after, 10, 64); err != nil {
			c.fail(&apiError{status: http.StatusBadRequest, code: "bad_parameter", param: "cursor", title: "cursor is not one this server gave out"})
			return
		}
	}
	var filter streamFilter
	if s, ok := c.query["name"]; ok {
		filter.names = strings.Split(strings.Join(s, ","), ",")
	}
	all := c.rt.sessions.list()
	out := sessionList{Sessions: []sessionInfo{}}
	for _, s := range all {
		if !filter.match(s.Name) {
			continue
		}
		out.EstimatedCount++
		if s.ID <= afterID {
			continue
		}
		if len(out.Sessions) == limit {
			if out.Next == "" {
				out.Next = encodeCursor(cursorByID, strconv.FormatUint(out.Sessions[limit-1].ID, 10))
			}
			continue
		}
		out.Sessions = append(out.Sessions, s)
	}
	c.reply(http.StatusOK, out)
}
