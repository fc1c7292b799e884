package cluster

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/livedge/livedge/perf"
)

func TestTableRoundTrip(t *testing.T) {
	streams := normalizeStreams([]LocalStream{
		{Name: "tv/2", Startable: true},
		{Name: "cam1", Running: true},
		{Name: "cam1", Startable: true}, // merged with the one above
		{Name: "idle"},                  // neither: left out
		{Name: "bad name", Running: true},
		{Name: "../up", Running: true},
	})
	body, err := encodeTable("edge1", "edge1.example.com:8080", streams)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"hostname":"edge1","public":"edge1.example.com:8080","running":["cam1"],"startable":["cam1","tv/2"]}`
	if string(body) != want {
		t.Fatalf("table\n got %s\nwant %s", body, want)
	}
	tbl, err := parseTable(body)
	if err != nil {
		t.Fatal(err)
	}
	if tbl.name != "edge1" || tbl.public != "edge1.example.com:8080" || tbl.running != 1 || len(tbl.streams) != 2 ||
		tbl.streams["cam1"] != flagRunning|flagStartable || tbl.streams["tv/2"] != flagStartable {
		t.Fatalf("parsed %+v", tbl)
	}
	if tableETag(body) != tableETag(bytes.Clone(body)) || tableETag(body) == tableETag(append(bytes.Clone(body), ' ')) {
		t.Error("ETag is not a function of the body")
	}
	if !validETag(tableETag(body)) {
		t.Errorf("our own ETag %s is not valid", tableETag(body))
	}
}

func TestParseTableRejects(t *testing.T) {
	for _, tc := range []struct{ name, body, wantErr string }{
		{"empty", ``, "not valid JSON"},
		{"not an object", `[]`, "not valid JSON"},
		{"null", `null`, "hostname"},
		{"no hostname", `{"running":[]}`, "hostname"},
		{"bad hostname", `{"hostname":"a b"}`, "hostname"},
		{"bad public", `{"hostname":"a","public":"x y"}`, "public"},
		{"bad stream name", `{"hostname":"a","running":["../x"]}`, "running[0]"},
		{"empty stream name", `{"hostname":"a","startable":[""]}`, "startable[0]"},
		{"unsorted", `{"hostname":"a","running":["b","a"]}`, "not sorted"},
		{"repeated", `{"hostname":"a","startable":["a","a"]}`, "not sorted"},
		{"wrong type", `{"hostname":"a","running":"a"}`, "not valid JSON"},
		{"wrong element type", `{"hostname":"a","running":[1]}`, "not valid JSON"},
		{"trailing data", `{"hostname":"a"} {}`, "after its JSON"},
		{"trailing garbage", `{"hostname":"a"}x`, "after its JSON"},
		{"too large", `{"hostname":"a","x":"` + strings.Repeat("x", MaxTableBytes) + `"}`, "larger than"},
	} {
		if _, err := parseTable([]byte(tc.body)); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: parseTable = %v, want an error with %q", tc.name, err, tc.wantErr)
		}
	}
}

func TestParseTableAccepts(t *testing.T) {
	for _, tc := range []struct {
		body                   string
		total, running, public int
	}{
		{`{"hostname":"a"}`, 0, 0, 0},
		{`{"hostname":"a","running":null,"startable":[]}`, 0, 0, 0},
		{`{"hostname":"a","public":"[::1]:80","running":["x"]}`, 1, 1, 1},
		{`{"hostname":"a","future":{"x":[1,2]},"running":["x","y"],"startable":["w","x"]}`, 3, 2, 0},
		{" {\"hostname\":\"a\"}\n", 0, 0, 0},
	} {
		tbl, err := parseTable([]byte(tc.body))
		if err != nil || len(tbl.streams) != tc.total || tbl.running != tc.running {
			t.Errorf("parseTable(%s) = %+v, %v", tc.body, tbl, err)
		}
	}
}

func TestLoadHeader(t *testing.T) {
	v := formatLoad(perf.Load{Clients: 12, OutputKbit: 3400}, 10000000)
	if v != "clients=12 output_kbit=3400 max_bitrate_kbit=10000000" {
		t.Fatalf("formatLoad = %q", v)
	}
	load, limit, err := parseLoad(v)
	if err != nil || load.Clients != 12 || load.OutputKbit != 3400 || limit != 10000000 {
		t.Fatalf("parseLoad(%q) = %+v %d %v", v, load, limit, err)
	}
	if v := formatLoad(perf.Load{Clients: -3}, 0); v != "clients=0 output_kbit=0 max_bitrate_kbit=0" {
		t.Errorf("negative clients: %q", v)
	}
	for _, ok := range []string{
		"clients=1 output_kbit=2",
		"output_kbit=2 clients=1 future=x max_bitrate_kbit=3",
		"clients=0  output_kbit=18446744073709551615",
	} {
		if _, _, err := parseLoad(ok); err != nil {
			t.Errorf("parseLoad(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{
		"", "clients=1", "output_kbit=1", "clients=1 output_kbit=2 clients=3", "clients=-1 output_kbit=2",
		"clients=+1 output_kbit=2", "clients=1 output_kbit=18446744073709551616", "clients=1 output_kbit=0x10",
		"clients=1 output_kbit=", "clients=1 output_kbit=2 junk", "clients=1 output_kbit=2 =3",
		"clients=99999999999999999999 output_kbit=1", "clients=1 output_kbit=2 x=" + strings.Repeat("1", 600),
	} {
		if _, _, err := parseLoad(bad); err == nil {
			t.Errorf("parseLoad(%q) accepted", bad)
		}
	}
}

func TestETagMatches(t *testing.T) {
	const tag = `"0123456789abcdef"`
	for _, tc := range []struct {
		header string
		want   bool
	}{
		{tag, true}, {"", false}, {`"other"`, false}, {`"other", ` + tag, true}, {` ` + tag + ` `, true},
		{`W/` + tag, false}, {`"0123456789abcdef`, false}, {`,,`, false},
	} {
		if got := etagMatches(tc.header, tag); got != tc.want {
			t.Errorf("etagMatches(%q) = %v", tc.header, got)
		}
	}
	for _, bad := range []string{"", "a b", "a\r\nX: y", strings.Repeat("a", 129)} {
		if validETag(bad) {
			t.Errorf("validETag(%q)", bad)
		}
	}
}

