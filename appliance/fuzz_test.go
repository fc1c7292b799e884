package appliance

import (
	"encoding/json"
	"testing"

	"github.com/livedge/livedge/appliance/config"
	"github.com/livedge/livedge/engine"
)

// FuzzStreamBody runs a PUT /streams body through what the API does with
// it: parse, merge into a stream, check against the model, locate errors.
// Nothing may panic, and whatever is accepted must encode back.
func FuzzStreamBody(f *testing.F) {
	for _, s := range []string{
		`{"inputs":[{"url":"testsrc://"}],"static":true}`,
		`{"inputs":null,"$reset":true}`,
		`{"inputs":[{"url":"udp://239.0.0.1:1234","source_timeout":3}],"segment_duration":2000}`,
		`{"a":{"b":{"c":null}},"name":"x"}`,
		`{"segment_count":1e400}`,
		`[1,2,{"x":null}]`,
		`{"inputs":[{"url":"x","foo":1}]}`,
		`{"http":["8080","127.0.0.1:81"],"cluster_key":"k","edit_auth":{"login":"a","password":"p w"},"streams":[{"name":"a/b","inputs":[{"url":"testsrc://?a=b#c","source_timeout":3}],"static":true,"segment_duration":2500,"segment_count":3}]}`,
		`{"peers":[{"hostname":"p1.local","public_payload_url":"p1.example.com:80"}],"max_connections_per_ip":0}`,
		"{\n\"a\":\n}",
		`"string"`,
	} {
		f.Add([]byte(s))
	}
	base := map[string]any{"name": "s", "inputs": []any{map[string]any{"url": "testsrc://"}}}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, aerr := decodeDoc(data)
		if aerr != nil {
			if aerr.status != 400 || aerr.line < 1 || aerr.col < 1 {
				t.Fatalf("bad JSON answer %+v", aerr)
			}
			return
		}
		target, _ := mergePatch(nil, base).(map[string]any)
		merged := mergePatch(target, v)
		var sc engine.StreamConfig
		if derr := decodeInto(merged, &sc); derr != nil {
			_ = pointerOf(derr.path)
			_ = jsonPosition(data, derr.path)
		} else if _, err := json.Marshal(sc); err != nil {
			t.Fatal(err)
		}
		var cfg config.Config
		if derr := decodeInto(v, &cfg); derr == nil {
			if err := cfg.Validate(); err != nil {
				_ = jsonPosition(data, validationError(err).path)
				return
			}
			// What the API accepts, the file must hold: the store writes
			// Format and refuses a change whose file would not read back.
			back, err := config.Parse("fuzz", cfg.Format())
			if err != nil {
				t.Fatalf("valid config does not read back: %v\n%s", err, cfg.Format())
			}
			a, _ := json.Marshal(back)
			b, _ := json.Marshal(&cfg)
			if string(a) != string(b) {
				t.Fatalf("config changes through the file:\n%s\n%s", a, b)
			}
		}
	})
}

// FuzzQuery covers the parsers of query parameters and headers: cursors,
// select and Authorization.
func FuzzQuery(f *testing.F) {
	for _, s := range []string{
		encodeCursor(cursorByName, "a/b"), encodeCursor(cursorByID, "17"), "bmFtZV9ndD1h",
		"name,stats.alive", "a..b", "Basic YWRtaW46cHc=", "Bearer cm9vdDpwYXNzd29yZA", "Basic",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if name, ok := decodeCursor(cursorByName, s); ok {
			if back, ok := decodeCursor(cursorByName, encodeCursor(cursorByName, name)); !ok || back != name {
				t.Fatalf("cursor %q does not round-trip", name)
			}
		}
		if fields, err := parseSelect(s); err == nil {
			for _, f := range fields {
				if len(f) == 0 {
					t.Fatal("empty field path")
				}
			}
			_ = selectFields(map[string]any{"a": map[string]any{"b": 1}}, fields)
		}
		c := parseAuthorization(s)
		_ = c.matches(&config.Auth{User: "u", Password: "p"})
	})
}
