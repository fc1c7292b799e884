package appliance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/livedge/livedge/appliance/config"
)

// The API edits the config as a generic JSON document (map[string]any,
// []any, string, bool, json.Number, nil), so that partial updates follow RFC
// 7386 JSON merge patch and every field the model gains is editable without
// code here.

// decodeDoc parses a JSON request body into a generic document. A syntax
// error is reported with its byte offset.
func decodeDoc(data []byte) (any, *apiError) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, badJSON(data, err)
	}
	// Anything but white space after the value is an error too.
	if off := skipSpace(data, int(dec.InputOffset())); off < len(data) {
		return nil, badJSONAt(data, off, "unexpected data after the JSON value")
	}
	return v, nil
}

func skipSpace(data []byte, off int) int {
	for off < len(data) && (data[off] == ' ' || data[off] == '\t' || data[off] == '\r' || data[off] == '\n') {
		off++
	}
	return off
}

// decodeObject is decodeDoc for bodies that must be a JSON object.
func decodeObject(data []byte) (map[string]any, *apiError) {
	v, err := decodeDoc(data)
	if err != nil {
		return nil, err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, &apiError{status: 400, code: "bad_value", title: "the body must be a JSON object", pointer: ptr("")}
	}
	return obj, nil
}

func badJSON(data []byte, err error) *apiError {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		// Offset counts the bytes read, the bad one included.
		return badJSONAt(data, int(se.Offset)-1, se.Error())
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return badJSONAt(data, len(data), "unexpected end of JSON input")
	}
	return badJSONAt(data, 0, err.Error())
}

// badJSONAt reports bad JSON at byte offset off (0-based).
func badJSONAt(data []byte, off int, msg string) *apiError {
	off = min(max(off, 0), len(data))
	line, col := lineCol(data, off)
	return &apiError{
		status: 400,
		code:   "bad_json",
		title:  fmt.Sprintf("invalid JSON at offset %d (line %d, column %d): %s", off, line, col, msg),
		line:   line,
		col:    col,
		meta:   map[string]any{"offset": off, "line": line, "col": col},
	}
}

// lineCol turns a byte offset into a 1-based line and column (in bytes).
func lineCol(data []byte, off int) (line, col int) {
	off = min(max(off, 0), len(data))
	line = 1 + bytes.Count(data[:off], []byte{'\n'})
	return line, off - bytes.LastIndexByte(data[:off], '\n')
}

// toDoc turns a model value into a generic document.
func toDoc(v any) (map[string]any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode the model: %w", err)
	}
	doc, aerr := decodeObject(data)
	if aerr != nil {
		return nil, errors.New("encode the model: not a JSON object")
	}
	return doc, nil
}

// mergePatch applies an RFC 7386 merge patch to target and returns the
// result: objects merge key by key, null removes a key, anything else
// replaces. target may be modified.
func mergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = make(map[string]any, len(p))
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = mergePatch(t[k], v)
	}
	return t
}

// docError is a value of a document that does not fit the model.
type docError struct {
	path []any
	msg  string
	// unknown: the field does not exist (else the value has the wrong type).
	unknown bool
}

// code is the API error code of the misfit.
func (e *docError) code() string {
	if e.unknown {
		return codeUnknownField
	}
	return config.CodeBadValue
}

// codeUnknownField: a body names a field the model does not have.
const codeUnknownField = "unknown_field"

func (e *docError) Error() string { return pointerOf(e.path) + ": " + e.msg }

// decodeInto checks doc against the Go type of dst (field names exactly as
// their json tags, value types, integer ranges, no nulls) and then decodes it.
// The error says where the first misfit is.
func decodeInto(doc any, dst any) *docError {
	if err := checkDoc(doc, reflect.TypeOf(dst).Elem(), nil); err != nil {
		return err
	}
	data, err := json.Marshal(doc)
	if err != nil {
		return &docError{msg: err.Error()}
	}
	if err := json.Unmarshal(data, dst); err != nil {
		return &docError{msg: err.Error()}
	}
	return nil
}

