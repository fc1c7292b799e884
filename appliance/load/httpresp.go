package load

import (
	"bytes"
	"errors"
	"fmt"
)

// Bounds of what the response parser accepts; anything larger is a protocol
// error, never an allocation.
const (
	maxHeaderBytes  = 16 << 10
	maxChunkLine    = 4 << 10
	maxTrailerBytes = 16 << 10
	maxChunkDigits  = 15 // 15 hex digits stay below 2^60
)

// errResponse marks a malformed response (classified as a protocol error).
var errResponse = errors.New("malformed HTTP response")

type respPhase uint8

const (
	phaseHeader respPhase = iota
	phaseBody
	phaseDone
)

type bodyFraming uint8

const (
	framingNone    bodyFraming = iota // 204, 304: no body
	framingLength                     // Content-Length
	framingChunked                    // Transfer-Encoding: chunked
	framingClose                      // until the server closes
)

type chunkState uint8

const (
	chunkSize    chunkState = iota // hex digits of the size line
	chunkExt                       // rest of the size line (extensions, CR)
	chunkData                      // chunk payload
	chunkDataCR                    // CR after the payload
	chunkDataLF                    // LF after the payload
	chunkTrailer                   // trailer lines up to the empty line
)

// respParser is an incremental HTTP/1.x response parser: it is fed whatever
// bytes a read returned and hands the body back as sub-slices of them, so a
// viewer needs no buffer of its own. Headers split across reads are gathered
// in hdr (bounded by maxHeaderBytes).
type respParser struct {
	phase     respPhase
	hdr       []byte
	status    int
	keepAlive bool
	location  string
	framing   bodyFraming
	remaining int64 // framingLength: body bytes left; framingChunked: bytes left in the chunk

	chunk       chunkState
	chunkDigits int
	lineLen     int // bytes of the current size or trailer line
	trailerLen  int
}

// reset prepares the parser for the next response on the connection.
func (p *respParser) reset() {
	hdr := p.hdr[:0]
	*p = respParser{hdr: hdr}
}

func (p *respParser) done() bool { return p.phase == phaseDone }

// inBody reports whether the header has been parsed.
func (p *respParser) inBody() bool { return p.phase != phaseHeader }

// next consumes a prefix of b: either header bytes (body is nil) or one piece
// of body (a sub-slice of b). With len(b) > 0 it consumes at least one byte
// unless the response is complete or err is set.
func (p *respParser) next(b []byte) (n int, body []byte, err error) {
	switch p.phase {
	case phaseHeader:
		return p.nextHeader(b)
	case phaseBody:
		return p.nextBody(b)
	}
	return 0, nil, nil
}

// eof tells the parser the connection ended; it returns nil when that
// completes a body delimited by the close.
func (p *respParser) eof() error {
	if p.phase == phaseBody && p.framing == framingClose {
		p.phase = phaseDone
		return nil
	}
	if p.phase == phaseDone {
		return nil
	}
	return errUnexpectedEOF
}

var errUnexpectedEOF = errors.New("connection closed before the end of the response")

func (p *respParser) nextHeader(b []byte) (int, []byte, error) {
	if len(p.hdr) == 0 {
		end := headerEnd(b, 0)
		if end < 0 {
			if len(b) > maxHeaderBytes {
				return 0, nil, fmt.Errorf("%w: header larger than %d bytes", errResponse, maxHeaderBytes)
			}
			p.hdr = append(p.hdr, b...)
			return len(b), nil, nil
		}
		return end, nil, p.parseHeader(b[:end])
	}
	old := len(p.hdr)
	take := min(len(b), maxHeaderBytes+1-old)
	if take <= 0 {
		return 0, nil, fmt.Errorf("%w: header larger than %d bytes", errResponse, maxHeaderBytes)
	}
	p.hdr = append(p.hdr, b[:take]...)
	end := headerEnd(p.hdr, max(0, old-3))
	if end < 0 {
		if len(p.hdr) > maxHeaderBytes {
			return 0, nil, fmt.Errorf("%w: header larger than %d bytes", errResponse, maxHeaderBytes)
		}
		return take, nil, nil
	}
	err := p.parseHeader(p.hdr[:end])
	p.hdr = p.hdr[:0]
	return end - old, nil, err
}

// headerEnd returns the index just past the blank line ending the header
// ("\r\n\r\n" or "\n\n"), or -1; the search starts at from.
func headerEnd(b []byte, from int) int {
	for i := from; i < len(b); i++ {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j
		if i+1 < len(b) && b[i+1] == '\n' {
			return i + 2
		}
		if i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n' {
			return i + 3
		}
	}
	return -1
}

