package config

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/livedge/livedge/engine"
)

// Parse parses a config file; filename only labels errors. Errors are
// *Error with the position of the offending token.
func Parse(filename string, data []byte) (*Config, error) {
	if len(data) > MaxFileSize {
		return nil, &Error{File: filename, Code: CodeTooLarge, Msg: fmt.Sprintf("file larger than %d bytes", MaxFileSize)}
	}
	p := &parser{lex: newLexer(filename, data), cfg: &Config{}, pos: make(map[string]position)}
	if err := p.file(); err != nil {
		return nil, err
	}
	// Value rules live in validate.go, shared with models built from JSON;
	// the positions recorded while parsing turn their paths back into places.
	if err := p.cfg.validate(); err != nil {
		err.File = filename
		err.Line, err.Col = p.position(err.Path)
		return nil, err
	}
	return p.cfg, nil
}

type position struct{ line, col int }

// parser turns statements into the model. The grammar is fixed, so each
// block kind has its own loop and nesting depth is bounded by construction.
type parser struct {
	lex *lexer
	cfg *Config
	pos map[string]position // pathKey(path) -> where its value was written
}

// statement is "NAME ARG... ;" or "NAME ARG... {". At a '}' or at the end of
// the file it has no name and end is that token.
type statement struct {
	name token
	args []token
	end  token
}

// maxArgs bounds the arguments of one statement.
const maxArgs = 32

func (st statement) isEnd() bool { return st.name.kind != tokWord }

func (p *parser) statement() (statement, *Error) {
	t, err := p.lex.next()
	if err != nil {
		return statement{}, err
	}
	switch t.kind {
	case tokEOF, tokRBrace:
		return statement{end: t}, nil
	case tokSemi:
		return statement{}, p.errAt(t, CodeSyntax, nil, "unexpected ';'")
	case tokLBrace:
		return statement{}, p.errAt(t, CodeSyntax, nil, "unexpected '{' without a directive")
	}
	st := statement{name: t}
	last := t
	for {
		t, err := p.lex.next()
		if err != nil {
			return st, err
		}
		switch t.kind {
		case tokWord:
			if len(st.args) == maxArgs {
				return st, p.errAt(t, CodeSyntax, nil, "more than %d arguments", maxArgs)
			}
			st.args = append(st.args, t)
			last = t
		case tokSemi, tokLBrace:
			st.end = t
			return st, nil
		default:
			return st, p.missingSemicolon(st.name, last)
		}
	}
}

func (p *parser) file() *Error {
	for {
		st, err := p.statement()
		if err != nil {
			return err
		}
		if st.isEnd() {
			if st.end.kind == tokRBrace {
				return p.errAt(st.end, CodeSyntax, nil, "unbalanced '}'")
			}
			return nil
		}
		switch st.name.text {
		case "http":
			err = p.http(st)
		case "max_connections":
			err = number(p, st, &p.cfg.MaxConnections, maxConnectionsRule, "max_connections")
		case "max_connections_per_ip":
			err = p.optionalNumber(st, &p.cfg.MaxConnectionsPerIP, maxConnectionsPerIPRule, "max_connections_per_ip")
		case "memory_pool":
			err = number(p, st, &p.cfg.MemoryPool, memoryPoolRule, "memory_pool")
		case "viewer_queue_limit":
			err = number(p, st, &p.cfg.ViewerQueueLimit, viewerQueueLimitRule, "viewer_queue_limit")
		case "slow_viewer":
			err = p.setOnce(st, &p.cfg.SlowViewer, "slow_viewer")
		case "http_header_timeout":
			err = number(p, st, &p.cfg.HTTPHeaderTimeout, httpHeaderTimeoutRule, "http_header_timeout")
		case "http_idle_timeout":
			err = number(p, st, &p.cfg.HTTPIdleTimeout, httpIdleTimeoutRule, "http_idle_timeout")
		case "cluster_key":
			err = p.setOnce(st, &p.cfg.ClusterKey, "cluster_key")
		case "config_external":
			err = p.setOnce(st, &p.cfg.ConfigExternal, "config_external")
		case "edit_auth":
			err = p.auth(st, &p.cfg.EditAuth)
		case "view_auth":
			err = p.auth(st, &p.cfg.ViewAuth)
		case "peer":
			err = p.peer(st)
		case "hostname":
			err = p.setOnce(st, &p.cfg.Hostname, "hostname")
		case "public":
			err = p.setOnce(st, &p.cfg.Public, "public_payload_url")
		case "cluster_balance":
			err = p.setOnce(st, &p.cfg.ClusterBalance, "cluster_balance")
		case "max_bitrate":
			err = number(p, st, &p.cfg.MaxBitrate, bitrateRule, "max_bitrate")
		case "stream":
			err = p.stream(st)
		default:
			err = p.unknown(st)
		}
		if err != nil {
			return err
		}
	}
}

