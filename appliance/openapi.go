package appliance

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/livedge/livedge/appliance/config"
	"github.com/livedge/livedge/appliance/player"
	"github.com/livedge/livedge/engine"
)

// The OpenAPI 3.1 description is generated from the route tables (apiRoutes,
// viewerRoutes) and, for schemas, from the Go types the handlers encode and
// decode, so it cannot drift from what is served.

// opDoc describes an operation for the OpenAPI description.
type opDoc struct {
	summary string
	// query lists the accepted query parameters (see queryParams); others
	// are refused with 400.
	query []string
	// body is the JSON request body (nil: none); reset adds "$reset";
	// text also accepts config file text.
	body        reflect.Type
	reset, text bool
	// status and result are the success answer (result nil: no body).
	status int
	result reflect.Type
	// errors are the error statuses besides 401 and 400 for bad queries.
	errors []int
}

// healthAnswer is the answer of the monitoring probes.
type healthAnswer struct {
	Status string `json:"status"`
}

// configAnswer is the shape of GET /config (streams are left out).
type configAnswer struct {
	config.Config
	Stats serverStats `json:"stats"`
}

var (
	docListStreams = opDoc{summary: "List streams, sorted by name, a page at a time",
		query: []string{"limit", "cursor", "select", "name", "q", "sort"}, status: 200, result: reflect.TypeFor[streamList]()}
	docGetStream = opDoc{summary: "A stream's effective config, origin (named_by) and runtime stats",
		query: []string{"select"}, status: 200, result: reflect.TypeFor[streamView](), errors: []int{404}}
	docPutStream = opDoc{summary: "Create or update a stream: the body merges into its config (null removes a field, \"$reset\": true replaces it); answers the saved config; 400 while config_external manages the streams",
		body: reflect.TypeFor[engine.StreamConfig](), reset: true, status: 200, result: reflect.TypeFor[streamView](), errors: []int{400, 409, 413, 500}}
	docDeleteStream = opDoc{summary: "Remove a stream from the config; 400 while config_external manages the streams",
		status: 204, errors: []int{400, 404, 409, 500}}
	docStopStream = opDoc{summary: "Restart a static stream, or stop an on-demand one until its next viewer",
		status: 204, errors: []int{404}}
	docGetConfig = opDoc{summary: "Global options (secrets only with edit rights) and runtime status",
		status: 200, result: reflect.TypeFor[configAnswer]()}
	docPutConfig = opDoc{summary: "Merge the body into the global options (null removes one, \"$reset\": true replaces them; a streams array replaces the stream list)",
		body: reflect.TypeFor[config.Config](), reset: true, status: 200, result: reflect.TypeFor[configAnswer](), errors: []int{400, 409, 413, 500}}
	docValidateConfig = opDoc{summary: "Validate a config (JSON, or config file text with Content-Type: text/plain) and answer it as JSON; nothing is saved",
		body: reflect.TypeFor[config.Config](), text: true, status: 200, result: reflect.TypeFor[config.Config](), errors: []int{400, 413}}
	docConfigStats = opDoc{summary: "Server status and totals, with config_external_status while config_external is on",
		status: 200, result: reflect.TypeFor[serverStats]()}
	docListSessions = opDoc{summary: "Open viewer sessions, oldest first, a page at a time",
		query: []string{"limit", "cursor", "name"}, status: 200, result: reflect.TypeFor[sessionList]()}
	docListPeers = opDoc{summary: "The cluster's peers: state (live, dead, forbidden, connecting), last contact, load",
		status: 200, result: reflect.TypeFor[peerList]()}
	docLiveness = opDoc{summary: "Liveness probe: 200 while the server answers",
		status: 200, result: reflect.TypeFor[healthAnswer]()}
	docReadiness = opDoc{summary: "Readiness probe: 200 once the config is applied, 503 while starting or stopping",
		status: 200, result: reflect.TypeFor[healthAnswer](), errors: []int{503}}
	docOpenAPI = opDoc{summary: "This description (OpenAPI 3.1)", status: 200}
)

