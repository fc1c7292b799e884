package config

import "fmt"

type tokenKind uint8

const (
	tokEOF tokenKind = iota
	tokWord
	tokSemi   // ;
	tokLBrace // {
	tokRBrace // }
)

// maxTokenLen bounds one word; every value the model accepts is shorter.
const maxTokenLen = 8192

// token is one lexical element. Line and col are 1-based, col in bytes;
// endLine and endCol point just past the token.
type token struct {
	kind            tokenKind
	text            string // a word's value, quotes and escapes resolved
	quoted          bool
	line, col       int
	endLine, endCol int
}

// lexer splits a config file into words and the delimiters ; { }.
// Whitespace separates words, '#' at the start of a word begins a comment to
// the end of the line (inside a word it is a plain character, as in URLs),
// and "..." is a word that may contain anything, with \" \\ \n escapes.
type lexer struct {
	file      string
	data      []byte
	off       int
	line, col int
}

func newLexer(file string, data []byte) *lexer {
	return &lexer{file: file, data: data, line: 1, col: 1}
}

func (l *lexer) errorf(line, col int, format string, args ...any) *Error {
	return &Error{File: l.file, Line: line, Col: col, Code: CodeSyntax, Msg: fmt.Sprintf(format, args...)}
}

// advance consumes one byte, keeping line and col current.
func (l *lexer) advance() {
	if l.data[l.off] == '\n' {
		l.line++
		l.col = 0
	}
	l.off++
	l.col++
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func isDelimiter(c byte) bool { return isSpace(c) || c == ';' || c == '{' || c == '}' }

func isControl(c byte) bool { return c < 0x20 || c == 0x7f }

func (l *lexer) skipSpaceAndComments() {
	for l.off < len(l.data) {
		switch c := l.data[l.off]; {
		case isSpace(c):
			l.advance()
		case c == '#':
			for l.off < len(l.data) && l.data[l.off] != '\n' {
				l.advance()
			}
		default:
			return
		}
	}
}

func (l *lexer) next() (token, *Error) {
	l.skipSpaceAndComments()
	t := token{line: l.line, col: l.col}
	if l.off == len(l.data) {
		t.endLine, t.endCol = l.line, l.col
		return t, nil
	}
	var err *Error
	switch l.data[l.off] {
	case ';':
		t.kind = tokSemi
		l.advance()
	case '{':
		t.kind = tokLBrace
		l.advance()
	case '}':
		t.kind = tokRBrace
		l.advance()
	case '"':
		t.kind, t.quoted = tokWord, true
		t.text, err = l.quoted()
	default:
		t.kind = tokWord
		t.text, err = l.word()
	}
	t.endLine, t.endCol = l.line, l.col
	return t, err
}

func (l *lexer) word() (string, *Error) {
	start, line, col := l.off, l.line, l.col
	for l.off < len(l.data) && !isDelimiter(l.data[l.off]) {
		switch c := l.data[l.off]; {
		case c == '"':
			return "", l.errorf(l.line, l.col, "unexpected '\"' inside a word (quote the whole word)")
		case isControl(c):
			return "", l.errorf(l.line, l.col, "invalid character %q (quote the word)", c)
		}
		if l.off-start == maxTokenLen {
			return "", l.errorf(line, col, "word longer than %d bytes", maxTokenLen)
		}
		l.advance()
	}
	return string(l.data[start:l.off]), nil
}

func (l *lexer) quoted() (string, *Error) {
	line, col := l.line, l.col
	l.advance() // opening quote
	var b []byte
	for {
		if l.off == len(l.data) {
			return "", l.errorf(line, col, "unterminated quoted string")
		}
		c := l.data[l.off]
		switch c {
		case '"':
			l.advance()
			if l.off < len(l.data) && !isDelimiter(l.data[l.off]) && l.data[l.off] != '#' {
				return "", l.errorf(l.line, l.col, "expected a space or one of ; { } # after a quoted string")
			}
			return string(b), nil
		case '\\':
			escLine, escCol := l.line, l.col
			l.advance()
			if l.off == len(l.data) {
				return "", l.errorf(line, col, "unterminated quoted string")
			}
			switch l.data[l.off] {
			case '"', '\\':
				c = l.data[l.off]
			case 'n':
				c = '\n'
			default:
				return "", l.errorf(escLine, escCol, "unknown escape %q in quoted string (want \\\" \\\\ or \\n)", string(l.data[l.off-1:l.off+1]))
			}
		}
		if len(b) == maxTokenLen {
			return "", l.errorf(line, col, "quoted string longer than %d bytes", maxTokenLen)
		}
		b = append(b, c)
		l.advance()
	}
}