// parseHeader reads the status line and the fields that frame the body.
func (p *respParser) parseHeader(h []byte) error {
	line, rest := cutLine(h)
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' ||
		(len(line) > 12 && line[12] != ' ') {
		return fmt.Errorf("%w: status line %q", errResponse, truncate(line))
	}
	status := 0
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return fmt.Errorf("%w: status line %q", errResponse, truncate(line))
		}
		status = status*10 + int(c-'0')
	}
	p.status = status
	http10 := line[7] == '0'
	p.keepAlive = !http10
	contentLength := int64(-1)
	chunked := false
	for len(rest) > 0 {
		line, rest = cutLine(rest)
		if len(line) == 0 {
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return fmt.Errorf("%w: header line %q", errResponse, truncate(line))
		}
		name, value := line[:colon], bytes.Trim(line[colon+1:], " \t")
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, ok := parseDecimal(value)
			if !ok || (contentLength >= 0 && n != contentLength) {
				return fmt.Errorf("%w: Content-Length %q", errResponse, truncate(value))
			}
			contentLength = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			last := value
			if i := bytes.LastIndexByte(value, ','); i >= 0 {
				last = bytes.Trim(value[i+1:], " \t")
			}
			switch {
			case bytes.EqualFold(last, []byte("chunked")):
				chunked = true
			case !bytes.EqualFold(last, []byte("identity")):
				return fmt.Errorf("%w: unsupported Transfer-Encoding %q", errResponse, truncate(value))
			}
		case bytes.EqualFold(name, []byte("Connection")):
			for tok := range bytes.SplitSeq(value, []byte(",")) {
				tok = bytes.Trim(tok, " \t")
				if bytes.EqualFold(tok, []byte("close")) {
					p.keepAlive = false
				} else if bytes.EqualFold(tok, []byte("keep-alive")) && http10 {
					p.keepAlive = true
				}
			}
		case bytes.EqualFold(name, []byte("Location")):
			p.location = string(value)
		}
	}
	switch {
	case status == 101:
		return fmt.Errorf("%w: unexpected 101 Switching Protocols", errResponse)
	case status < 200:
		// Interim response (100 Continue, 103 Early Hints): the real one follows.
		p.reset()
		return nil
	case status == 204 || status == 304:
		p.framing = framingNone
		p.phase = phaseDone
	case chunked:
		p.framing = framingChunked
		p.phase = phaseBody
	case contentLength >= 0:
		p.framing = framingLength
		p.remaining = contentLength
		p.phase = phaseBody
		if contentLength == 0 {
			p.phase = phaseDone
		}
	default:
		p.framing = framingClose
		p.keepAlive = false
		p.phase = phaseBody
	}
	return nil
}

func (p *respParser) nextBody(b []byte) (int, []byte, error) {
	switch p.framing {
	case framingLength:
		n := int(min(int64(len(b)), p.remaining))
		p.remaining -= int64(n)
		if p.remaining == 0 {
			p.phase = phaseDone
		}
		return n, b[:n], nil
	case framingClose:
		return len(b), b, nil
	case framingChunked:
		return p.nextChunked(b)
	}
	p.phase = phaseDone
	return 0, nil, nil
}

// nextChunked decodes Transfer-Encoding: chunked one state at a time; the
// framing bytes are walked byte by byte (a few per chunk), the payload is
// returned in place.
func (p *respParser) nextChunked(b []byte) (int, []byte, error) {
	if p.chunk == chunkData {
		n := int(min(int64(len(b)), p.remaining))
		p.remaining -= int64(n)
		if p.remaining == 0 {
			p.chunk = chunkDataCR
		}
		return n, b[:n], nil
	}
	for i, c := range b {
		switch p.chunk {
		case chunkSize:
			switch v := hexValue(c); {
			case v >= 0:
				if p.chunkDigits == maxChunkDigits {
					return 0, nil, fmt.Errorf("%w: chunk size too large", errResponse)
				}
				p.remaining = p.remaining<<4 | int64(v)
				p.chunkDigits++
			case p.chunkDigits == 0:
				return 0, nil, fmt.Errorf("%w: bad chunk size byte %q", errResponse, c)
			case c == '\n':
				p.endSizeLine()
				return i + 1, nil, nil
			default:
				p.chunk = chunkExt
			}
		case chunkExt:
			if c == '\n' {
				p.endSizeLine()
				return i + 1, nil, nil
			}
			p.lineLen++
			if p.lineLen > maxChunkLine {
				return 0, nil, fmt.Errorf("%w: chunk size line too long", errResponse)
			}
		case chunkDataCR:
			switch c {
			case '\r':
				p.chunk = chunkDataLF
			case '\n':
				p.startChunk()
			default:
				return 0, nil, fmt.Errorf("%w: missing CRLF after chunk", errResponse)
			}
		case chunkDataLF:
			if c != '\n' {
				return 0, nil, fmt.Errorf("%w: missing CRLF after chunk", errResponse)
			}
			p.startChunk()
		case chunkTrailer:
			p.trailerLen++
			if p.trailerLen > maxTrailerBytes {
				return 0, nil, fmt.Errorf("%w: trailer too long", errResponse)
			}
			switch c {
			case '\n':
				if p.lineLen == 0 {
					p.phase = phaseDone
					return i + 1, nil, nil
				}
				p.lineLen = 0
			case '\r':
			default:
				p.lineLen++
			}
		case chunkData:
			// The size line just ended: hand the payload back in place.
			return i, nil, nil
		}
	}
	return len(b), nil, nil
}

// endSizeLine moves past a chunk size line: to the payload, or to the
// trailer after the last chunk (size 0).
func (p *respParser) endSizeLine() {
	p.lineLen = 0
	if p.remaining == 0 {
		p.chunk = chunkTrailer
		return
	}
	p.chunk = chunkData
}

func (p *respParser) startChunk() {
	p.chunk = chunkSize
	p.chunkDigits = 0
	p.remaining = 0
	p.lineLen = 0
}

func hexValue(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// parseDecimal parses a non-negative decimal of at most 18 digits.
func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// cutLine splits off the first line, without its CR LF (or bare LF).
func cutLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		line, rest = b, nil
	} else {
		line, rest = b[:i], b[i+1:]
	}
	return bytes.TrimSuffix(line, []byte("\r")), rest
}

// truncate bounds what an error message quotes from the network.
func truncate(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}