// queryParams describes the query parameters.
var queryParams = map[string]map[string]any{
	"limit":  {"description": "Page size (default 100, at most 1000).", "schema": map[string]any{"type": "integer", "minimum": 1}},
	"cursor": {"description": "The next of the previous page.", "schema": map[string]any{"type": "string"}},
	"select": {"description": "Comma-separated fields to answer with; a.b picks b inside a.", "schema": map[string]any{"type": "string"}},
	"name":   {"description": "Only these streams (comma-separated names).", "schema": map[string]any{"type": "string"}},
	"q":      {"description": "Only streams whose name contains this.", "schema": map[string]any{"type": "string"}},
	"sort":   {"description": "Sort order; only name is supported.", "schema": map[string]any{"type": "string", "enum": []string{"name"}}},
}

// schemaNames are the types described once, in components.
var schemaNames = map[reflect.Type]string{
	reflect.TypeFor[engine.StreamConfig](): "StreamConfig",
	reflect.TypeFor[engine.InputConfig]():  "InputConfig",
	reflect.TypeFor[streamView]():          "Stream",
	reflect.TypeFor[streamStats]():         "StreamStats",
	reflect.TypeFor[streamList]():          "StreamList",
	reflect.TypeFor[config.Config]():       "Config",
	reflect.TypeFor[configAnswer]():        "ConfigWithStats",
	reflect.TypeFor[serverStats]():         "ServerStats",
	reflect.TypeFor[sessionInfo]():         "Session",
	reflect.TypeFor[sessionList]():         "SessionList",
	reflect.TypeFor[errorDoc]():            "Errors",
	reflect.TypeFor[validationAnswer]():    "ValidationError",
	reflect.TypeFor[healthAnswer]():        "Health",
}

type schemaGen struct {
	defs map[string]any
}

func (g *schemaGen) ref(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	name, ok := schemaNames[t]
	if !ok {
		return g.inline(t)
	}
	if _, done := g.defs[name]; !done {
		g.defs[name] = nil // mark first: types may refer to themselves
		g.defs[name] = g.inline(t)
	}
	return map[string]any{"$ref": "#/components/schemas/" + name}
}

func (g *schemaGen) inline(t reflect.Type) map[string]any {
	switch t.Kind() {
	case reflect.Struct:
		props := map[string]any{}
		for name, f := range jsonFields(t) {
			props[name] = g.ref(f.Type)
		}
		return map[string]any{"type": "object", "properties": props}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": g.ref(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.ref(t.Elem())}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer", "minimum": 0}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	}
	return map[string]any{}
}

func jsonContent(schema any) map[string]any {
	return map[string]any{"application/json": map[string]any{"schema": schema}}
}