// block runs fn for each statement of the block opened by open.
func (p *parser) block(open token, fn func(statement) *Error) *Error {
	for {
		st, err := p.statement()
		if err != nil {
			return err
		}
		if st.isEnd() {
			if st.end.kind == tokEOF {
				return p.errAt(open, CodeSyntax, nil, "unbalanced '{': missing '}'")
			}
			return nil
		}
		if err := fn(st); err != nil {
			return err
		}
	}
}

func (p *parser) http(st statement) *Error {
	if err := p.simple(st, 1, 1); err != nil {
		return err
	}
	p.mark(st.args[0], "http", len(p.cfg.HTTP))
	p.cfg.HTTP = append(p.cfg.HTTP, st.args[0].text)
	return nil
}

// setOnce sets a single-valued string directive.
func (p *parser) setOnce(st statement, dst *string, path ...any) *Error {
	if err := p.simple(st, 1, 1); err != nil {
		return err
	}
	if *dst != "" {
		return p.errAt(st.name, CodeDuplicate, path, "duplicate %s", st.name.text)
	}
	arg := st.args[0]
	if arg.text == "" {
		// An empty value would read back as "not set".
		return p.errAt(arg, CodeBadValue, path, "%s must not be empty", st.name.text)
	}
	*dst = arg.text
	p.mark(arg, path...)
	return nil
}

func (p *parser) auth(st statement, dst **Auth) *Error {
	if err := p.simple(st, 2, 2); err != nil {
		return err
	}
	name := st.name.text
	if *dst != nil {
		return p.errAt(st.name, CodeDuplicate, []any{name}, "duplicate %s", name)
	}
	*dst = &Auth{User: st.args[0].text, Password: st.args[1].text}
	p.mark(st.args[0], name, "login")
	p.mark(st.args[1], name, "password")
	return nil
}

func (p *parser) stream(st statement) *Error {
	if err := p.args(st, 1, 1); err != nil {
		return err
	}
	if st.end.kind != tokLBrace {
		return p.errAt(st.end, CodeSyntax, nil, "stream needs a { ... } block")
	}
	i := len(p.cfg.Streams)
	p.cfg.Streams = append(p.cfg.Streams, engine.StreamConfig{Name: st.args[0].text})
	p.mark(st.args[0], "streams", i) // also where "no input" points
	s := &p.cfg.Streams[i]
	return p.block(st.end, func(st statement) *Error {
		switch st.name.text {
		case "input":
			return p.input(st, s, i)
		case "static":
			if err := p.simple(st, 0, 0); err != nil {
				return err
			}
			if s.Static {
				return p.errAt(st.name, CodeDuplicate, []any{"streams", i, "static"}, "duplicate static")
			}
			s.Static = true
		case "segment_duration":
			return number(p, st, &s.SegmentDuration, segmentDurationRule, "streams", i, "segment_duration")
		case "segment_count":
			return number(p, st, &s.SegmentCount, segmentCountRule, "streams", i, "segment_count")
		case "cluster_ingest":
			return p.clusterIngest(st, s, i)
		default:
			return p.unknown(st, "streams", i)
		}
		return nil
	})
}

