package config

import (
	"reflect"
	"strings"
	"testing"

	"github.com/livedge/livedge/engine"
)

func TestFormatRoundTrip(t *testing.T) {
	tricky := &Config{
		HTTP:       []string{"8080"},
		ClusterKey: `key with spaces "quotes" # hash ; semi {braces} \back\slash`,
		Peers:      []Peer{{Host: "a"}, {Host: "b:81", Public: "pub.example.com:443"}},
		EditAuth:   &Auth{User: "ad#min", Password: `"`},
		ViewAuth:   &Auth{User: "v", Password: "{}; x"},
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
