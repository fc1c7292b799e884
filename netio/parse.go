package netio

import (
	"bytes"
	"slices"
	"strings"
)

// HTTP/1.1 request framing (RFC 9112), strict where leniency invites request
// smuggling: exact request-line spacing, no obs-fold, no whitespace before
// the colon, no bare CR, one Content-Length, no request Transfer-Encoding.
// Bare LF line ends are accepted (RFC 9112 §2.2).

// httpError is a refused request: the status, the JSON error code and title.
// Parse errors always close the connection after the answer.
type httpError struct {
	status int
	code   string
	title  string
}

var (
	errBadRequestLine   = &httpError{400, "bad_request", "malformed request line"}
	errBadHeaderField   = &httpError{400, "bad_request", "malformed header field"}
	errBareCR           = &httpError{400, "bad_request", "bare CR in request head"}
	errBadTarget        = &httpError{400, "bad_request", "malformed request target"}
	errBadEscape        = &httpError{400, "bad_request", "bad percent-encoding in path"}
	errNULInPath        = &httpError{400, "bad_request", "NUL in path"}
	errPathTraversal    = &httpError{400, "bad_request", "path traversal (..) refused"}
	errMissingHost      = &httpError{400, "bad_request", "HTTP/1.1 request without Host"}
	errMultipleHost     = &httpError{400, "bad_request", "more than one Host header"}
	errBadContentLength = &httpError{400, "bad_request", "invalid Content-Length"}
	errTooManyBlanks    = &httpError{400, "bad_request", "too many empty lines before the request"}
	errHeadTooLarge     = &httpError{431, "request_header_fields_too_large", "request header block too large"}
	errTooManyFields    = &httpError{431, "request_header_fields_too_large", "too many header fields"}
	errBodyTooLarge     = &httpError{413, "payload_too_large", "request body too large"}
	errChunkedBody      = &httpError{411, "length_required", "chunked request bodies are not supported: send Content-Length"}
	errTransferCoding   = &httpError{501, "not_implemented", "request Transfer-Encoding is not supported"}
	errVersion          = &httpError{505, "http_version_not_supported", "only HTTP/1.0 and HTTP/1.1 are supported"}
	errExpectation      = &httpError{417, "expectation_failed", "only Expect: 100-continue is supported"}
)

// maxHeaderFields bounds the header fields of one request.
const maxHeaderFields = 128

type parseLimits struct {
	maxHeaderBytes int
	maxBodyBytes   int
}

// requestParser frames one request at a time out of the bytes buffered on a
// connection. parse is given all bytes buffered since the request began (it
// never sees them consumed until it returns a request) and keeps only scan
// positions between calls, so feeding a request in pieces gives the result
// of feeding it whole, and a slow sender costs no rescanning.
type requestParser struct {
	lim parseLimits
	// fields, when set, is where header fields are parsed into: scratch
	// shared by the connections of a loop, so a request returned by parse
	// is valid until the loop's next parse. A request that waits for its
	// body gets fields of its own.
	fields *Header
	// start is the offset of the request line, after skipped empty lines.
	start int
	// scanned: buf[start:scanned] holds no end of the head.
	scanned int
	// Once the head is parsed: the request without its body, where the body
	// starts and how long it is.
	haveHead       bool
	req            Request
	headEnd        int
	bodyLen        int
	expectContinue bool
}

func (p *requestParser) reset() { *p = requestParser{lim: p.lim, fields: p.fields} }

// awaitingBody reports whether the head is parsed and how many buffered
// bytes in total complete the request.
func (p *requestParser) awaitingBody() (total int, ok bool) {
	return p.headEnd + p.bodyLen, p.haveHead
}

// parse returns the next request and the number of bytes it took from buf.
// n == 0 with a nil error means more bytes are needed. After an error the
// connection must be closed.
func (p *requestParser) parse(buf []byte) (req Request, n int, herr *httpError) {
	if !p.haveHead {
		end, herr := p.findHeadEnd(buf)
		if herr != nil || end == 0 {
			return Request{}, 0, herr
		}
		if herr := p.parseHead(buf[p.start:end]); herr != nil {
			return Request{}, 0, herr
		}
		p.headEnd = end
		p.haveHead = true
		if p.fields != nil && len(buf) < p.headEnd+p.bodyLen {
			p.req.Header = slices.Clone(p.req.Header) // the scratch is not ours to keep
		}
	}
	total := p.headEnd + p.bodyLen
	if len(buf) < total {
		return Request{}, 0, nil
	}
	req = p.req
	if p.bodyLen > 0 {
		req.Body = make([]byte, p.bodyLen)
		copy(req.Body, buf[p.headEnd:total])
	}
	p.reset()
	return req, total, nil
}

