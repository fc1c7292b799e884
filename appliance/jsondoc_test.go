package appliance

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/livedge/livedge/appliance/config"
	"github.com/livedge/livedge/engine"
)

func mustDoc(t *testing.T, s string) any {
	t.Helper()
	v, err := decodeDoc([]byte(s))
	if err != nil {
		t.Fatalf("%s: %s", s, err.title)
	}
	return v
}

func canon(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The examples of RFC 7386, appendix A.
func TestMergePatchRFC7386(t *testing.T) {
	cases := []struct{ target, patch, want string }{
		{`{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{`{"a":"b"}`, `{"a":null}`, `{}`},
		{`{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{`{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{`["a","b"]`, `["c","d"]`, `["c","d"]`},
		{`{"a":"b"}`, `["c"]`, `["c"]`},
		{`{"a":"foo"}`, `null`, `null`},
		{`{"a":"foo"}`, `"bar"`, `"bar"`},
		{`{"e":null}`, `{"a":1}`, `{"a":1,"e":null}`},
		{`[1,2]`, `{"a":"b","c":null}`, `{"a":"b"}`},
		{`{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
	}
	for _, c := range cases {
		got := canon(t, mergePatch(mustDoc(t, c.target), mustDoc(t, c.patch)))
		if got != canon(t, mustDoc(t, c.want)) {
			t.Errorf("merge %s with %s = %s, want %s", c.target, c.patch, got, c.want)
		}
	}
}

func TestDecodeIntoPointsAtMisfits(t *testing.T) {
	cases := []struct{ body, pointer string }{
		{`{"name":"a","inputs":[{"url":"x","foo":1}]}`, "/inputs/0/foo"},
		{`{"name":1}`, "/name"},
		{`{"name":"a","static":"yes"}`, "/static"},
		{`{"name":"a","segment_count":1.5}`, "/segment_count"},
		{`{"name":"a","segment_count":99999999999999999999}`, "/segment_count"},
		{`{"name":"a","inputs":[null]}`, "/inputs/0"},
		{`{"name":"a","inputs":{"url":"x"}}`, "/inputs"},
		{`{"Name":"a"}`, "/Name"},
		{`{"a/b~c":1}`, "/a~1b~0c"},
	}
	for _, c := range cases {
		var sc engine.StreamConfig
		err := decodeInto(mustDoc(t, c.body), &sc)
		if err == nil {
			t.Errorf("%s: accepted", c.body)
			continue
		}
		if got := pointerOf(err.path); got != c.pointer {
			t.Errorf("%s: pointer %q (%s), want %q", c.body, got, err.msg, c.pointer)
		}
	}
	var sc engine.StreamConfig
	if err := decodeInto(mustDoc(t, `{"name":"a","inputs":[{"url":"u","source_timeout":3}],"static":true}`), &sc); err != nil {
		t.Fatal(err)
	}
	want := engine.StreamConfig{Name: "a", Inputs: []engine.InputConfig{{URL: "u", SourceTimeout: 3}}, Static: true}
	if !reflect.DeepEqual(sc, want) {
		t.Fatalf("decoded %+v", sc)
	}
}

func TestBadJSONReportsOffset(t *testing.T) {
	cases := []struct {
		body      string
		off       int
		line, col int
	}{
		{`{"a":}`, 5, 1, 6},
		{"{\n  \"a\": 1,\n  x\n}", 14, 3, 3},
		{`{"a":1} x`, 8, 1, 9},
		{`{"a":`, 5, 1, 6},
		{``, 0, 1, 1},
	}
	for _, c := range cases {
		_, err := decodeDoc([]byte(c.body))
		if err == nil {
			t.Errorf("%q accepted", c.body)
			continue
		}
		if err.status != 400 || err.code != "bad_json" || err.meta["offset"] != c.off || err.line != c.line || err.col != c.col {
			t.Errorf("%q: %d %s offset %v line %d col %d, want offset %d line %d col %d",
				c.body, err.status, err.code, err.meta["offset"], err.line, err.col, c.off, c.line, c.col)
		}
	}
}

func TestJSONPosition(t *testing.T) {
	body := "{\"http\": [\"80\"],\n \"streams\": [\n  {\"name\": \"a\", \"inputs\": [{\"url\": \"\"}]}\n ]}"
	cases := []struct {
		path      []any
		line, col int
	}{
		{[]any{"streams", 0, "inputs", 0, "url"}, 3, 36},
		{[]any{"streams", 0, "name"}, 3, 12},
		{[]any{"http", 0}, 1, 11},
		{[]any{"streams", 0, "segment_count"}, 3, 3}, // absent: its stream
		{nil, 1, 1},
	}
	for _, c := range cases {
		off := jsonPosition([]byte(body), c.path)
		line, col := lineCol([]byte(body), off)
		if line != c.line || col != c.col {
			t.Errorf("%v: line %d col %d, want %d %d", c.path, line, col, c.line, c.col)
		}
	}
}

func TestSelectFields(t *testing.T) {
	doc := mustDoc(t, `{"name":"a","stats":{"alive":true,"lifetime":5},"inputs":[{"url":"u"}]}`).(map[string]any)
	fields, err := parseSelect("name, stats.alive,missing,inputs.url")
	if err != nil {
		t.Fatal(err)
	}
	if got := canon(t, selectFields(doc, fields)); got != `{"name":"a","stats":{"alive":true}}` {
		t.Fatalf("selected %s", got)
	}
	for _, bad := range []string{"", "a..b", ",", "a."} {
		if _, err := parseSelect(bad); err == nil {
			t.Errorf("select %q accepted", bad)
		}
	}
}

func TestCursorRoundTrip(t *testing.T) {
	for _, name := range []string{"a", "a/b", "x y&z=1", "é"} {
		got, ok := decodeCursor(cursorByName, encodeCursor(cursorByName, name))
		if !ok || got != name {
			t.Errorf("cursor of %q decodes to %q %v", name, got, ok)
		}
	}
	if _, ok := decodeCursor(cursorByName, encodeCursor(cursorByID, "1")); ok {
		t.Error("a session cursor was taken for a stream cursor")
	}
}

func TestValidateJSONConfigPositions(t *testing.T) {
	body := "{\"streams\": [\n {\"name\": \"a\", \"inputs\": [{\"url\": \"bogus://\"}]}]}"
	_, err := validateJSONConfig([]byte(body))
	if err == nil || err.code != config.CodeBadURL || err.line != 2 || err.col != 35 {
		t.Fatalf("got %+v", err)
	}
}
