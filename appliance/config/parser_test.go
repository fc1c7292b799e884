package config

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/livedge/livedge/engine"
)

const fullConf = `# livedge test config
http 8080;
http 127.0.0.1:8081;   # loopback only
http [::1]:8082;
http localhost:8083;
max_connections 5000;
max_connections_per_ip 0;   # load tests from one host
memory_pool 512M;
http_header_timeout 5;
http_idle_timeout 120;
cluster_key "s3cret key";
peer node2.example.com:8080;
peer 10.0.0.3 {
  public edge3.example.com;
}
edit_auth admin "p@ss \"word\"";
view_auth viewer pass;
config_external http://backend.local:9000/streamer/api/v3/config;

stream news/hd
{
  input udp://10.0.0.1@239.0.0.1:1234 source_timeout=3;
  input http://origin/news/mpegts;   # failover
  input file:///var/media/news.ts;
  static;
  segment_duration 2.5;
  segment_count 4;
}

stream demo {
  input testsrc://?bitrate=1000k&gop=2&size=640x360;
}

stream reserved {
  input rtmp://origin/live/a#b;
  input rtsp://[::1]:8554/cam source_timeout=3600;
  input publish://;
  segment_duration 60;
}
`

var fullModel = &Config{
	HTTP:                []string{"8080", "127.0.0.1:8081", "[::1]:8082", "localhost:8083"},
	MaxConnections:      5000,
	MaxConnectionsPerIP: intPtr(0),
	MemoryPool:          512 << 20,
	HTTPHeaderTimeout:   5,
	HTTPIdleTimeout:     120,
	ClusterKey:          "s3cret key",
	Peers: []Peer{
		{Host: "node2.example.com:8080"},
		{Host: "10.0.0.3", Public: "edge3.example.com"},
	},
	EditAuth:       &Auth{User: "admin", Password: `p@ss "word"`},
	ViewAuth:       &Auth{User: "viewer", Password: "pass"},
	ConfigExternal: "http://backend.local:9000/streamer/api/v3/config",
	Streams: []engine.StreamConfig{
		{
			Name: "news/hd",
			Inputs: []engine.InputConfig{
				{URL: "udp://10.0.0.1@239.0.0.1:1234", SourceTimeout: 3},
				{URL: "http://origin/news/mpegts"},
				{URL: "file:///var/media/news.ts"},
			},
			Static:          true,
			SegmentDuration: 2500,
			SegmentCount:    4,
		},
		{Name: "demo", Inputs: []engine.InputConfig{{URL: "testsrc://?bitrate=1000k&gop=2&size=640x360"}}},
		{
			Name: "reserved",
			Inputs: []engine.InputConfig{
				{URL: "rtmp://origin/live/a#b"},
				{URL: "rtsp://[::1]:8554/cam", SourceTimeout: 3600},
				{URL: "publish://"},
			},
			SegmentDuration: 60000,
		},
	},
}

func intPtr(n int) *int { return &n }