func TestInterpret(t *testing.T) {
	body, _ := encodeTable("b", "", nil)
	const load = "clients=1 output_kbit=2"
	for _, tc := range []struct {
		name string
		r    reply
		want outcomeKind
		err  string
	}{
		{"200", reply{status: 200, etag: `"x"`, load: load, body: body}, outcomeGood, ""},
		{"200 without load", reply{status: 200, body: body}, outcomeFailed, "X-Cluster-Load"},
		{"200 bad table", reply{status: 200, load: load, body: []byte("{")}, outcomeFailed, "JSON"},
		{"304", reply{status: 304, load: load, sentETag: `"x"`}, outcomeGood, ""},
		{"304 unasked", reply{status: 304, load: load}, outcomeFailed, "without If-None-Match"},
		{"403", reply{status: 403, body: []byte(`{"errors":[{"title":"wrong cluster_key\n"}]}`)}, outcomeForbidden, "wrong cluster_key?"},
		{"403 bare", reply{status: 403, body: []byte(`nope`)}, outcomeForbidden, "no reason given"},
		{"500", reply{status: 500}, outcomeFailed, "status 500"},
		{"302", reply{status: 302}, outcomeFailed, "status 302"},
		{"network", reply{err: fmt.Errorf("connection refused")}, outcomeFailed, "refused"},
	} {
		o := interpret(tc.r)
		if o.kind != tc.want || (tc.err != "" && (o.err == nil || !strings.Contains(o.err.Error(), tc.err))) {
			t.Errorf("%s: interpret = kind %d err %v, want kind %d err with %q", tc.name, o.kind, o.err, tc.want, tc.err)
		}
	}
	long := `{"errors":[{"title":"` + strings.Repeat("x", 1000) + `"}]}`
	if title := errorTitle([]byte(long)); len(title) > maxErrorTitle+3 {
		t.Errorf("error title not cut: %d bytes", len(title))
	}
}