// optionalNumber sets a single-valued numeric directive whose 0 is a value
// of its own, not "unset".
func (p *parser) optionalNumber(st statement, dst **int, rule intRule, path ...any) *Error {
	n, err := single(p, st, *dst != nil, rule.parse, path)
	if err != nil {
		return err
	}
	*dst = &n
	return nil
}

// number sets a single-valued numeric directive (a count, a duration, a
// size or a bitrate, as its rule reads it).
func number[T int | int64](p *parser, st statement, dst *T, r rule[T], path ...any) *Error {
	n, err := single(p, st, *dst != 0, r.parse, path)
	if err != nil {
		return err
	}
	*dst = n
	return nil
}

func (p *parser) input(st statement, s *engine.StreamConfig, si int) *Error {
	if err := p.simple(st, 1, maxArgs); err != nil {
		return err
	}
	j := len(s.Inputs)
	in := engine.InputConfig{URL: st.args[0].text}
	p.mark(st.args[0], "streams", si, "inputs", j)
	for k := 1; k < len(st.args); k++ {
		arg := st.args[k]
		key, value, ok := strings.Cut(arg.text, "=")
		if arg.quoted || !ok || key == "" {
			return p.unexpectedArg(st, k, "expected an option key=value after the input URL, got %s", engine.QuoteShort(arg.text))
		}
		path := []any{"streams", si, "inputs", j, key}
		switch key {
		case "source_timeout":
			if in.SourceTimeout != 0 {
				return p.errAt(arg, CodeDuplicate, path, "duplicate option %s", key)
			}
			valueAt := arg
			valueAt.col += len(key) + 1 // an unquoted word is on one line
			n, err := sourceTimeoutRule.parse(value)
			if err != nil {
				return p.errAt(valueAt, CodeBadValue, path, "%v", err)
			}
			in.SourceTimeout = n
			p.mark(valueAt, path...)
		default:
			return p.errAt(arg, CodeUnknownOption, path, "unknown input option %s", engine.QuoteShort(key))
		}
	}
	s.Inputs = append(s.Inputs, in)
	return nil
}

func (p *parser) unknown(st statement, path ...any) *Error {
	return p.errAt(st.name, CodeUnknownDirective, path, "unknown directive %s", engine.QuoteShort(st.name.text))
}

// simple checks the arguments of a directive that takes no block.
func (p *parser) simple(st statement, lo, hi int) *Error {
	if err := p.args(st, lo, hi); err != nil {
		return err
	}
	if st.end.kind == tokLBrace {
		return p.errAt(st.end, CodeSyntax, nil, "%s takes no { } block", st.name.text)
	}
	return nil
}

func (p *parser) args(st statement, lo, hi int) *Error {
	if len(st.args) < lo {
		noun := "arguments"
		if lo == 1 {
			noun = "argument"
		}
		return p.errAt(st.end, CodeMissing, nil, "%s needs %d %s", st.name.text, lo, noun)
	}
	if len(st.args) > hi {
		return p.unexpectedArg(st, hi, "too many arguments for %s", st.name.text)
	}
	return nil
}

// unexpectedArg reports st.args[i], which does not belong to the directive.
// When it starts a new line, a forgotten ';' is the likely cause.
func (p *parser) unexpectedArg(st statement, i int, format string, a ...any) *Error {
	prev := st.name
	if i > 0 {
		prev = st.args[i-1]
	}
	if st.args[i].line > prev.endLine {
		return p.missingSemicolon(st.name, prev)
	}
	return p.errAt(st.args[i], CodeSyntax, nil, format, a...)
}

// missingSemicolon points just past the last token of the directive, where
// the ';' belongs. The message names the directive, not the token, which may
// be a secret.
func (p *parser) missingSemicolon(directive, last token) *Error {
	return &Error{File: p.lex.file, Line: last.endLine, Col: last.endCol, Code: CodeSyntax,
		Msg: fmt.Sprintf("missing ';' at the end of %s", engine.QuoteShort(directive.text))}
}

