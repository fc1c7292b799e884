package appliance

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"github.com/livedge/livedge/appliance/config"
	"github.com/livedge/livedge/netio"
)

// Flussonic's API v3 lives under apiBase.
const (
	apiBase   = "/streamer/api/v3"
	apiPrefix = apiBase + "/"
)

// apiRoute is one operation of the API. The router dispatches only through
// apiRoutes, and the OpenAPI description is generated from the same table,
// so what is served is what is described.
type apiRoute struct {
	method string
	// path is the OpenAPI path template under apiBase. {name} is a stream
	// name and may contain '/'.
	path   string
	access access
	// onLoop routes answer at once from memory; the others run on a
	// goroutine (they wait for the config mutex, the disk or a stream).
	onLoop bool
	handle func(c *apiCall)
	doc    opDoc
}

// apiRoutes is the API; filled by init because handlers refer to it.
var apiRoutes []apiRoute

func init() {
	apiRoutes = []apiRoute{
		{method: "GET", path: "/streams", access: accessView, handle: (*apiCall).listStreams, doc: docListStreams},
		{method: "GET", path: "/streams/{name}", access: accessView, handle: (*apiCall).getStream, doc: docGetStream},
		{method: "PUT", path: "/streams/{name}", access: accessEdit, handle: (*apiCall).putStream, doc: docPutStream},
		{method: "DELETE", path: "/streams/{name}", access: accessEdit, handle: (*apiCall).deleteStream, doc: docDeleteStream},
		{method: "POST", path: "/streams/{name}/stop", access: accessEdit, handle: (*apiCall).stopStream, doc: docStopStream},
		{method: "GET", path: "/config", access: accessView, handle: (*apiCall).getConfig, doc: docGetConfig},
		{method: "PUT", path: "/config", access: accessEdit, handle: (*apiCall).putConfig, doc: docPutConfig},
		{method: "POST", path: "/config", access: accessView, handle: (*apiCall).validateConfig, doc: docValidateConfig},
		{method: "GET", path: "/config/stats", access: accessView, handle: (*apiCall).configStats, doc: docConfigStats},
		{method: "GET", path: "/sessions", access: accessView, handle: (*apiCall).listSessions, doc: docListSessions},
		{method: "GET", path: "/cluster/peers", access: accessView, handle: (*apiCall).listPeers, doc: docListPeers},
		{method: "GET", path: "/monitoring/liveness", access: accessOpen, onLoop: true, handle: (*apiCall).liveness, doc: docLiveness},
		{method: "GET", path: "/monitoring/readiness", access: accessOpen, onLoop: true, handle: (*apiCall).readiness, doc: docReadiness},
		{method: "GET", path: "/openapi.json", access: accessOpen, onLoop: true, handle: (*apiCall).openAPI, doc: docOpenAPI},
	}
}

// match reports whether rest (the path under apiBase) is this route's path,
// and the {name} in it.
func (r *apiRoute) match(rest string) (name string, ok bool) {
	prefix, suffix, param := strings.Cut(r.path, "{name}")
	if !param {
		return "", rest == r.path
	}
	if !strings.HasPrefix(rest, prefix) || !strings.HasSuffix(rest, suffix) || len(rest) <= len(prefix)+len(suffix) {
		return "", false
	}
	return rest[len(prefix) : len(rest)-len(suffix)], true
}

// findRoute finds the route for method and path; when the path exists with
// other methods only, allow lists them.
func findRoute(method, rest string) (route *apiRoute, name string, allow []string) {
	for i := range apiRoutes {
		r := &apiRoutes[i]
		n, ok := r.match(rest)
		if !ok {
			continue
		}
		if r.method == method {
			return r, n, nil
		}
		if !slices.Contains(allow, r.method) {
			allow = append(allow, r.method)
		}
	}
	return nil, "", allow
}

// apiCall is one API request being answered.
type apiCall struct {
	rt    *router
	rw    *netio.ResponseWriter
	req   *netio.Request
	route *apiRoute
	name  string // the {name} of the path
	query url.Values
	// edit: the caller holds edit rights, so it may see secrets.
	edit bool
}