// findHeadEnd returns the offset just past the empty line ending the head,
// or 0 when it is not buffered yet. The head must end within
// maxHeaderBytes of the first byte.
func (p *requestParser) findHeadEnd(buf []byte) (int, *httpError) {
	limit := p.lim.maxHeaderBytes
	// Empty lines before the request line are skipped (RFC 9112 §2.2).
	i := p.start
	for i < len(buf) && i < limit && (buf[i] == '\n' || buf[i] == '\r') {
		if buf[i] == '\r' {
			if i+1 == len(buf) {
				break
			}
			if buf[i+1] != '\n' {
				return 0, errBareCR
			}
			i++
		}
		i++
	}
	p.start = i
	if p.start >= limit {
		return 0, errTooManyBlanks
	}
	if i == len(buf) || buf[i] == '\r' {
		return 0, nil
	}
	window := buf
	if len(window) > limit {
		window = window[:limit]
	}
	j := max(p.scanned, i)
	for {
		k := bytes.IndexByte(window[j:], '\n')
		if k < 0 {
			j = len(window)
			break
		}
		j += k
		if j+1 >= len(window) {
			break // cannot tell yet whether an empty line follows
		}
		if window[j+1] == '\n' {
			return j + 2, nil
		}
		if window[j+1] == '\r' {
			if j+2 >= len(window) {
				break
			}
			if window[j+2] == '\n' {
				return j + 3, nil
			}
		}
		j++
	}
	p.scanned = j
	if len(buf) >= limit {
		return 0, errHeadTooLarge
	}
	return 0, nil
}

// parseHead parses the request line and header fields (head ends with its
// empty line) into p.req and the body framing into p.bodyLen.
func (p *requestParser) parseHead(head []byte) *httpError {
	// One copy of the head: every string of the request points into it, so
	// the request outlives the connection's buffers.
	raw := string(head)

	eol := strings.IndexByte(raw, '\n')
	line, ok := trimCR(raw[:eol])
	if !ok {
		return errBareCR
	}
	rest := raw[eol+1:]
	method, target, proto, herr := splitRequestLine(line)
	if herr != nil {
		return herr
	}

	// Every field line ends with LF, and so does the final empty line.
	nfields := strings.Count(rest, "\n") - 1
	if nfields > maxHeaderFields {
		return errTooManyFields
	}
	var header Header
	switch {
	case p.fields != nil:
		header = (*p.fields)[:0]
	case nfields > 0:
		header = make(Header, 0, nfields)
	}
	for {
		eol := strings.IndexByte(rest, '\n')
		line, ok := trimCR(rest[:eol])
		if !ok {
			return errBareCR
		}
		rest = rest[eol+1:]
		if line == "" {
			break
		}
		f, herr := parseField(line)
		if herr != nil {
			return herr
		}
		header = append(header, f)
	}

	var (
		hosts          int
		contentLength  = -1
		transferCoding string
		connClose      bool
		connKeepAlive  bool
		expectContinue bool
	)
	for _, f := range header {
		switch {
		case equalFold(f.Name, "Host"):
			hosts++
		case equalFold(f.Name, "Content-Length"):
			n, ok := parseContentLength(f.Value)
			if !ok || (contentLength >= 0 && n != contentLength) {
				return errBadContentLength
			}
			contentLength = n
		case equalFold(f.Name, "Transfer-Encoding"):
			transferCoding = f.Value
		case equalFold(f.Name, "Connection"):
			c, k := connectionTokens(f.Value)
			connClose = connClose || c
			connKeepAlive = connKeepAlive || k
		case equalFold(f.Name, "Expect"):
			if !equalFold(f.Value, "100-continue") {
				return errExpectation
			}
			expectContinue = true
		}
	}
	if transferCoding != "" {
		if lastTokenIs(transferCoding, "chunked") {
			return errChunkedBody
		}
		return errTransferCoding
	}
	if hosts > 1 {
		return errMultipleHost
	}
	if hosts == 0 && proto == "HTTP/1.1" {
		return errMissingHost
	}
	if contentLength > p.lim.maxBodyBytes {
		return errBodyTooLarge
	}
	path, query, herr := parseTarget(method, target)
	if herr != nil {
		return herr
	}

	keepAlive := proto == "HTTP/1.1" || connKeepAlive
	if connClose {
		keepAlive = false
	}
	if p.fields != nil {
		*p.fields = header[:0] // keeps what it grew to
		if len(header) == 0 {
			header = nil // as without the scratch
		}
	}
	p.req = Request{
		Method:    method,
		Target:    target,
		Path:      path,
		RawQuery:  query,
		Proto:     proto,
		Header:    header,
		KeepAlive: keepAlive,
	}
	p.bodyLen = max(contentLength, 0)
	// RFC 9110 §10.1.1: no 100 (Continue) to HTTP/1.0 clients.
	p.expectContinue = expectContinue && p.bodyLen > 0 && proto == "HTTP/1.1"
	return nil
}

// trimCR drops the CR of a CRLF line end; any other CR is refused.
func trimCR(line string) (string, bool) {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, strings.IndexByte(line, '\r') < 0
}

