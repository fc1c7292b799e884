package configext

import (
	"reflect"
	"testing"
	"time"

	"github.com/livedge/livedge/engine"
)

func FuzzParsePage(f *testing.F) {
	for _, seed := range []string{
		`{"streams":[]}`,
		`{"streams":[{"name":"a","inputs":[{"url":"udp://239.0.0.1:1234","source_timeout":3}],"static":false,"segment_duration":2000}],"next":"c1"}`,
		`{"streams":[{"name":"a/b","inputs":[{"url":"rtsp://user:pw@10.0.0.5/s"}],"dvr":{"root":"/storage","episodes_url":""}},{"name":"x","disabled":true}],"next":12}`,
		`{"streams":[{"name":"bad","inputs":[{"url":"gopher://x"}]},{"name":"../x"},7,null,{"name":"n","segment_count":"six"}]}`,
		`{"streams":[{"name":"t","inputs":[{"url":"testsrc://?x=1"}],"transcoder":{"vb":"1000k"},"pushes":[{"url":"rtmp://h/a"}],"dvr":{"episodes_url":"http://k@h/episodes"}}],"next":null}`,
		`{"streams":null}`, `null`, `[]`, `{"streams":[],"next":{}}`, `{"streams":[{"NAME":"a","Inputs":[{"URL":"file:///x"}]}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parsePage(data)
		if err != nil {
			if len(p.entries) != 0 {
				t.Fatal("entries with an error")
			}
			return
		}
		// The one-pass decoding and the per-stream one agree.
		if slow, err := parsePageByStream(data); err != nil || !samePage(p, slow) {
			t.Fatalf("per-stream decoding differs: %v", err)
		}
		if len(p.next) > maxCursorLen {
			t.Fatalf("cursor of %d bytes", len(p.next))
		}
		for _, e := range p.entries {
			if engine.ValidateStreamName(e.name) != nil {
				t.Fatalf("entry with bad name %q", e.name)
			}
			if e.err != nil || e.disabled {
				if len(e.cfg.Inputs) != 0 {
					t.Fatalf("rejected entry %q keeps a config", e.name)
				}
				continue
			}
			if e.cfg.Name != e.name {
				t.Fatalf("name %q vs %q", e.cfg.Name, e.name)
			}
			if err := validateStream(&e.cfg); err != nil {
				t.Fatalf("accepted invalid stream: %v", err)
			}
			if e.episodes != nil && *e.episodes != "" {
				if _, err := checkBackendURL(*e.episodes); err != nil {
					t.Fatalf("accepted bad episodes_url: %v", err)
				}
			}
		}
	})
}

func FuzzParseEpisodes(f *testing.F) {
	for _, seed := range []string{
		`{"episodes":[]}`,
		`{"episodes":[{"opened_at":1700000000000,"closed_at":1700000600000,"updated_at":1700000600000}],"next":"p2"}`,
		`{"episodes":[{"opened_at":1700000000000.5,"updated_at":1700000000000,"media":"a","episode_id":1}]}`,
		`{"episodes":[{"opened_at":1}]}`, `{"episodes":[{"opened_at":"1700000000000"}]}`, `{}`, `x`,
	} {
		f.Add([]byte(seed))
	}
	end := time.UnixMilli(1800000000000)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parseEpisodes(data, end)
		if err != nil {
			return
		}
		for _, r := range p.ranges {
			if r.To.Before(r.From) {
				t.Fatalf("range %v ends before it starts", r)
			}
			if r.From.UnixMilli() < minEpisodeMS || r.From.UnixMilli() > maxEpisodeMS {
				t.Fatalf("range %v out of bounds", r)
			}
		}
	})
}

func samePage(a, b page) bool {
	if a.next != b.next || len(a.entries) != len(b.entries) || len(a.rejected) != len(b.rejected) {
		return false
	}
	for i := range a.entries {
		x, y := a.entries[i], b.entries[i]
		if x.name != y.name || x.disabled != y.disabled || (x.err == nil) != (y.err == nil) ||
			!reflect.DeepEqual(x.cfg, y.cfg) || !reflect.DeepEqual(x.episodes, y.episodes) {
			return false
		}
	}
	return true
}
