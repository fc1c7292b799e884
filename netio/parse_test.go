package netio

import (
	"reflect"
	"strings"
	"testing"
)

var testLimits = parseLimits{maxHeaderBytes: 1024, maxBodyBytes: 64}

// parseAll frames every request in data; it stops at the first error or
// incomplete request.
func parseAll(data []byte, lim parseLimits) (reqs []Request, rest int, herr *httpError) {
	p := requestParser{lim: lim}
	off := 0
	for off < len(data) {
		req, n, err := p.parse(data[off:])
		if err != nil {
			return reqs, len(data) - off, err
		}
		if n == 0 {
			break
		}
		reqs = append(reqs, req)
		off += n
	}
	return reqs, len(data) - off, nil
}

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    *Request
		status  int // error status, 0 for none
		partial bool
	}{
		{name: "simple GET", in: "GET /demo/index.m3u8?x=1&y=2 HTTP/1.1\r\nHost: a\r\nUser-Agent: t\r\n\r\n", want: &Request{
			Method: "GET", Target: "/demo/index.m3u8?x=1&y=2", Path: "/demo/index.m3u8", RawQuery: "x=1&y=2",
			Proto: "HTTP/1.1", Header: Header{{"Host", "a"}, {"User-Agent", "t"}}, KeepAlive: true}},
		{name: "bare LF", in: "GET / HTTP/1.1\nHost: a\n\n", want: &Request{
			Method: "GET", Target: "/", Path: "/", Proto: "HTTP/1.1", Header: Header{{"Host", "a"}}, KeepAlive: true}},
		{name: "leading CRLF skipped", in: "\r\n\r\nGET / HTTP/1.0\r\n\r\n", want: &Request{
			Method: "GET", Target: "/", Path: "/", Proto: "HTTP/1.0"}},
		{name: "1.0 keep-alive", in: "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", want: &Request{
			Method: "GET", Target: "/", Path: "/", Proto: "HTTP/1.0", Header: Header{{"Connection", "Keep-Alive"}}, KeepAlive: true}},
		{name: "1.1 close", in: "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n", want: &Request{
			Method: "GET", Target: "/", Path: "/", Proto: "HTTP/1.1", Header: Header{{"Host", "a"}, {"Connection", "keep-alive, close"}}}},
		{name: "body", in: "POST /api HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", want: &Request{
			Method: "POST", Target: "/api", Path: "/api", Proto: "HTTP/1.1",
			Header: Header{{"Host", "a"}, {"Content-Length", "5"}}, Body: []byte("hello"), KeepAlive: true}},
		{name: "percent decoding", in: "GET /a%20b/%E2%9C%93 HTTP/1.1\r\nHost: a\r\n\r\n", want: &Request{
			Method: "GET", Target: "/a%20b/%E2%9C%93", Path: "/a b/✓", Proto: "HTTP/1.1", Header: Header{{"Host", "a"}}, KeepAlive: true}},
		{name: "absolute form", in: "GET http://example.com:8080/s/mpegts?t=1 HTTP/1.1\r\nHost: x\r\n\r\n", want: &Request{
			Method: "GET", Target: "http://example.com:8080/s/mpegts?t=1", Path: "/s/mpegts", RawQuery: "t=1",
			Proto: "HTTP/1.1", Header: Header{{"Host", "x"}}, KeepAlive: true}},
		{name: "OPTIONS star", in: "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", want: &Request{
			Method: "OPTIONS", Target: "*", Path: "*", Proto: "HTTP/1.1", Header: Header{{"Host", "a"}}, KeepAlive: true}},
		{name: "OWS trimmed", in: "GET / HTTP/1.1\r\nHost:  \ta \t\r\n\r\n", want: &Request{
			Method: "GET", Target: "/", Path: "/", Proto: "HTTP/1.1", Header: Header{{"Host", "a"}}, KeepAlive: true}},

		{name: "partial head", in: "GET / HTTP/1.1\r\nHost: a\r\n", partial: true},
		{name: "partial body", in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n\r\nabc", partial: true},

		{name: "no host", in: "GET / HTTP/1.1\r\n\r\n", status: 400},
		{name: "two hosts", in: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", status: 400},
		{name: "double space", in: "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
		{name: "no version", in: "GET /\r\nHost: a\r\n\r\n", status: 400},
		{name: "lower-case version", in: "GET / http/1.1\r\nHost: a\r\n\r\n", status: 400},
		{name: "HTTP/2.0", in: "GET / HTTP/2.0\r\nHost: a\r\n\r\n", status: 505},
		{name: "space before colon", in: "GET / HTTP/1.1\r\nHost : a\r\n\r\n", status: 400},
		{name: "obs-fold", in: "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n", status: 400},
		{name: "bare CR", in: "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", status: 400},
		{name: "NUL in value", in: "GET / HTTP/1.1\r\nHost: a\x00\r\n\r\n", status: 400},
		{name: "bad escape", in: "GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
		{name: "short escape", in: "GET /a%2 HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
		{name: "NUL escape", in: "GET /a%00b HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
		{name: "dot-dot", in: "GET /a/../etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
		{name: "encoded dot-dot", in: "GET /a/%2e%2E/etc HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
		{name: "dot-dot with encoded slash", in: "GET /a%2f..%2fetc HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
		{name: "relative target", in: "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
		{name: "fragment", in: "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
		{name: "star for GET", in: "GET * HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
		{name: "bad content-length", in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n", status: 400},
		{name: "negative content-length", in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", status: 400},
		{name: "conflicting content-length", in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", status: 400},
		{name: "body too large", in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 65\r\n\r\n", status: 413},
		{name: "chunked", in: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", status: 411},
		{name: "gzip coding", in: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", status: 501},
		{name: "expect other", in: "POST / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n", status: 417},
		{name: "head too large", in: "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("a", 1100) + "\r\n\r\n", status: 431},
		{name: "head too large, unterminated", in: "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 1100), status: 431},
		{name: "too many fields", in: "GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("A: b\r\n", 130) + "\r\n", status: 431},
		{name: "bad method", in: "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
	}
	lim := testLimits
	lim.maxHeaderBytes = 1024
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := requestParser{lim: lim}
			req, n, herr := p.parse([]byte(tt.in))
			switch {
			case tt.status != 0:
				if herr == nil || herr.status != tt.status {
					t.Fatalf("got err %+v (n=%d), want status %d", herr, n, tt.status)
				}
			case tt.partial:
				if herr != nil || n != 0 {
					t.Fatalf("got n=%d err=%+v, want more needed", n, herr)
				}
			default:
				if herr != nil {
					t.Fatalf("unexpected error %+v", herr)
				}
				if n != len(tt.in) {
					t.Errorf("consumed %d of %d", n, len(tt.in))
				}
				if !reflect.DeepEqual(&req, tt.want) {
					t.Errorf("got  %+v\nwant %+v", req, *tt.want)
				}
			}
		})
	}
}

func TestParsePipelined(t *testing.T) {
	in := "GET /a HTTP/1.1\r\nHost: h\r\n\r\nPOST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyzHEAD /c HTTP/1.1\r\nHost: h\r\n\r\nGET /d HT"
	reqs, rest, herr := parseAll([]byte(in), testLimits)
	if herr != nil {
		t.Fatal(herr)
	}
	if len(reqs) != 3 || reqs[0].Path != "/a" || reqs[1].Path != "/b" || string(reqs[1].Body) != "xyz" || reqs[2].Method != "HEAD" {
		t.Fatalf("got %+v", reqs)
	}
	if rest != len("GET /d HT") {
		t.Fatalf("rest %d", rest)
	}
}

// The request must not alias the parsed buffer: held responses keep it.
func TestParseCopiesBytes(t *testing.T) {
	buf := []byte("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nab")
	p := requestParser{lim: testLimits}
	req, _, herr := p.parse(buf)
	if herr != nil {
		t.Fatal(herr)
	}
	for i := range buf {
		buf[i] = 'Z'
	}
	if req.Path != "/x" || req.Header.Get("host") != "h" || string(req.Body) != "ab" {
		t.Fatalf("request changed with the buffer: %+v", req)
	}
}

// checkSplits is the split property: feeding data in two pieces, split at
// any byte, gives the result of feeding it whole.
func checkSplits(t *testing.T, data []byte, lim parseLimits) {
	var whole requestParser
	whole.lim = lim
	wantReq, wantN, wantErr := whole.parse(data)
	// Every split of short inputs; about 64 spread over long ones, which
	// keeps fuzzing (and minimizing) fast.
	step := max(1, len(data)/64)
	// Like the connections of one loop, the split parser shares its field
	// scratch with another that parses between its two calls.
	var scratch Header
	other := requestParser{lim: lim, fields: &scratch}
	for i := 0; i <= len(data); i += step {
		p := requestParser{lim: lim, fields: &scratch}
		req, n, herr := p.parse(data[:i])
		if herr != nil || n != 0 {
			// An answer on a prefix must be the answer for the whole.
			if !sameResult(req, n, herr, wantReq, wantN, wantErr) {
				t.Fatalf("split %d: prefix gave (n=%d, err=%v), whole gave (n=%d, err=%v)", i, n, herr, wantN, wantErr)
			}
			continue
		}
		other.reset()
		_, _, _ = other.parse([]byte("GET /other HTTP/1.1\r\nHost: o\r\nX-A: 1\r\nX-B: 2\r\n\r\n"))
		req, n, herr = p.parse(data)
		if !sameResult(req, n, herr, wantReq, wantN, wantErr) {
			t.Fatalf("split %d: got (n=%d, err=%v, %+v), whole gave (n=%d, err=%v, %+v)", i, n, herr, req, wantN, wantErr, wantReq)
		}
	}
}

func sameResult(r1 Request, n1 int, e1 *httpError, r2 Request, n2 int, e2 *httpError) bool {
	if (e1 == nil) != (e2 == nil) || (e1 != nil && *e1 != *e2) {
		return false
	}
	return n1 == n2 && reflect.DeepEqual(r1, r2)
}

func TestParseSplitProperty(t *testing.T) {
	for _, s := range parseSeeds {
		checkSplits(t, []byte(s), testLimits)
	}
}

var parseSeeds = []string{
	"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /demo/index.m3u8?x=1 HTTP/1.1\r\nHost: example\r\nUser-Agent: VLC\r\nAccept: */*\r\n\r\n",
	"\r\n\nGET / HTTP/1.0\n\n",
	"POST /streamer/api/v3/config HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n{\"a\":\"b\"}\r\n",
	"GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("v", 1100) + "\r\n\r\n",
	"GET /x%2e%2e HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\n\r\n",
	"GET http://h/ HTTP/1.1\r\nHost: a\r\n\r\n",
	strings.Repeat("\r\n", 600) + "GET / HTTP/1.1\r\n\r\n",
}

// FuzzParseRequest checks that the parser never panics, that requests it
// returns are well-formed, and the split property on every input.
func FuzzParseRequest(f *testing.F) {
	for _, s := range parseSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		reqs, _, _ := parseAll(data, testLimits)
		for _, r := range reqs {
			if r.Path == "" || (r.Path[0] != '/' && r.Path != "*") {
				t.Fatalf("bad path %q", r.Path)
			}
			if strings.Contains(r.Path, "\x00") || hasDotDotSegment(r.Path) {
				t.Fatalf("unsafe path %q", r.Path)
			}
			if len(r.Body) > testLimits.maxBodyBytes {
				t.Fatalf("body of %d bytes", len(r.Body))
			}
			for _, h := range r.Header {
				if !isToken(h.Name) || !validFieldValue(h.Value) {
					t.Fatalf("bad field %q: %q", h.Name, h.Value)
				}
			}
		}
		checkSplits(t, data, testLimits)
	})
}

func BenchmarkParseRequest(b *testing.B) {
	in := []byte("GET /demo/index.m3u8?token=abc HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Mozilla/5.0\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n")
	p := requestParser{lim: parseLimits{maxHeaderBytes: DefaultMaxHeaderBytes, maxBodyBytes: DefaultMaxBodyBytes}}
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, n, err := p.parse(in); n == 0 || err != nil {
			b.Fatal("parse failed")
		}
	}
}
