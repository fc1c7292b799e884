package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestApplyEnv(t *testing.T) {
	base := func() *Config {
		c, err := Parse("t.conf", []byte("http 8080;\ncluster_key file;\npeer p1 { public pub1; }\nedit_auth a b;\n"))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tests := []struct {
		name    string
		environ []string
		check   func(*Config) bool
	}{
		{"http replaces", []string{"STREAMER_HTTP=8081"}, func(c *Config) bool { return reflect.DeepEqual(c.HTTP, []string{"8081"}) }},
		{"http list", []string{"STREAMER_HTTP= 8081, 127.0.0.1:8082  [::1]:8083"}, func(c *Config) bool {
			return reflect.DeepEqual(c.HTTP, []string{"8081", "127.0.0.1:8082", "[::1]:8083"})
		}},
		{"cluster key", []string{"STREAMER_CLUSTER_KEY=k:e=y"}, func(c *Config) bool { return c.ClusterKey == "k:e=y" }},
		{"auth colon", []string{"STREAMER_EDIT_AUTH=admin:p:w d"}, func(c *Config) bool { return *c.EditAuth == Auth{"admin", "p:w d"} }},
		{"auth space", []string{"STREAMER_VIEW_AUTH=viewer pa:ss"}, func(c *Config) bool { return *c.ViewAuth == Auth{"viewer", "pa:ss"} }},
		{"config external", []string{"STREAMER_CONFIG_EXTERNAL=https://backend/conf"}, func(c *Config) bool { return c.ConfigExternal == "https://backend/conf" }},
		{"limits", []string{"STREAMER_MAX_CONNECTIONS=9000", "STREAMER_MAX_CONNECTIONS_PER_IP=0", "STREAMER_MEMORY_POOL=2G",
			"STREAMER_HTTP_HEADER_TIMEOUT=3", "STREAMER_HTTP_IDLE_TIMEOUT=30"}, func(c *Config) bool {
			return c.MaxConnections == 9000 && c.MaxConnectionsPerIP != nil && *c.MaxConnectionsPerIP == 0 &&
				c.MemoryPool == 2<<30 && c.HTTPHeaderTimeout == 3 && c.HTTPIdleTimeout == 30
		}},
		{"peers replace", []string{"STREAMER_PEER=a:80,b"}, func(c *Config) bool { return reflect.DeepEqual(c.Peers, []Peer{{Host: "a:80"}, {Host: "b"}}) }},
		{"empty is unset", []string{"STREAMER_HTTP=", "STREAMER_CLUSTER_KEY= "}, func(c *Config) bool {
			return reflect.DeepEqual(c, base())
		}},
		{"first wins", []string{"STREAMER_CLUSTER_KEY=one", "STREAMER_CLUSTER_KEY=two"}, func(c *Config) bool { return c.ClusterKey == "one" }},
		{"unknown and unrelated ignored", []string{"STREAMER_FOO=1", "HTTP=1", "PATH=/bin", "STREAMER_HTTP_X=bad", "noequals"}, func(c *Config) bool {
			return reflect.DeepEqual(c, base())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			if err := c.ApplyEnv(tt.environ); err != nil {
				t.Fatalf("ApplyEnv: %v", err)
			}
			if !tt.check(c) {
				t.Errorf("config after ApplyEnv: %+v", c)
			}
			if err := c.Validate(); err != nil {
				t.Errorf("Validate after ApplyEnv: %v", err)
			}
		})
	}
}

func TestApplyEnvErrors(t *testing.T) {
	tests := []string{
		"STREAMER_HTTP=8080 99999",
		"STREAMER_HTTP=8080,8080",
		"STREAMER_HTTP=::1:80",
		"STREAMER_CLUSTER_KEY=a\x01",
		"STREAMER_EDIT_AUTH=justuser",
		"STREAMER_EDIT_AUTH=:pass",
		"STREAMER_VIEW_AUTH=user:",
		"STREAMER_CONFIG_EXTERNAL=ftp://x",
		"STREAMER_CONFIG_EXTERNAL=backend:80",
		"STREAMER_PEER=a,-b",
		"STREAMER_PEER=a a",
		"STREAMER_MAX_CONNECTIONS=0",
		"STREAMER_MAX_CONNECTIONS_PER_IP=-1",
		"STREAMER_MEMORY_POOL=512",
		"STREAMER_HTTP_HEADER_TIMEOUT=1s",
		"STREAMER_HTTP_IDLE_TIMEOUT=99999",
	}
	for _, kv := range tests {
		name, _, _ := strings.Cut(kv, "=")
		// A good variable before the bad one must not stick either.
		good := "STREAMER_HTTP=9999"
		if name == "STREAMER_HTTP" {
			good = "STREAMER_CLUSTER_KEY=ok"
		}
		c := &Config{HTTP: []string{"1"}}
		err := c.ApplyEnv([]string{good, kv})
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("ApplyEnv(%q) = %v, want an error naming %s", kv, err, name)
			continue
		}
		if !reflect.DeepEqual(c, &Config{HTTP: []string{"1"}}) {
			t.Errorf("ApplyEnv(%q) changed the config on error: %+v", kv, c)
		}
	}
}
