package config

import (
	"reflect"
	"strings"
	"testing"

	"github.com/livedge/livedge/engine"
)

func TestFormatRoundTrip(t *testing.T) {
	tricky := &Config{
		HTTP:                []string{"8080"},
		MaxConnectionsPerIP: intPtr(0),
		MemoryPool:          1<<30 + 4096,
		ViewerQueueLimit:    3 << 20,
		SlowViewer:          "resync",
		ClusterKey:          `key with spaces "quotes" # hash ; semi {braces} \back\slash`,
		Peers:               []Peer{{Host: "a"}, {Host: "b:81", Public: "pub.example.com:443"}},
		EditAuth:            &Auth{User: "ad#min", Password: `"`},
		ViewAuth:            &Auth{User: "v", Password: "{}; x"},
		Streams: []engine.StreamConfig{
			{Name: "a/b", Inputs: []engine.InputConfig{{URL: "file:///media/with space/#1;{x}.ts", SourceTimeout: 7}, {URL: "publish://"}},
				Static: true, SegmentDuration: 1001, SegmentCount: 100},
			{Name: "c", Inputs: []engine.InputConfig{{URL: "http://h/x?a=b&c=d"}}, SegmentDuration: 60000},
		},
	}
	for name, c := range map[string]*Config{"full": fullModel, "tricky": tricky, "default": Default(), "empty": {}} {
		t.Run(name, func(t *testing.T) {
			text := c.Format()
			got, err := Parse("formatted.conf", text)
			if err != nil {
				t.Fatalf("Parse(Format()): %v\n%s", err, text)
			}
			if !reflect.DeepEqual(got, c) {
				t.Fatalf("round trip changed the config:\n%s\ngot  %+v\nwant %+v", text, got, c)
			}
		})
	}
}

func TestFormatCanonical(t *testing.T) {
	want := `http 8080;
max_connections 20000;
max_connections_per_ip 20;
memory_pool 1G;
http_header_timeout 10;
http_idle_timeout 60;
cluster_key "a b";
peer p1;
peer p2 {
  public pub;
}
edit_auth admin "p\"w";
config_external http://b/c;

stream s {
  input udp://239.0.0.1:1234 source_timeout=3;
  input publish://;
  static;
  segment_duration 2.5;
  segment_count 3;
}
`
	c, err := Parse("t.conf", []byte(want))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(c.Format()); got != want {
		t.Fatalf("Format =\n%s\nwant\n%s", got, want)
	}
}

func TestSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "1": 1, "1k": 1 << 10, "1K": 1 << 10, "3M": 3 << 20, "512m": 512 << 20,
		"1G": 1 << 30, "2T": 2 << 40, "1025": 1025, "9999999999999": 9999999999999, "4194304T": 1 << 62} {
		if got, ok := parseSize(in); !ok || got != want {
			t.Errorf("parseSize(%q) = %d, %v, want %d", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "K", "-1", "+1", "1.5G", "1 G", "1KB", "1P", "1e6", "0x10", "4194305T", "99999999999999"} {
		if n, ok := parseSize(bad); ok {
			t.Errorf("parseSize(%q) = %d", bad, n)
		}
	}
	for n, want := range map[int64]string{1: "1", 1023: "1023", 1 << 10: "1K", 1536 << 10: "1536K", 1 << 20: "1M",
		3 << 30: "3G", 1 << 40: "1T", 1<<40 + 1<<30: "1025G", 1<<30 + 1: "1073741825"} {
		if got := formatSize(n); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", n, got, want)
		}
		if back, ok := parseSize(formatSize(n)); !ok || back != n {
			t.Errorf("formatSize(%d) reads back as %d", n, back)
		}
	}
}

func TestQuote(t *testing.T) {
	for _, s := range []string{"", "plain", "a b", `"`, `\`, "#x", "x#", ";", "{", "}", "line\nbreak", "tab\there", "\x00\x7f", "ü", "a=b", "\xff",
		strings.Repeat("w", maxTokenLen), strings.Repeat(" ", maxTokenLen)} {
		q := quote(s)
		l := newLexer("q", []byte(q))
		tok, err := l.next()
		if err != nil || tok.kind != tokWord || tok.text != s {
			t.Errorf("quote(%q) = %s, reads back as %q (%v)", s, q, tok.text, err)
			continue
		}
		if end, _ := l.next(); end.kind != tokEOF {
			t.Errorf("quote(%q) = %s is more than one token", s, q)
		}
	}
}
