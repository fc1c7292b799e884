package configext

import (
	"strings"
	"testing"
)

// A backend's cluster_ingest reaches the stream config; a bad capture_at
// rejects that stream alone.
func TestClusterIngestFromBackend(t *testing.T) {
	p, err := parsePage([]byte(`{"streams":[
		{"name":"a","inputs":[{"url":"udp://239.0.0.1:1"}],"cluster_ingest":{}},
		{"name":"b","inputs":[{"url":"udp://239.0.0.1:2"}],"cluster_ingest":{"capture_at":"s2.local"}},
		{"name":"c","inputs":[{"url":"udp://239.0.0.1:3"}],"cluster_ingest":{"capture_at":"a/b"}},
		{"name":"d","inputs":[{"url":"udp://239.0.0.1:4"}],"cluster_ingest":null}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.entries) != 4 {
		t.Fatalf("%d entries", len(p.entries))
	}
	a, b, c, d := p.entries[0], p.entries[1], p.entries[2], p.entries[3]
	if a.err != nil || a.cfg.ClusterIngest == nil || a.cfg.ClusterIngest.CaptureAt != "" {
		t.Errorf("a: %+v", a)
	}
	if b.err != nil || b.cfg.ClusterIngest == nil || b.cfg.ClusterIngest.CaptureAt != "s2.local" {
		t.Errorf("b: %+v", b)
	}
	if c.err == nil || !strings.Contains(c.err.Error(), "capture_at") {
		t.Errorf("c: %+v", c)
	}
	if d.err != nil || d.cfg.ClusterIngest != nil {
		t.Errorf("d: %+v", d)
	}
}
