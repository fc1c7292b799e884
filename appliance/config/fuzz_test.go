package config

import (
	"encoding/json"
	"reflect"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		fullConf,
		string(defaultConf),
		"",
		"http 8080;\nhttp [::1]:80;",
		"stream a { input udp://1.1.1.1:1 source_timeout=3; segment_duration 1.5; }",
		"stream a {\n  input udp://1.1.1.1:1\n  input x;\n}",
		`cluster_key "a \" \\ \n b"; # comment`,
		"peer h { public p; }",
		"stream a/b/c { input file:///x; static; segment_count 6; }",
		"}{;",
		`"unterminated`,
		"edit_auth a b; view_auth c d; config_external https://x/y;",
		"max_connections 100; max_connections_per_ip 0; memory_pool 1536k; http_header_timeout 5; http_idle_timeout 60;",
		"memory_pool 4194304T; max_connections_per_ip 007;",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Any word must read back through quote.
		if len(data) <= maxTokenLen {
			tok, err := newLexer("q", []byte(quote(string(data)))).next()
			if err != nil || tok.text != string(data) {
				t.Fatalf("quote(%q) reads back as %q, %v", data, tok.text, err)
			}
		}

		c, err := Parse("fuzz.conf", data)
		if err != nil {
			if e, ok := err.(*Error); !ok || e.Code == "" || e.Msg == "" {
				t.Fatalf("error %#v", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Validate of a parsed config: %v", err)
		}
		text := c.Format()
		again, err := Parse("formatted.conf", text)
		if err != nil {
			t.Fatalf("Parse(Format()): %v\n%s", err, text)
		}
		if !reflect.DeepEqual(again, c) {
			t.Fatalf("round trip changed the config:\n%s\n%+v\n%+v", text, again, c)
		}
		// The API carries the same model as JSON.
		js, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var fromJSON Config
		if err := json.Unmarshal(js, &fromJSON); err != nil || !reflect.DeepEqual(&fromJSON, c) {
			t.Fatalf("JSON round trip: %v\n%s\n%+v", err, js, fromJSON)
		}
	})
}
