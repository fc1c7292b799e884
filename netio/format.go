package netio

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// statusText holds the reason phrases livedge sends.
var statusText = map[int]string{
	100: "Continue",
	200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 206: "Partial Content",
	301: "Moved Permanently", 302: "Found", 303: "See Other", 304: "Not Modified",
	307: "Temporary Redirect", 308: "Permanent Redirect",
	400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
	405: "Method Not Allowed", 406: "Not Acceptable", 408: "Request Timeout", 409: "Conflict",
	410: "Gone", 411: "Length Required", 412: "Precondition Failed", 413: "Content Too Large",
	415: "Unsupported Media Type", 416: "Range Not Satisfiable", 417: "Expectation Failed",
	422: "Unprocessable Content", 429: "Too Many Requests", 431: "Request Header Fields Too Large",
	500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
	503: "Service Unavailable", 504: "Gateway Timeout", 505: "HTTP Version Not Supported",
}

// statusLines caches "HTTP/1.1 NNN Reason\r\n" for every status code in
// range, so formatting a response allocates nothing.
var statusLines = func() (lines [600][]byte) {
	for code := 100; code < 600; code++ {
		text := statusText[code]
		if text == "" {
			text = "Status " + strconv.Itoa(code)
		}
		lines[code] = []byte("HTTP/1.1 " + strconv.Itoa(code) + " " + text + "\r\n")
	}
	return lines
}()

func appendStatusLine(dst []byte, code int) []byte {
	if code < 100 || code >= 600 {
		code = 500
	}
	return append(dst, statusLines[code]...)
}

// bodyAllowed: 1xx, 204 and 304 responses have no body (RFC 9110 §6.4.1).
func bodyAllowed(status int) bool {
	return status >= 200 && status != 204 && status != 304
}

// dateLine formats the Date header line for t.
func dateLine(t time.Time) []byte {
	b := make([]byte, 0, 40)
	b = append(b, "Date: "...)
	b = t.UTC().AppendFormat(b, "Mon, 02 Jan 2006 15:04:05 GMT")
	return append(b, "\r\n"...)
}

func appendHeader(dst []byte, name, value string) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}

// appendErrorJSON appends the API's error body:
// {"errors":[{"status":"400","code":"bad_request","title":"..."}]}
func appendErrorJSON(dst []byte, status int, code, title string) []byte {
	dst = append(dst, `{"errors":[{"status":"`...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, `","code":`...)
	dst = appendJSONString(dst, code)
	dst = append(dst, `,"title":`...)
	dst = appendJSONString(dst, title)
	return append(dst, "}]}"...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string; invalid UTF-8 (titles may
// quote request paths) becomes U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size - 1
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20 || c == '<' || c == '>' || c == '&':
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