func splitRequestLine(line string) (method, target, proto string, herr *httpError) {
	sp1 := strings.IndexByte(line, ' ')
	if sp1 <= 0 {
		return "", "", "", errBadRequestLine
	}
	method, rest := line[:sp1], line[sp1+1:]
	sp2 := strings.IndexByte(rest, ' ')
	if sp2 <= 0 {
		return "", "", "", errBadRequestLine
	}
	target, proto = rest[:sp2], rest[sp2+1:]
	if !isToken(method) {
		return "", "", "", errBadRequestLine
	}
	switch {
	case proto == "HTTP/1.1" || proto == "HTTP/1.0":
	case len(proto) == 8 && strings.HasPrefix(proto, "HTTP/") && isDigit(proto[5]) && proto[6] == '.' && isDigit(proto[7]):
		return "", "", "", errVersion
	default:
		return "", "", "", errBadRequestLine
	}
	return method, target, proto, nil
}

func parseField(line string) (HeaderField, *httpError) {
	colon := strings.IndexByte(line, ':')
	if colon <= 0 {
		return HeaderField{}, errBadHeaderField
	}
	// A token name also refuses whitespace before the colon and obs-fold
	// continuation lines, both smuggling vectors.
	name := line[:colon]
	if !isToken(name) {
		return HeaderField{}, errBadHeaderField
	}
	value := trimOWS(line[colon+1:])
	if !validFieldValue(value) {
		return HeaderField{}, errBadHeaderField
	}
	return HeaderField{Name: name, Value: value}, nil
}

// parseContentLength accepts 1 to 18 decimal digits, nothing else.
func parseContentLength(v string) (int, bool) {
	if v == "" || len(v) > 18 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(v); i++ {
		if !isDigit(v[i]) {
			return 0, false
		}
		n = n*10 + int(v[i]-'0')
	}
	return n, true
}

// connectionTokens reports whether a Connection field value lists "close"
// and "keep-alive".
func connectionTokens(v string) (closeTok, keepAlive bool) {
	for v != "" {
		var tok string
		if i := strings.IndexByte(v, ','); i >= 0 {
			tok, v = v[:i], v[i+1:]
		} else {
			tok, v = v, ""
		}
		tok = trimOWS(tok)
		closeTok = closeTok || equalFold(tok, "close")
		keepAlive = keepAlive || equalFold(tok, "keep-alive")
	}
	return closeTok, keepAlive
}

func lastTokenIs(list, tok string) bool {
	if i := strings.LastIndexByte(list, ','); i >= 0 {
		list = list[i+1:]
	}
	return equalFold(trimOWS(list), tok)
}

// parseTarget splits the request-target into the percent-decoded path and
// the raw query. It takes origin-form ("/p?q"), absolute-form
// ("http://host/p?q", RFC 9112 §3.2.2) and "*" for OPTIONS.
func parseTarget(method, target string) (path, query string, herr *httpError) {
	for i := 0; i < len(target); i++ {
		if c := target[i]; c <= ' ' || c == 0x7f || c == '#' {
			return "", "", errBadTarget
		}
	}
	switch {
	case target == "*":
		if method != "OPTIONS" {
			return "", "", errBadTarget
		}
		return "*", "", nil
	case target[0] == '/':
	case hasPrefixFold(target, "http://") || hasPrefixFold(target, "https://"):
		rest := target[strings.Index(target, "://")+3:]
		k := strings.IndexAny(rest, "/?")
		switch {
		case k == 0:
			return "", "", errBadTarget // no authority
		case k < 0:
			target = "/"
		case rest[k] == '?':
			target = "/" + rest[k:]
		default:
			target = rest[k:]
		}
	default:
		return "", "", errBadTarget
	}
	rawPath := target
	if q := strings.IndexByte(target, '?'); q >= 0 {
		rawPath, query = target[:q], target[q+1:]
	}
	path, herr = decodePath(rawPath)
	return path, query, herr
}

// decodePath percent-decodes a path and refuses NUL and ".." segments
// (after decoding, so "%2e%2e" is caught too).
func decodePath(raw string) (string, *httpError) {
	path := raw
	if strings.IndexByte(raw, '%') >= 0 {
		b := make([]byte, 0, len(raw))
		for i := 0; i < len(raw); i++ {
			c := raw[i]
			if c == '%' {
				if i+2 >= len(raw) {
					return "", errBadEscape
				}
				hi, ok1 := unhex(raw[i+1])
				lo, ok2 := unhex(raw[i+2])
				if !ok1 || !ok2 {
					return "", errBadEscape
				}
				c = hi<<4 | lo
				if c == 0 {
					return "", errNULInPath
				}
				i += 2
			}
			b = append(b, c)
		}
		path = string(b)
	}
	if hasDotDotSegment(path) {
		return "", errPathTraversal
	}
	return path, nil
}

func hasDotDotSegment(path string) bool {
	for path != "" {
		var seg string
		if i := strings.IndexByte(path, '/'); i >= 0 {
			seg, path = path[:i], path[i+1:]
		} else {
			seg, path = path, ""
		}
		if seg == ".." {
			return true
		}
	}
	return false
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// tokenChars marks the tchar set of RFC 9110 §5.6.2.
var tokenChars = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenChars[s[i]] {
			return false
		}
	}
	return true
}

// validFieldValue refuses control characters other than HTAB (CR, LF and
// NUL among them) so that values can be echoed into headers safely.
func validFieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && equalFold(s[:len(prefix)], prefix)
}
