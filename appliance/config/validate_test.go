package config

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/livedge/livedge/engine"
)

func TestValidateJSON(t *testing.T) {
	good := `{"http":["8080"],"streams":[{"name":"a","inputs":[{"url":"udp://239.0.0.1:1234"}],"segment_duration":2500}]}`
	var c Config
	if err := json.Unmarshal([]byte(good), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if err := fullModel.Validate(); err != nil {
		t.Fatalf("Validate(fullModel): %v", err)
	}

	tests := []struct {
		name string
		json string
		want string // Error()
		code string
		path []any
	}{
		{"bad url", `{"streams":[{"name":"a","inputs":[{"url":"udp://239.0.0.1:1234"},{"url":"gopher://x"}]}]}`,
			`streams[0].inputs[1].url: bad input URL "gopher://x": unsupported scheme "gopher" (want udp, http, https, file, testsrc, rtmp, rtsp or publish)`,
			CodeBadURL, []any{"streams", 0, "inputs", 1, "url"}},
		{"no inputs", `{"streams":[{"name":"a"}]}`, `streams[0].inputs: stream "a" has no input`, CodeMissing, []any{"streams", 0, "inputs"}},
		{"negative timeout", `{"streams":[{"name":"a","inputs":[{"url":"publish://","source_timeout":-1}]}]}`,
			`streams[0].inputs[0].source_timeout: source_timeout must be 1 to 3600 (seconds), got -1`,
			CodeBadValue, []any{"streams", 0, "inputs", 0, "source_timeout"}},
		{"segment_duration in ms", `{"streams":[{"name":"a","inputs":[{"url":"publish://"}],"segment_duration":500}]}`,
			`streams[0].segment_duration: segment_duration must be 1000 to 60000 (ms), got 500`,
			CodeBadValue, []any{"streams", 0, "segment_duration"}},
		{"segment_count", `{"streams":[{"name":"a","inputs":[{"url":"publish://"}],"segment_count":1000}]}`,
			`streams[0].segment_count: segment_count must be 1 to 100, got 1000`, CodeBadValue, []any{"streams", 0, "segment_count"}},
		{"duplicate stream", `{"streams":[{"name":"a","inputs":[{"url":"publish://"}]},{"name":"a","inputs":[{"url":"publish://"}]}]}`,
			`streams[1].name: duplicate stream "a"`, CodeDuplicate, []any{"streams", 1, "name"}},
		{"bad name", `{"streams":[{"name":"a b","inputs":[{"url":"publish://"}]}]}`,
			`streams[0].name: bad stream name "a b": character ' ' not allowed (use A-Z a-z 0-9 _ . - and /)`, CodeBadValue, []any{"streams", 0, "name"}},
		{"empty login", `{"edit_auth":{"login":"","password":"x"}}`, `edit_auth.login: bad edit_auth login "": must not be empty`, CodeBadValue, []any{"edit_auth", "login"}},
		{"bad http", `{"http":["8080","0"]}`, `http[1]: bad http listen spec "0": port "0" is not a number from 1 to 65535`, CodeBadValue, []any{"http", 1}},
		{"empty peer", `{"peers":[{"hostname":""}]}`, `peers[0].hostname: bad peer "": empty host`, CodeBadValue, []any{"peers", 0, "hostname"}},
		{"bad backend key hidden", `{"config_external":"ftp://s3cret@b/c"}`, `config_external: bad config_external "ftp://b/c": want an http:// or https:// URL`, CodeBadURL, []any{"config_external"}},
		{"bad backend", `{"config_external":"file:///etc/x"}`, `config_external: bad config_external "file:///etc/x": want an http:// or https:// URL`, CodeBadURL, []any{"config_external"}},
		{"max_connections", `{"max_connections":-1}`, `max_connections: max_connections must be an integer from 1 to 10000000, got -1`,
			CodeBadValue, []any{"max_connections"}},
		{"per-ip negative", `{"max_connections_per_ip":-1}`, `max_connections_per_ip: max_connections_per_ip must be an integer from 0 (no limit) to 1000000, got -1`,
			CodeBadValue, []any{"max_connections_per_ip"}},
		{"memory_pool", `{"memory_pool":1000}`, `memory_pool: memory_pool must be a size from 1M to 1T (bytes, or a number with a K, M, G or T suffix: 512M, 1G), got 1000`,
			CodeBadValue, []any{"memory_pool"}},
		{"header timeout", `{"http_header_timeout":601}`, `http_header_timeout: http_header_timeout must be an integer from 1 to 600 (seconds), got 601`,
			CodeBadValue, []any{"http_header_timeout"}},
		{"idle timeout", `{"http_idle_timeout":-3}`, `http_idle_timeout: http_idle_timeout must be an integer from 1 to 3600 (seconds), got -3`,
			CodeBadValue, []any{"http_idle_timeout"}},
		{"control in key", `{"cluster_key":"a\u0000b"}`, `cluster_key: bad cluster_key: control character '\x00'`, CodeBadValue, []any{"cluster_key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			if err := json.Unmarshal([]byte(tt.json), &c); err != nil {
				t.Fatal(err)
			}
			err := c.Validate()
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Validate = %v, want *Error", err)
			}
			if err.Error() != tt.want {
				t.Errorf("error %q\nwant  %q", err, tt.want)
			}
			if e.Code != tt.code || !reflect.DeepEqual(e.Path, tt.path) || e.Line != 0 || e.Col != 0 {
				t.Errorf("code %q path %v at %d:%d, want %q %v at 0:0", e.Code, e.Path, e.Line, e.Col, tt.code, tt.path)
			}
			// The path marshals the way the API reports it.
			if b, _ := json.Marshal(e.Path); len(tt.path) > 0 && b[0] != '[' {
				t.Errorf("path JSON %s", b)
			}
		})
	}
}

func TestCheckHost(t *testing.T) {
	for _, h := range []string{"a", "example.com", "a-b.c_d.e", "1.2.3.4", "[::1]", "[fe80::1%eth0]", "1a.2.3.4"} {
		if err := engine.ValidateHost(h); err != nil {
			t.Errorf("engine.ValidateHost(%q) = %v", h, err)
		}
	}
	for _, h := range []string{"", "-a", "a-", "a..b", ".a", "a.", "1.2.3.256", "01.2.3.4", "1.2.3", "::1", "[1.2.3.4]", "[::1", "a b", "ä.com",
		string(make([]byte, 254))} {
		if err := engine.ValidateHost(h); err == nil {
			t.Errorf("engine.ValidateHost(%q) accepted", h)
		}
	}
}

func TestCheckStreamName(t *testing.T) {
	for _, n := range []string{"a", "A-b_c.d", "live/cam.1/hd", "...", string(make([]byte, 0)) + "x"} {
		if err := engine.ValidateStreamName(n); err != nil {
			t.Errorf("engine.ValidateStreamName(%q) = %v", n, err)
		}
	}
	long := make([]byte, maxStreamNameLen+1)
	for i := range long {
		long[i] = 'a'
	}
	for _, n := range []string{"", "/a", "a/", "a//b", ".", "..", "a/./b", "a/..", "a b", "a?b", "a%2f", string(long)} {
		if err := engine.ValidateStreamName(n); err == nil {
			t.Errorf("engine.ValidateStreamName(%q) accepted", n)
		}
	}
}
