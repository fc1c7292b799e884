package engine

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestValidateStreamConfig(t *testing.T) {
	in := func(url string) []InputConfig { return []InputConfig{{URL: url}} }
	many := make([]InputConfig, MaxInputs+1)
	for i := range many {
		many[i] = InputConfig{URL: "udp://239.0.0.1:1"}
	}
	for _, tt := range []struct {
		cfg   StreamConfig
		field string
		code  string
		want  string
	}{
		{StreamConfig{Name: "ok", Inputs: in("udp://239.0.0.1:1"), SegmentDuration: 2000, ClusterIngest: &ClusterIngest{CaptureAt: "s1"}}, "", "", ""},
		{StreamConfig{Name: "../x", Inputs: in("udp://239.0.0.1:1")}, "[name]", CodeBadValue, "bad stream name"},
		{StreamConfig{Name: "a"}, "[inputs]", CodeMissing, "has no input"},
		{StreamConfig{Name: "a", Inputs: many}, "[inputs]", CodeBadValue, "at most 64"},
		{StreamConfig{Name: "a", Inputs: in("gopher://user:secret@h/x")}, "[inputs 0 url]", CodeBadURL, "bad input URL"},
		{StreamConfig{Name: "a", Inputs: []InputConfig{{URL: "udp://239.0.0.1:1", SourceTimeout: -1}}}, "[inputs 0 source_timeout]", CodeBadValue, "1 to 3600"},
		{StreamConfig{Name: "a", Inputs: in("udp://239.0.0.1:1"), SegmentDuration: 500}, "[segment_duration]", CodeBadValue, "1000 to 60000 (ms)"},
		{StreamConfig{Name: "a", Inputs: in("udp://239.0.0.1:1"), SegmentCount: 101}, "[segment_count]", CodeBadValue, "1 to 100"},
		{StreamConfig{Name: "a", Inputs: in("udp://239.0.0.1:1"), ClusterIngest: &ClusterIngest{CaptureAt: "a/b"}}, "[cluster_ingest capture_at]", CodeBadValue, "bad capture_at"},
	} {
		err := ValidateStreamConfig(&tt.cfg)
		if tt.code == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.cfg.Name, err)
			}
			continue
		}
		var se *StreamError
		if !errors.As(err, &se) || fmt.Sprint(se.Field) != tt.field || se.Code != tt.code || !strings.Contains(se.Msg, tt.want) {
			t.Errorf("%+v: got %#v, want %s %s %q", tt.cfg, err, tt.field, tt.code, tt.want)
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("credentials in %q", err)
		}
	}
}
