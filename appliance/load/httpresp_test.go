package load

import (
	"bytes"
	"errors"
	"testing"
)

// parsed is the outcome of feeding a whole response to respParser.
type parsed struct {
	status    int
	keepAlive bool
	location  string
	body      []byte
	done      bool
	rest      int // bytes left unconsumed after the response
	err       error
}

// feedResponse feeds in pieces of at most step bytes, then EOF when eof.
func feedResponse(in []byte, step int, eof bool) parsed {
	var p respParser
	var out parsed
	for len(in) > 0 && !p.done() {
		piece := in[:min(step, len(in))]
		for len(piece) > 0 && !p.done() {
			n, body, err := p.next(piece)
			if err != nil {
				out.err = err
				return out
			}
			if n == 0 && !p.done() {
				out.err = errors.New("no progress")
				return out
			}
			out.body = append(out.body, body...)
			piece = piece[n:]
			in = in[n:]
		}
	}
	if eof && !p.done() {
		out.err = p.eof()
	}
	out.status, out.keepAlive, out.location, out.done, out.rest = p.status, p.keepAlive, p.location, p.done(), len(in)
	return out
}

func TestRespParser(t *testing.T) {
	for _, tc := range []struct {
		name   string
		in     string
		eof    bool
		want   parsed
		errAny bool
	}{
		{name: "content-length", in: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
			want: parsed{status: 200, keepAlive: true, body: []byte("hello"), done: true}},
		{name: "content-length rest", in: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhello",
			want: parsed{status: 200, keepAlive: true, body: []byte("he"), done: true, rest: 3}},
		{name: "chunked", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n",
			want: parsed{status: 200, keepAlive: true, body: []byte("hello0123456789"), done: true}},
		{name: "chunked bare LF", in: "HTTP/1.1 200 OK\nTransfer-Encoding: gzip, chunked\n\n3\nabc\n0\n\n",
			want: parsed{status: 200, keepAlive: true, body: []byte("abc"), done: true}},
		{name: "close delimited", in: "HTTP/1.0 200 OK\r\n\r\nstream", eof: true,
			want: parsed{status: 200, body: []byte("stream"), done: true}},
		{name: "1.0 keep-alive", in: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
			want: parsed{status: 200, keepAlive: true, done: true}},
		{name: "connection close", in: "HTTP/1.1 404 Not Found\r\nConnection: keep-alive, close\r\nContent-Length: 3\r\n\r\nnot",
			want: parsed{status: 404, body: []byte("not"), done: true}},
		{name: "redirect", in: "HTTP/1.1 302 Found\r\nLocation:  http://b/x.m3u8 \r\nContent-Length: 0\r\n\r\n",
			want: parsed{status: 302, keepAlive: true, location: "http://b/x.m3u8", done: true}},
		{name: "interim", in: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
			want: parsed{status: 204, keepAlive: true, done: true}},
		{name: "304 ignores length", in: "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
			want: parsed{status: 304, keepAlive: true, done: true}},
		{name: "eof in length body", in: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", eof: true, errAny: true},
		{name: "eof in chunked body", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", eof: true, errAny: true},
		{name: "eof in header", in: "HTTP/1.1 200 OK\r\n", eof: true, errAny: true},
		{name: "bad status", in: "HTTP/1.1 2x0 OK\r\n\r\n", errAny: true},
		{name: "not http", in: "ICY 200 OK\r\n\r\n", errAny: true},
		{name: "bad length", in: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", errAny: true},
		{name: "conflicting lengths", in: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", errAny: true},
		{name: "bad chunk size", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", errAny: true},
		{name: "huge chunk size", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\n", errAny: true},
		{name: "missing chunk CRLF", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n", errAny: true},
		{name: "unknown coding", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", errAny: true},
		{name: "header line", in: "HTTP/1.1 200 OK\r\nno colon\r\n\r\n", errAny: true},
		{name: "switching protocols", in: "HTTP/1.1 101 Switching Protocols\r\n\r\n", errAny: true},
	} {
		for _, step := range []int{1, 2, 3, 7, 1 << 20} {
			got := feedResponse([]byte(tc.in), step, tc.eof)
			if tc.errAny {
				if got.err == nil {
					t.Errorf("%s/step %d: no error, got %+v", tc.name, step, got)
				}
				continue
			}
			if got.err != nil || got.status != tc.want.status || got.keepAlive != tc.want.keepAlive ||
				got.location != tc.want.location || !bytes.Equal(got.body, tc.want.body) ||
				got.done != tc.want.done || got.rest != tc.want.rest {
				t.Errorf("%s/step %d: got %+v (body %q), want %+v", tc.name, step, got, got.body, tc.want)
			}
		}
	}
}

func TestRespParserHeaderBound(t *testing.T) {
	in := append([]byte("HTTP/1.1 200 OK\r\n"), bytes.Repeat([]byte("X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"), 1000)...)
	for _, step := range []int{100, 1 << 20} {
		if got := feedResponse(in, step, false); !errors.Is(got.err, errResponse) {
			t.Errorf("step %d: oversized header: %+v", step, got)
		}
	}
}

func TestRespParserReuse(t *testing.T) {
	var p respParser
	for i, in := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nb\r\n0\r\n\r\n",
	} {
		p.reset()
		b := []byte(in)
		var body []byte
		for len(b) > 0 {
			n, piece, err := p.next(b)
			if err != nil {
				t.Fatal(err)
			}
			body = append(body, piece...)
			b = b[n:]
		}
		if !p.done() || len(body) != 1 {
			t.Errorf("response %d: done %v body %q", i, p.done(), body)
		}
	}
}

func BenchmarkRespParserChunked(b *testing.B) {
	chunk := append([]byte("4000\r\n"), bytes.Repeat([]byte{0x47}, 0x4000)...)
	chunk = append(chunk, "\r\n"...)
	var p respParser
	p.reset()
	head := []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
	for len(head) > 0 {
		n, _, _ := p.next(head)
		head = head[n:]
	}
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for b.Loop() {
		in := chunk
		for len(in) > 0 {
			n, _, err := p.next(in)
			if err != nil {
				b.Fatal(err)
			}
			in = in[n:]
		}
	}
}