// serveAPI dispatches an API request: route, auth, query, then the handler,
// on the loop for the quick ones and on a goroutine for the others.
func (rt *router) serveAPI(rw *netio.ResponseWriter, req *netio.Request) {
	rest := strings.TrimPrefix(req.Path, apiBase)
	method := req.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	route, name, allow := findRoute(method, rest)
	c := &apiCall{rt: rt, rw: rw, req: req, route: route, name: name}
	if route == nil {
		if len(allow) > 0 {
			if slices.Contains(allow, "GET") {
				allow = append(allow, "HEAD")
			}
			rw.SetHeader("Allow", strings.Join(allow, ", "))
			c.fail(&apiError{status: http.StatusMethodNotAllowed, code: "method_not_allowed",
				title: "method " + req.Method + " is not allowed on " + req.Path})
			return
		}
		c.fail(&apiError{status: http.StatusNotFound, code: codeNoSuchRoute, title: "no such API resource: " + req.Path})
		return
	}
	cfg := rt.store.current().effective
	if !allowed(cfg, req.Header, route.access) {
		rw.SetHeader("WWW-Authenticate", authChallenge)
		c.fail(&apiError{status: http.StatusUnauthorized, code: "unauthorized", title: "valid credentials required"})
		return
	}
	c.edit = allowed(cfg, req.Header, accessEdit)
	q, err := url.ParseQuery(req.RawQuery)
	if err != nil {
		c.fail(&apiError{status: http.StatusBadRequest, code: "bad_query", title: "bad query string: " + err.Error()})
		return
	}
	for k := range q {
		if !slices.Contains(route.doc.query, k) {
			c.fail(&apiError{status: http.StatusBadRequest, code: "unknown_parameter", param: k,
				title: fmt.Sprintf("unknown query parameter %s (this call takes %s)", strconv.Quote(k), paramList(route.doc.query))})
			return
		}
	}
	c.query = q
	if route.onLoop {
		route.handle(c)
		return
	}
	rw.Hold()
	go c.run()
}

func paramList(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// run runs a held call's handler on its goroutine.
func (c *apiCall) run() {
	defer func() {
		if r := recover(); r != nil {
			c.rt.log().Error("API handler panic", "path", c.req.Path, "panic", r, "stack", string(debug.Stack()))
			c.fail(&apiError{status: http.StatusInternalServerError, code: "internal_error", title: "internal error"})
		}
	}()
	c.route.handle(c)
}

func (rt *router) log() *slog.Logger {
	if rt.store != nil && rt.store.log != nil {
		return rt.store.log
	}
	return slog.Default()
}

// Error codes of the API's own (the config package has the validation ones).
const (
	codeNoSuchRoute = "no_such_route"
	codeNotFound    = "stream_not_found"
)

// apiError is a JSON:API error answer.
type apiError struct {
	status int
	code   string
	title  string
	// pointer locates the culprit in the request body (RFC 6901).
	pointer *string
	// param names the culprit query parameter.
	param string
	// path locates the culprit in the config model; handlers turn it into
	// a pointer relative to their body.
	path []any
	// line and col locate it in a config text body.
	line, col int
	meta      map[string]any
	// validation: answer in the shape of Flussonic's config validation.
	validation bool
}

func ptr(s string) *string { return &s }

type errorDoc struct {
	Errors []errorObject `json:"errors"`
}

type errorObject struct {
	Status string         `json:"status"`
	Code   string         `json:"code"`
	Title  string         `json:"title"`
	Source *errorSource   `json:"source,omitempty"`
	Meta   map[string]any `json:"meta,omitempty"`
}

type errorSource struct {
	Pointer   *string `json:"pointer,omitempty"`
	Parameter string  `json:"parameter,omitempty"`
}

func (e *apiError) object() errorObject {
	o := errorObject{Status: strconv.Itoa(e.status), Code: e.code, Title: e.title, Meta: e.meta}
	if e.pointer != nil || e.param != "" {
		o.Source = &errorSource{Pointer: e.pointer, Parameter: e.param}
	}
	return o
}

func (c *apiCall) fail(e *apiError) {
	if e.validation {
		c.failValidation(e)
		return
	}
	if e.pointer == nil && e.path != nil {
		e.pointer = ptr(pointerOf(e.path))
	}
	c.rw.WriteJSON(e.status, errorDoc{Errors: []errorObject{e.object()}})
}

func (c *apiCall) reply(status int, v any) { c.rw.WriteJSON(status, v) }

func internalError(err error) *apiError {
	return &apiError{status: http.StatusInternalServerError, code: "internal_error", title: err.Error()}
}

// validationError turns a config error into a 400 with its model path.
func validationError(err error) *apiError {
	var ce *config.Error
	if errors.As(err, &ce) {
		return &apiError{status: http.StatusBadRequest, code: ce.Code, title: ce.Msg, path: ce.Path, line: ce.Line, col: ce.Col}
	}
	return &apiError{status: http.StatusBadRequest, code: config.CodeBadValue, title: err.Error()}
}

// notPersistedHeader marks answers to changes that live in memory only:
// the daemon runs the embedded default config, which has no file.
const notPersistedHeader = "Livedge-Config-Persisted"

// changed answers a successful change.
func (c *apiCall) changed(status int, v any) {
	if !c.rt.store.persisted() {
		c.rw.SetHeader(notPersistedHeader, "false")
	}
	if v == nil {
		c.rw.Write(status, "")
		return
	}
	c.reply(status, v)
}