func checkDoc(v any, t reflect.Type, path []any) *docError {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil {
		return &docError{path: path, msg: "null is only allowed to remove a field"}
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return &docError{path: path, msg: "must be an object"}
		}
		fields := jsonFields(t)
		for k, fv := range obj {
			f, ok := fields[k]
			if !ok {
				return &docError{appendPath(path, k), fmt.Sprintf("unknown field %s", strconv.Quote(k)), true}
			}
			if err := checkDoc(fv, f.Type, appendPath(path, k)); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		list, ok := v.([]any)
		if !ok {
			return &docError{path: path, msg: "must be an array"}
		}
		if t.Kind() == reflect.Array && len(list) > t.Len() {
			return &docError{path: path, msg: fmt.Sprintf("at most %d elements", t.Len())}
		}
		for i, ev := range list {
			if err := checkDoc(ev, t.Elem(), appendPath(path, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok || t.Key().Kind() != reflect.String {
			return &docError{path: path, msg: "must be an object"}
		}
		for k, ev := range obj {
			if err := checkDoc(ev, t.Elem(), appendPath(path, k)); err != nil {
				return err
			}
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			return &docError{path: path, msg: "must be a string"}
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return &docError{path: path, msg: "must be true or false"}
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := v.(json.Number)
		if !ok {
			return &docError{path: path, msg: "must be an integer"}
		}
		if _, err := strconv.ParseInt(string(n), 10, t.Bits()); err != nil {
			return &docError{path: path, msg: fmt.Sprintf("must be an integer from %d to %d", minInt(t.Bits()), maxInt(t.Bits()))}
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := v.(json.Number)
		if !ok {
			return &docError{path: path, msg: "must be an integer"}
		}
		if _, err := strconv.ParseUint(string(n), 10, t.Bits()); err != nil {
			return &docError{path: path, msg: "must be a non-negative integer in range"}
		}
	case reflect.Float32, reflect.Float64:
		n, ok := v.(json.Number)
		if !ok {
			return &docError{path: path, msg: "must be a number"}
		}
		if _, err := strconv.ParseFloat(string(n), t.Bits()); err != nil {
			return &docError{path: path, msg: "must be a number in range"}
		}
	case reflect.Interface:
	default:
		return &docError{path: path, msg: "cannot be set through the API"}
	}
	return nil
}

func minInt(bits int) int64 { return -1 << (bits - 1) }
func maxInt(bits int) int64 { return math.MaxInt64 >> (64 - bits) }

// jsonFields maps the JSON names of a struct's fields, embedded structs
// flattened, to the fields, as encoding/json names them.
func jsonFields(t reflect.Type) map[string]reflect.StructField {
	fields := make(map[string]reflect.StructField)
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					if _, dup := fields[k]; !dup {
						fields[k] = v
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = f
	}
	return fields
}

func appendPath(path []any, elem any) []any {
	return append(path[:len(path):len(path)], elem)
}

// pointerOf renders a path as an RFC 6901 JSON pointer.
func pointerOf(path []any) string {
	var b strings.Builder
	for _, p := range path {
		b.WriteByte('/')
		switch p := p.(type) {
		case string:
			b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(p))
		default:
			fmt.Fprint(&b, p)
		}
	}
	return b.String()
}

// selectFields keeps only the listed fields of a document; a field "a.b"
// keeps b inside a. Fields the document lacks are left out.
func selectFields(doc map[string]any, fields [][]string) map[string]any {
	out := make(map[string]any, len(fields))
	for _, f := range fields {
		copyPath(out, doc, f)
	}
	return out
}

func copyPath(dst, src map[string]any, path []string) {
	v, ok := src[path[0]]
	if !ok {
		return
	}
	if len(path) == 1 {
		dst[path[0]] = v
		return
	}
	sub, ok := v.(map[string]any)
	if !ok {
		return
	}
	d, ok := dst[path[0]].(map[string]any)
	if !ok {
		d = make(map[string]any)
		dst[path[0]] = d
	}
	copyPath(d, sub, path[1:])
}

// maxSelectFields bounds the select parameter.
const maxSelectFields = 64

// parseSelect parses "a,b.c" into [[a] [b c]].
func parseSelect(s string) ([][]string, error) {
	var fields [][]string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		parts := strings.Split(f, ".")
		for _, p := range parts {
			if p == "" {
				return nil, fmt.Errorf("bad field %s", strconv.Quote(f))
			}
		}
		if len(fields) == maxSelectFields {
			return nil, fmt.Errorf("more than %d fields", maxSelectFields)
		}
		fields = append(fields, parts)
	}
	if len(fields) == 0 {
		return nil, errors.New("no fields")
	}
	return fields, nil
}

// jsonPosition finds where the value at path (or its deepest existing
// parent) starts in a JSON text, as a byte offset; -1 when the text is not
// JSON.
func jsonPosition(data []byte, path []any) int {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	off, _ := locate(dec, data, path)
	return off
}

// locate reads one value from dec. It returns where the value at path starts
// (or the deepest parent found) and whether the whole path was found.
func locate(dec *json.Decoder, data []byte, path []any) (int, bool) {
	start := skipSeparators(data, int(dec.InputOffset()))
	tok, err := dec.Token()
	if err != nil {
		return -1, false
	}
	if len(path) == 0 {
		return start, true
	}
	delim, ok := tok.(json.Delim)
	if !ok || delim == '}' || delim == ']' {
		return start, false
	}
	for i := 0; dec.More(); i++ {
		match := false
		if delim == '{' {
			kt, err := dec.Token()
			if err != nil {
				return start, false
			}
			key, _ := kt.(string)
			match = path[0] == any(key)
		} else {
			match = path[0] == any(i)
		}
		if match {
			off, found := locate(dec, data, path[1:])
			if off < 0 {
				return start, false
			}
			return off, found
		}
		if !skipValue(dec) {
			return start, false
		}
	}
	return start, false
}

// skipValue reads and drops one value.
func skipValue(dec *json.Decoder) bool {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return true
		}
	}
}

func skipSeparators(data []byte, off int) int {
	for off < len(data) {
		switch data[off] {
		case ' ', '\t', '\r', '\n', ':', ',':
			off++
		default:
			return off
		}
	}
	return off
}