// FuzzParseTable: no panic on any body; whatever parses is valid and
// re-encodes to a table that parses to the same.
func FuzzParseTable(f *testing.F) {
	seed, _ := encodeTable("edge1", "edge1.example.com:8080", []LocalStream{{Name: "a", Running: true}, {Name: "b/c", Startable: true}})
	for _, s := range []string{
		string(seed), `{"hostname":"a"}`, `{"hostname":"a","running":null}`, `[]`, `null`, ``, `{"hostname":"a"} {}`,
		`{"hostname":"a","running":["b","a"]}`, `{"HOSTNAME":"a","Running":["x"],"STARTABLE":["x","y"]}`,
		`{"hostname":"a","hostname":"b"}`, `{"hostname":"\u0061"}`, `{"hostname":"a","public":"[::1]:99999"}`,
		`{"hostname":"a","running":["x/y","x/y/z"],"startable":["a..b","x/.y"]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		tbl, err := parseTable(body)
		if err != nil {
			return
		}
		if ValidateServerName(tbl.name) != nil {
			t.Fatalf("accepted hostname %q", tbl.name)
		}
		var streams []LocalStream
		running := 0
		for name, flags := range tbl.streams {
			if flags == 0 {
				t.Fatalf("stream %q without flags", name)
			}
			streams = append(streams, LocalStream{Name: name, Running: flags&flagRunning != 0, Startable: flags&flagStartable != 0})
			if flags&flagRunning != 0 {
				running++
			}
		}
		if running != tbl.running {
			t.Fatalf("running count %d, %d streams running", tbl.running, running)
		}
		again, err := encodeTable(tbl.name, tbl.public, normalizeStreams(streams))
		if err != nil {
			t.Fatal(err)
		}
		tbl2, err := parseTable(again)
		if err != nil {
			t.Fatalf("re-encoded table does not parse: %v\n%s", err, again)
		}
		if tbl2.name != tbl.name || tbl2.public != tbl.public || len(tbl2.streams) != len(tbl.streams) || tbl2.running != tbl.running {
			t.Fatalf("round trip changed the table: %+v then %+v", tbl, tbl2)
		}
	})
}

// FuzzParseReply: no panic on any answer (status, headers, body); a good
// outcome has a valid load and, for a 200, a table; an ETag kept is valid.
func FuzzParseReply(f *testing.F) {
	body, _ := encodeTable("edge1", "", []LocalStream{{Name: "a", Running: true}})
	f.Add(200, `"abc"`, "clients=1 output_kbit=2 max_bitrate_kbit=3", body, "")
	f.Add(304, `"abc"`, "clients=1 output_kbit=2", []byte(nil), `"abc"`)
	f.Add(403, "", "", []byte(`{"errors":[{"status":"403","title":"wrong cluster_key","code":"cluster_key"}]}`), "")
	f.Add(200, "a\r\nb", "clients=1 output_kbit=2 clients=1", []byte(`{"hostname":"x"}`), "")
	f.Add(500, "", "", []byte("oops"), "")
	f.Fuzz(func(t *testing.T, status int, etag, load string, body []byte, sent string) {
		o := interpret(reply{status: status, etag: etag, load: load, body: body, sentETag: sent})
		switch o.kind {
		case outcomeGood:
			if _, _, err := parseLoad(load); err != nil {
				t.Fatalf("good outcome with a bad load header %q", load)
			}
			if status == 200 && o.table == nil || status != 200 && o.table != nil {
				t.Fatalf("status %d, table %v", status, o.table)
			}
			if o.etag != "" && !validETag(o.etag) {
				t.Fatalf("kept bad ETag %q", o.etag)
			}
		case outcomeForbidden, outcomeFailed:
			if o.err == nil {
				t.Fatal("failure without an error")
			}
			for _, c := range []byte(o.err.Error()) {
				if status == 403 && (c < 0x20 || c > 0x7e) {
					t.Fatalf("unprintable byte in the reason: %q", o.err)
				}
			}
		}
	})
}
