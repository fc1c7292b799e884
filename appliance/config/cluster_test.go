package config

import (
	"reflect"
	"strings"
	"testing"

	"github.com/livedge/livedge/engine"
)

const clusterConf = `hostname s1.local;
public s1.example.com:8080;
cluster_key secret;
cluster_balance usage;
max_bitrate 10G;
peer 10.0.0.2:8080;
peer s3.local {
  public s3.example.com:443;
  fetch_timeout 500;
  stale_timeout 2s;
  max_bitrate 800M;
}
stream a {
  input publish://;
  cluster_ingest;
}
stream b {
  input publish://;
  cluster_ingest capture_at=s3.local;
}
`

var clusterModel = &Config{
	Hostname:       "s1.local",
	Public:         "s1.example.com:8080",
	ClusterKey:     "secret",
	ClusterBalance: "usage",
	MaxBitrate:     10_000_000_000,
	Peers: []Peer{
		{Host: "10.0.0.2:8080"},
		{Host: "s3.local", Public: "s3.example.com:443", FetchTimeout: 500, StaleTimeout: 2000, MaxBitrate: 800_000_000},
	},
	Streams: []engine.StreamConfig{
		{Name: "a", Inputs: []engine.InputConfig{{URL: "publish://"}}, ClusterIngest: &engine.ClusterIngest{}},
		{Name: "b", Inputs: []engine.InputConfig{{URL: "publish://"}}, ClusterIngest: &engine.ClusterIngest{CaptureAt: "s3.local"}},
	},
}

func TestParseCluster(t *testing.T) {
	got, err := Parse("c.conf", []byte(clusterConf))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, clusterModel) {
		t.Fatalf("Parse =\n%+v\nwant\n%+v", got, clusterModel)
	}
	back, err := Parse("f.conf", got.Format())
	if err != nil {
		t.Fatalf("Parse(Format()): %v\n%s", err, got.Format())
	}
	if !reflect.DeepEqual(back, clusterModel) {
		t.Fatalf("round trip changed the config:\n%s", got.Format())
	}
}

func TestParseClusterUnits(t *testing.T) {
	for _, tt := range []struct {
		src  string
		want Peer
	}{
		{"peer h { fetch_timeout 250ms; }", Peer{Host: "h", FetchTimeout: 250}},
		{"peer h { fetch_timeout 1s; stale_timeout 1m; }", Peer{Host: "h", FetchTimeout: 1000, StaleTimeout: 60000}},
		{"peer h { max_bitrate 1500k; }", Peer{Host: "h", MaxBitrate: 1_500_000}},
		{"peer h { max_bitrate 2T; }", Peer{Host: "h", MaxBitrate: 2_000_000_000_000}},
	} {
		got, err := Parse("u.conf", []byte(tt.src))
		if err != nil {
			t.Errorf("%s: %v", tt.src, err)
			continue
		}
		if !reflect.DeepEqual(got.Peers, []Peer{tt.want}) {
			t.Errorf("%s: got %+v", tt.src, got.Peers)
		}
	}
}

func TestParseClusterErrors(t *testing.T) {
	for _, tt := range []struct{ src, want string }{
		{"cluster_balance random;", "e.conf:1:17: bad cluster_balance: balance mode \"random\" is not clients, bitrate or usage"},
		{"max_bitrate 10X;", "e.conf:1:13: max_bitrate must be"},
		{"max_bitrate 0;", "e.conf:1:13: max_bitrate must be"},
		{"peer h {\n fetch_timeout 10ms;\n}", "e.conf:2:16: fetch_timeout must be 50ms to 60s"},
		{"peer h { stale_timeout 2h; }", "e.conf:1:24: stale_timeout must be"},
		{"peer h { max_bitrate 1G; max_bitrate 2G; }", "e.conf:1:26: duplicate max_bitrate"},
		{"peer h { weight 3; }", "e.conf:1:10: unknown directive"},
		{"hostname -bad-;", "e.conf:1:10: bad hostname"},
		{"public a/b;", "e.conf:1:8: bad public address"},
		{"stream a { input publish://; cluster_ingest; cluster_ingest; }", "e.conf:1:46: duplicate cluster_ingest"},
		{"stream a { input publish://; cluster_ingest at=x; }", "e.conf:1:45: expected capture_at=HOST"},
		{"stream a { input publish://; cluster_ingest capture_at=; }", "e.conf:1:56: capture_at must not be empty"},
		{"stream a { input publish://; cluster_ingest capture_at=a/b; }", "e.conf:1:56: bad capture_at"},
		{"stream a { input publish://; cluster_ingest capture_at=x capture_at=y; }", "e.conf:1:58: too many arguments"},
	} {
		_, err := Parse("e.conf", []byte(tt.src))
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.src, err, tt.want)
		}
	}
}

func TestClusterEnv(t *testing.T) {
	c := &Config{}
	if err := c.ApplyEnv([]string{"STREAMER_HOSTNAME=edge-7"}); err != nil || c.Hostname != "edge-7" {
		t.Fatalf("hostname from env: %q, %v", c.Hostname, err)
	}
	if err := c.ApplyEnv([]string{"STREAMER_HOSTNAME=a b"}); err == nil {
		t.Fatal("a bad STREAMER_HOSTNAME was accepted")
	}
}