func TestParseGood(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want *Config
	}{
		{"full", fullConf, fullModel},
		{"empty", "", &Config{}},
		{"comments only", "# nothing\n   # here\n", &Config{}},
		{"no trailing newline", "http 80;", &Config{HTTP: []string{"80"}}},
		{"crlf", "http 80;\r\nhttp 81;\r\n", &Config{HTTP: []string{"80", "81"}}},
		{"arguments over lines", "edit_auth\n  admin\n  pass;", &Config{EditAuth: &Auth{User: "admin", Password: "pass"}}},
		{"escapes", `cluster_key "a\\b\"c\nd";`, nil}, // newline is a control character: rejected below
		{"quoted words", "stream \"x\" {input \"udp://1.2.3.4:5\";}", &Config{Streams: []engine.StreamConfig{
			{Name: "x", Inputs: []engine.InputConfig{{URL: "udp://1.2.3.4:5"}}}}}},
		{"compact", "stream a{input publish://;static;}", &Config{Streams: []engine.StreamConfig{
			{Name: "a", Inputs: []engine.InputConfig{{URL: "publish://"}}, Static: true}}}},
		{"comment right after quote", "cluster_key \"k\"# c\n;", &Config{ClusterKey: "k"}},
		{"empty peer block", "peer h { }", &Config{Peers: []Peer{{Host: "h"}}}},
		{"decimal seconds", "stream a { input publish://; segment_duration 1.05; }", &Config{Streams: []engine.StreamConfig{
			{Name: "a", Inputs: []engine.InputConfig{{URL: "publish://"}}, SegmentDuration: 1050}}}},
		{"udp multicast default iface", "stream a { input udp://239.1.1.1:5000/; }", &Config{Streams: []engine.StreamConfig{
			{Name: "a", Inputs: []engine.InputConfig{{URL: "udp://239.1.1.1:5000/"}}}}}},
		{"per-ip limit", "max_connections_per_ip 100;", &Config{MaxConnectionsPerIP: intPtr(100)}},
		{"memory_pool bytes", "memory_pool 1048576;", &Config{MemoryPool: 1 << 20}},
		{"memory_pool lower case", "memory_pool 1536k;", &Config{MemoryPool: 1536 << 10}},
		{"memory_pool G", "memory_pool 2G;", &Config{MemoryPool: 2 << 30}},
		{"slow viewers", "viewer_queue_limit 512K;\nslow_viewer drop;", &Config{ViewerQueueLimit: 512 << 10, SlowViewer: "drop"}},
		{"bad slow_viewer", "slow_viewer kick;", nil},
		{"queue limit too small", "viewer_queue_limit 4K;", nil},
		{"memory_pool T", "memory_pool 1t;", &Config{MemoryPool: 1 << 40}},
		{"limits at their bounds", "max_connections 1;\nmax_connections_per_ip 1000000;\nhttp_header_timeout 600;\nhttp_idle_timeout 1;",
			&Config{MaxConnections: 1, MaxConnectionsPerIP: intPtr(1000000), HTTPHeaderTimeout: 600, HTTPIdleTimeout: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse("t.conf", []byte(tt.src))
			if tt.want == nil {
				if err == nil {
					t.Fatalf("Parse succeeded: %+v", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	const input = "stream a {\n  input udp://1.1.1.1:1" // + rest of line 2
	tests := []struct {
		name string
		src  string
		want string // "FILE:LINE:COL: message"
		code string
		path []any
	}{
		// Syntax.
		{"missing semicolon at EOF", "http 8080", `t.conf:1:10: missing ';' at the end of "http"`, CodeSyntax, nil},
		{"missing semicolon before directive", "http 8080\ncluster_key k;", `t.conf:1:10: missing ';' at the end of "http"`, CodeSyntax, nil},
		{"missing semicolon before brace", "stream a { input udp://1.1.1.1:1 }", `t.conf:1:33: missing ';' at the end of "input"`, CodeSyntax, nil},
		{"missing semicolon between inputs", input + "\n  input udp://1.1.1.1:2;\n}", `t.conf:2:24: missing ';' at the end of "input"`, CodeSyntax, nil},
		{"missing semicolon after static", input + ";\n  static\n  segment_count 3;\n}", `t.conf:3:9: missing ';' at the end of "static"`, CodeSyntax, nil},
		{"unbalanced close", "http 8080;\n}\n", `t.conf:2:1: unbalanced '}'`, CodeSyntax, nil},
		{"unclosed block", input + ";\n", `t.conf:1:10: unbalanced '{': missing '}'`, CodeSyntax, nil},
		{"empty statement", "http 8080;;", `t.conf:1:11: unexpected ';'`, CodeSyntax, nil},
		{"block without name", "{ }", `t.conf:1:1: unexpected '{' without a directive`, CodeSyntax, nil},
		{"unterminated quote", "cluster_key \"abc;\n", `t.conf:1:13: unterminated quoted string`, CodeSyntax, nil},
		{"unknown escape", `cluster_key "a\tb";`, `t.conf:1:15: unknown escape "\\t"`, CodeSyntax, nil},
		{"unknown escape of a non-ASCII byte", "cluster_key \"a\\\xff\";", `t.conf:1:15: unknown escape "\\\xff"`, CodeSyntax, nil},
		{"quote inside word", `cluster_key ab"c";`, `t.conf:1:15: unexpected '"' inside a word`, CodeSyntax, nil},
		{"control character", "cluster_key a\x01b;", `t.conf:1:14: invalid character '\x01'`, CodeSyntax, nil},
		{"junk after quote", `cluster_key "a"b;`, `t.conf:1:16: expected a space`, CodeSyntax, nil},
		{"word too long", "cluster_key " + strings.Repeat("k", maxTokenLen+1) + ";", `t.conf:1:13: word longer than 8192 bytes`, CodeSyntax, nil},
		{"too many arguments", "http 80 81;", `t.conf:1:9: too many arguments for http`, CodeSyntax, nil},
		{"missing argument", "http;", `t.conf:1:5: http needs 1 argument`, CodeMissing, nil},
		{"block on simple directive", "http 80 { }", `t.conf:1:9: http takes no { } block`, CodeSyntax, nil},
		{"stream without block", "stream a;", `t.conf:1:9: stream needs a { ... } block`, CodeSyntax, nil},
		{"option not key=value", input + " fast;\n}", `t.conf:2:25: expected an option key=value after the input URL, got "fast"`, CodeSyntax, nil},
		{"edit_auth one argument", "edit_auth user;", `t.conf:1:15: edit_auth needs 2 arguments`, CodeMissing, nil},

		// Unknown names.
		{"unknown directive", "http 8080;\nbogus 1;\n", `t.conf:2:1: unknown directive "bogus"`, CodeUnknownDirective, nil},
		{"unknown stream directive", input + ";\n  foo;\n}\n", `t.conf:3:3: unknown directive "foo"`, CodeUnknownDirective, []any{"streams", 0}},
		{"unknown peer directive", "peer h {\n  foo x;\n}", `t.conf:2:3: unknown directive "foo"`, CodeUnknownDirective, []any{"peers", 0}},
		{"unknown block directive", "server { }", `t.conf:1:1: unknown directive "server"`, CodeUnknownDirective, nil},
		{"unknown option", input + " foo=1;\n}", `t.conf:2:25: unknown input option "foo"`, CodeUnknownOption, []any{"streams", 0, "inputs", 0, "foo"}},

		// Bad values: the position is the value's.
		{"port out of range", "http 70000;", `t.conf:1:6: bad http listen spec "70000"`, CodeBadValue, []any{"http", 0}},
		{"bad listen address", "http 80;\nhttp 1.2.3:80;", `t.conf:2:6: bad http listen spec "1.2.3:80"`, CodeBadValue, []any{"http", 1}},
		{"unbracketed IPv6 listen", "http ::1:80;", `t.conf:1:6: bad http listen spec`, CodeBadValue, []any{"http", 0}},
		{"cluster_key not UTF-8", "cluster_key \"\xff\";", `t.conf:1:13: bad cluster_key: not valid UTF-8`, CodeBadValue, []any{"cluster_key"}},
		{"empty cluster_key", `cluster_key "";`, `t.conf:1:13: cluster_key must not be empty`, CodeBadValue, []any{"cluster_key"}},
		{"login with colon", "edit_auth a:b pass;", `t.conf:1:11: bad edit_auth login "a:b"`, CodeBadValue, []any{"edit_auth", "login"}},
		{"empty password", `view_auth a "";`, `t.conf:1:13: bad view_auth password: must not be empty`, CodeBadValue, []any{"view_auth", "password"}},
		{"bad peer", "peer -bad;", `t.conf:1:6: bad peer "-bad"`, CodeBadValue, []any{"peers", 0, "hostname"}},
		{"bad peer public", "peer h {\n  public bad_:x;\n}", `t.conf:2:10: bad public address "bad_:x"`, CodeBadValue, []any{"peers", 0, "public_payload_url"}},
		{"bad stream name", "stream a//b { input publish://; }", `t.conf:1:8: bad stream name "a//b": empty path component`, CodeBadValue, []any{"streams", 0, "name"}},
		{"dot stream name", "stream ./a { input publish://; }", `t.conf:1:8: bad stream name "./a"`, CodeBadValue, []any{"streams", 0, "name"}},
		{"stream without input", "stream a {\n}\n", `t.conf:1:8: stream "a" has no input`, CodeMissing, []any{"streams", 0, "inputs"}},
		{"source_timeout not a number", input + " source_timeout=abc;\n}", `t.conf:2:40: source_timeout must be an integer from 1 to 3600`, CodeBadValue, []any{"streams", 0, "inputs", 0, "source_timeout"}},
		{"source_timeout zero", input + " source_timeout=0;\n}", `t.conf:2:40: source_timeout must be`, CodeBadValue, []any{"streams", 0, "inputs", 0, "source_timeout"}},
		{"segment_duration below 1 s", input + ";\n  segment_duration 0.5;\n}", `t.conf:3:20: segment_duration must be 1 to 60 seconds`, CodeBadValue, []any{"streams", 0, "segment_duration"}},
		{"segment_duration above 60 s", input + ";\n  segment_duration 61;\n}", `t.conf:3:20: segment_duration must be`, CodeBadValue, nil},
		{"segment_duration sub-ms", input + ";\n  segment_duration 1.0001;\n}", `t.conf:3:20: segment_duration must be`, CodeBadValue, nil},
		{"segment_duration trailing dot", input + ";\n  segment_duration 2.;\n}", `t.conf:3:20: segment_duration must be`, CodeBadValue, nil},
		{"segment_count zero", input + ";\n  segment_count 0;\n}", `t.conf:3:17: segment_count must be an integer from 1 to 100, got "0"`, CodeBadValue, []any{"streams", 0, "segment_count"}},
		{"segment_count too big", input + ";\n  segment_count 101;\n}", `t.conf:3:17: segment_count must be`, CodeBadValue, nil},

		{"max_connections zero", "max_connections 0;", `t.conf:1:17: max_connections must be an integer from 1 to 10000000, got "0"`, CodeBadValue, []any{"max_connections"}},
		{"max_connections negative", "max_connections -5;", `t.conf:1:17: max_connections must be`, CodeBadValue, nil},
		{"max_connections too big", "max_connections 10000001;", `t.conf:1:17: max_connections must be`, CodeBadValue, nil},
		{"per-ip not a number", "max_connections_per_ip many;", `t.conf:1:24: max_connections_per_ip must be an integer from 0 (no limit) to 1000000, got "many"`, CodeBadValue, []any{"max_connections_per_ip"}},
		{"per-ip too big", "max_connections_per_ip 1000001;", `t.conf:1:24: max_connections_per_ip must be`, CodeBadValue, nil},
		{"memory_pool too small", "memory_pool 1023K;", `t.conf:1:13: memory_pool must be a size from 1M to 1T`, CodeBadValue, []any{"memory_pool"}},
		{"memory_pool too big", "memory_pool 1025G;", `t.conf:1:13: memory_pool must be a size`, CodeBadValue, nil},
		{"memory_pool overflow", "memory_pool 9999999999999T;", `t.conf:1:13: memory_pool must be a size`, CodeBadValue, nil},
		{"memory_pool unit only", "memory_pool M;", `t.conf:1:13: memory_pool must be a size`, CodeBadValue, nil},
		{"memory_pool MB", "memory_pool 512MB;", `t.conf:1:13: memory_pool must be a size`, CodeBadValue, nil},
		{"memory_pool fraction", "memory_pool 1.5G;", `t.conf:1:13: memory_pool must be a size`, CodeBadValue, nil},
		{"header timeout zero", "http_header_timeout 0;", `t.conf:1:21: http_header_timeout must be an integer from 1 to 600 (seconds), got "0"`, CodeBadValue, []any{"http_header_timeout"}},
		{"idle timeout too long", "http_idle_timeout 3601;", `t.conf:1:19: http_idle_timeout must be an integer from 1 to 3600 (seconds)`, CodeBadValue, []any{"http_idle_timeout"}},
		{"limit with block", "max_connections 5 { }", `t.conf:1:19: max_connections takes no { } block`, CodeSyntax, nil},
		{"memory_pool missing", "memory_pool;", `t.conf:1:12: memory_pool needs 1 argument`, CodeMissing, nil},

		// URLs.
		{"unsupported scheme", input + ";\n  input ftp://x;\n}", `t.conf:3:9: bad input URL "ftp://x": unsupported scheme "ftp"`, CodeBadURL, []any{"streams", 0, "inputs", 1, "url"}},
		{"no scheme", "stream a {\n  input /x;\n}", `t.conf:2:9: bad input URL "/x": missing scheme`, CodeBadURL, nil},
		{"unparsable URL", "stream a {\n  input http://[::1;\n}", `t.conf:2:9: bad input URL "http://[::1"`, CodeBadURL, nil},
		{"udp without port", "stream a {\n  input udp://239.0.0.1;\n}", `t.conf:2:9: bad input URL "udp://239.0.0.1": want udp://[IFACE@]ADDR:PORT`, CodeBadURL, nil},
		{"udp interface name", "stream a {\n  input udp://eth0@239.0.0.1:1234;\n}", `t.conf:2:9: bad input URL`, CodeBadURL, nil},
		{"udp host name", "stream a {\n  input udp://example.com:1234;\n}", `t.conf:2:9: bad input URL`, CodeBadURL, nil},
		{"relative file", "stream a {\n  input file://rel/x.ts;\n}", `t.conf:2:9: bad input URL "file://rel/x.ts": want file:///absolute/path`, CodeBadURL, nil},
		{"http without host", "stream a {\n  input http:///x;\n}", `t.conf:2:9: bad input URL "http:///x": missing host`, CodeBadURL, nil},
		{"config_external not http", "config_external ftp://b/c;", `t.conf:1:17: bad config_external "ftp://b/c"`, CodeBadURL, []any{"config_external"}},

		// Duplicates: at the second occurrence.
		{"duplicate http", "http 80;\nhttp 80;", `t.conf:2:6: duplicate http listen spec "80"`, CodeDuplicate, []any{"http", 1}},
		{"duplicate cluster_key", "cluster_key a;\ncluster_key b;", `t.conf:2:1: duplicate cluster_key`, CodeDuplicate, []any{"cluster_key"}},
		{"duplicate view_auth", "view_auth a b;\nview_auth a b;", `t.conf:2:1: duplicate view_auth`, CodeDuplicate, []any{"view_auth"}},
		{"duplicate peer", "peer h;\npeer h;", `t.conf:2:6: duplicate peer "h"`, CodeDuplicate, []any{"peers", 1, "hostname"}},
		{"duplicate public", "peer h { public a; public b; }", `t.conf:1:20: duplicate public`, CodeDuplicate, []any{"peers", 0, "public_payload_url"}},
		{"duplicate stream", "stream a { input publish://; }\nstream a { input publish://; }", `t.conf:2:8: duplicate stream "a"`, CodeDuplicate, []any{"streams", 1, "name"}},
		{"duplicate static", input + ";\n static;\n static;\n}", `t.conf:4:2: duplicate static`, CodeDuplicate, []any{"streams", 0, "static"}},
		{"duplicate segment_count", input + ";\n segment_count 2;\n segment_count 2;\n}", `t.conf:4:2: duplicate segment_count`, CodeDuplicate, nil},
		{"duplicate max_connections", "max_connections 5;\nmax_connections 6;", `t.conf:2:1: duplicate max_connections`, CodeDuplicate, []any{"max_connections"}},
		{"duplicate per-ip", "max_connections_per_ip 0;\nmax_connections_per_ip 0;", `t.conf:2:1: duplicate max_connections_per_ip`, CodeDuplicate, []any{"max_connections_per_ip"}},
		{"duplicate memory_pool", "memory_pool 1G;\nmemory_pool 1G;", `t.conf:2:1: duplicate memory_pool`, CodeDuplicate, []any{"memory_pool"}},
		{"duplicate timeout", "http_idle_timeout 5;\nhttp_idle_timeout 5;", `t.conf:2:1: duplicate http_idle_timeout`, CodeDuplicate, nil},
		{"duplicate option", input + " source_timeout=1 source_timeout=2;\n}", `t.conf:2:42: duplicate option source_timeout`, CodeDuplicate, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("t.conf", []byte(tt.src))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", cfg)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v is not *Error", err, err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error  %q\nwant prefix %q", err, tt.want)
			}
			if e.Code != tt.code {
				t.Errorf("code %q, want %q", e.Code, tt.code)
			}
			if tt.path != nil && !reflect.DeepEqual(e.Path, tt.path) {
				t.Errorf("path %v, want %v", e.Path, tt.path)
			}
		})
	}
}

func TestParseSecretsStayOutOfErrors(t *testing.T) {
	for _, src := range []string{
		"edit_auth admin hunter2\nhttp 80;",
		"cluster_key hunter2\x01;",
		"cluster_key \"hunter2\x01\";",
		"view_auth admin \"hunter2\x7f\";",
	} {
		_, err := Parse("t.conf", []byte(src))
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Parse(%q) error %v: want an error without the secret", src, err)
		}
	}
}

func TestParseTooLarge(t *testing.T) {
	_, err := Parse("big.conf", make([]byte, MaxFileSize+1))
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeTooLarge {
		t.Fatalf("error %v, want code %s", err, CodeTooLarge)
	}
}

func TestDefault(t *testing.T) {
	got := Default()
	want := &Config{
		HTTP: []string{"8080"},
		Streams: []engine.StreamConfig{{
			Name:   "demo",
			Inputs: []engine.InputConfig{{URL: "testsrc://?bitrate=1000k&gop=2&size=640x360"}},
			Static: true,
		}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Default() = %+v, want %+v", got, want)
	}
	got.Streams[0].Name = "changed"
	if Default().Streams[0].Name != "demo" {
		t.Fatal("Default() shares state between calls")
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/livedge.conf"
	if err := os.WriteFile(path, []byte(fullConf), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, fullModel) {
		t.Fatalf("Load = %+v", got)
	}

	if err := os.WriteFile(path, []byte("http 80;\nbogus;\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.HasPrefix(err.Error(), path+":2:1: ") {
		t.Fatalf("Load error %v, want it at %s:2:1", err, path)
	}
	if _, err := Load(dir + "/missing.conf"); err == nil {
		t.Fatal("Load of a missing file succeeded")
	}
}

func TestStream(t *testing.T) {
	s, ok := fullModel.Stream("news/hd")
	if !ok || s.Name != "news/hd" || len(s.Inputs) != 3 {
		t.Fatalf("Stream(news/hd) = %+v, %v", s, ok)
	}
	s.Inputs[0].URL = "changed"
	if fullModel.Streams[0].Inputs[0].URL == "changed" {
		t.Fatal("Stream returned shared inputs")
	}
	if _, ok := fullModel.Stream("nope"); ok {
		t.Fatal("Stream(nope) found a stream")
	}
}