func (p *parser) errAt(t token, code string, path []any, format string, a ...any) *Error {
	return &Error{File: p.lex.file, Line: t.line, Col: t.col, Code: code, Path: path, Msg: fmt.Sprintf(format, a...)}
}

// mark records where the value at path was written.
func (p *parser) mark(t token, path ...any) {
	p.pos[pathKey(path)] = position{t.line, t.col}
}

// position finds where the value at path, or its nearest marked parent, was written.
func (p *parser) position(path []any) (line, col int) {
	for n := len(path); n > 0; n-- {
		if pos, ok := p.pos[pathKey(path[:n])]; ok {
			return pos.line, pos.col
		}
	}
	return 0, 0
}

func pathKey(path []any) string { return fmt.Sprint(path...) }

// parseDecimal parses a non-negative decimal integer of at most 9 digits.
func parseDecimal(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// unit is a suffix of a scaled number and its multiplier.
type unit struct {
	suffix byte // upper case; either case is read
	scale  int64
}

// sizeUnits are the suffixes of sizes, largest first: binary multiples, as
// in nginx and Flussonic ("512M" is 512 MiB).
var sizeUnits = []unit{{'T', 1 << 40}, {'G', 1 << 30}, {'M', 1 << 20}, {'K', 1 << 10}}

// parseScaled parses "N" or "N" plus one of units' suffixes; N has at most
// 13 digits and no product overflows.
func parseScaled(s string, units []unit) (int64, bool) {
	scale := int64(1)
	if s != "" {
		last := s[len(s)-1] &^ 0x20 // upper case
		for _, u := range units {
			if last == u.suffix {
				scale, s = u.scale, s[:len(s)-1]
				break
			}
		}
	}
	if s == "" || len(s) > 13 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	if n > (1<<62)/scale {
		return 0, false
	}
	return n * scale, true
}

// formatScaled writes n in the largest of units that holds it exactly.
func formatScaled(n int64, units []unit) string {
	for _, u := range units {
		if n != 0 && n%u.scale == 0 {
			return strconv.FormatInt(n/u.scale, 10) + string(u.suffix)
		}
	}
	return strconv.FormatInt(n, 10)
}

// parseSize parses a size in bytes: N, or N with K, M, G or T.
func parseSize(s string) (int64, bool) { return parseScaled(s, sizeUnits) }

// formatSize writes a size in the largest unit that holds it exactly.
func formatSize(n int64) string { return formatScaled(n, sizeUnits) }

// parseMilliseconds parses seconds written "S" or "S.FFF" (up to
// millisecond precision) into milliseconds, without float rounding.
func parseMilliseconds(s string) (int, bool) {
	whole, frac, hasFrac := strings.Cut(s, ".")
	sec, ok := parseDecimal(whole)
	if !ok || len(whole) > 6 {
		return 0, false
	}
	ms := 0
	if hasFrac {
		if len(frac) < 1 || len(frac) > 3 {
			return 0, false
		}
		if ms, ok = parseDecimal(frac + strings.Repeat("0", 3-len(frac))); !ok {
			return 0, false
		}
	}
	return sec*1000 + ms, true
}

// single reads the one argument of a directive that may appear once; set
// says whether it already did.
func single[T any](p *parser, st statement, set bool, parse func(string) (T, error), path []any) (T, *Error) {
	var zero T
	if err := p.simple(st, 1, 1); err != nil {
		return zero, err
	}
	if set {
		return zero, p.errAt(st.name, CodeDuplicate, path, "duplicate %s", st.name.text)
	}
	arg := st.args[0]
	n, err := parse(arg.text)
	if err != nil {
		return zero, p.errAt(arg, CodeBadValue, path, "%v", err)
	}
	p.mark(arg, path...)
	return n, nil
}