// openAPIDoc builds the description.
func openAPIDoc() map[string]any {
	g := &schemaGen{defs: map[string]any{}}
	errRef := jsonContent(g.ref(reflect.TypeFor[errorDoc]()))
	paths := map[string]map[string]any{}
	for _, r := range apiRoutes {
		op := map[string]any{
			"summary":     r.doc.summary,
			"operationId": operationID(r.method, r.path),
			"tags":        []string{"api"},
		}
		var params []any
		if strings.Contains(r.path, "{name}") {
			params = append(params, map[string]any{"name": "name", "in": "path", "required": true,
				"description": "Stream name; may contain '/'.", "schema": map[string]any{"type": "string"}})
		}
		for _, q := range r.doc.query {
			p := map[string]any{"name": q, "in": "query"}
			for k, v := range queryParams[q] {
				p[k] = v
			}
			params = append(params, p)
		}
		if params != nil {
			op["parameters"] = params
		}
		if r.doc.body != nil {
			schema := g.ref(r.doc.body)
			if r.doc.reset {
				schema = map[string]any{"allOf": []any{schema, map[string]any{"type": "object", "properties": map[string]any{
					"$reset": map[string]any{"type": "boolean", "description": "Replace instead of merge."}}}}}
			}
			content := jsonContent(schema)
			if r.doc.text {
				content["text/plain"] = map[string]any{"schema": map[string]any{"type": "string", "description": "Config file syntax."}}
			}
			op["requestBody"] = map[string]any{"required": true, "content": content}
		}
		responses := map[string]any{}
		ok := map[string]any{"description": http.StatusText(r.doc.status)}
		switch {
		case r.doc.result != nil:
			ok["content"] = jsonContent(g.ref(r.doc.result))
		case r.path == "/openapi.json":
			ok["content"] = jsonContent(map[string]any{"type": "object"})
		}
		responses[strconv.Itoa(r.doc.status)] = ok
		errs := slices.Clone(r.doc.errors)
		if r.access != accessOpen {
			errs = append(errs, http.StatusUnauthorized)
		}
		if len(r.doc.query) > 0 {
			errs = append(errs, http.StatusBadRequest)
		}
		for _, code := range errs {
			resp := map[string]any{"description": http.StatusText(code), "content": errRef}
			if r.doc.text && code == http.StatusBadRequest {
				resp["content"] = jsonContent(g.ref(reflect.TypeFor[validationAnswer]()))
			}
			responses[strconv.Itoa(code)] = resp
		}
		op["responses"] = responses
		if r.access != accessOpen {
			op["security"] = []any{map[string]any{"basic": []string{}}, map[string]any{"bearer": []string{}}}
		}
		path := apiBase + r.path
		if paths[path] == nil {
			paths[path] = map[string]any{}
		}
		paths[path][strings.ToLower(r.method)] = op
	}
	for _, v := range viewerDocs() {
		tag := "playback"
		if v.path == metricsPath {
			tag = "metrics"
		}
		op := map[string]any{
			"summary":     v.summary,
			"operationId": operationID("GET", v.path),
			"tags":        []string{tag},
			"responses": map[string]any{
				"200": map[string]any{"description": "OK", "content": map[string]any{v.contentType: map[string]any{}}},
				"404": map[string]any{"description": "Not Found", "content": errRef},
			},
		}
		var params []any
		for _, p := range []string{"name", "segment"} {
			if strings.Contains(v.path, "{"+p+"}") {
				params = append(params, map[string]any{"name": p, "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
			}
		}
		if params != nil {
			op["parameters"] = params
		}
		paths[v.path] = map[string]any{"get": op}
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "livedge API v3",
			"version":     serverVersion(),
			"description": "Flussonic-compatible streamer API v3 and playback URLs. Errors are JSON:API: {\"errors\":[{\"status\",\"code\",\"title\",\"source\":{\"pointer\"|\"parameter\"}}]}.",
		},
		"servers": []any{map[string]any{"url": "/"}},
		"paths":   paths,
		"components": map[string]any{
			"schemas": g.defs,
			"securitySchemes": map[string]any{
				"basic":  map[string]any{"type": "http", "scheme": "basic", "description": "edit_auth or view_auth login and password."},
				"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": "base64(login:password), as with Basic."},
			},
		},
	}
}

// viewerDoc describes a playback URL.
type viewerDoc struct {
	path, summary, contentType string
}

// viewerDocs describes the URLs the router serves outside the API: playback
// and metrics.
func viewerDocs() []viewerDoc {
	about := map[string]viewerDoc{
		"index.m3u8":    {summary: "HLS live playlist", contentType: typePlaylist},
		"playlist.m3u8": {summary: "HLS live playlist (alias of index.m3u8)", contentType: typePlaylist},
		"mpegts":        {summary: "Continuous HTTP MPEG-TS from a keyframe", contentType: typeTS},
		"embed.html":    {summary: "Player page", contentType: typeHTML},
	}
	var docs []viewerDoc
	for kind := range viewerRoutes {
		d, ok := about[kind]
		if !ok {
			d = viewerDoc{summary: kind, contentType: "application/octet-stream"}
		}
		d.path = "/{name}/" + kind
		docs = append(docs, d)
	}
	docs = append(docs,
		viewerDoc{path: "/{name}/{segment}", summary: "HLS segment; segment is YYYY/MM/DD/HH/MM/SS-DURATIONMS.ts", contentType: typeTS},
		viewerDoc{path: player.HLSJSPath, summary: "hls.js for the player page", contentType: typeJS},
		viewerDoc{path: metricsPath, summary: "Prometheus metrics (view_auth, when set)", contentType: metricsContentType},
	)
	sort.Slice(docs, func(i, j int) bool { return docs[i].path < docs[j].path })
	return docs
}

func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, part := range strings.FieldsFunc(path, func(r rune) bool { return r == '/' || r == '.' || r == '{' || r == '}' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

var openAPIJSON = sync.OnceValues(func() ([]byte, error) {
	return json.MarshalIndent(openAPIDoc(), "", "  ")
})

// openAPI answers GET /openapi.json.
func (c *apiCall) openAPI() {
	body, err := openAPIJSON()
	if err != nil {
		c.fail(internalError(err))
		return
	}
	c.rw.SetHeader("Cache-Control", "no-cache")
	c.rw.Write(http.StatusOK, "application/json", body)
}
