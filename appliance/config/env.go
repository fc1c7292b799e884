package config

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/livedge/livedge/engine"
)

const envPrefix = "STREAMER_"

// ApplyEnv overrides global options with STREAMER_<OPTION> variables from
// environ ("KEY=VALUE" entries, as os.Environ returns). A variable replaces
// the file's value: STREAMER_HTTP and STREAMER_PEER take a space or comma
// separated list, STREAMER_EDIT_AUTH and STREAMER_VIEW_AUTH "user:pass" or
// "user pass", STREAMER_HOSTNAME, STREAMER_CLUSTER_KEY, STREAMER_CONFIG_EXTERNAL,
// STREAMER_MAX_CONNECTIONS, STREAMER_MAX_CONNECTIONS_PER_IP,
// STREAMER_MEMORY_POOL, STREAMER_HTTP_HEADER_TIMEOUT and
// STREAMER_HTTP_IDLE_TIMEOUT one value, written as in the file.
// Empty variables count as unset, the first of duplicates wins (as with
// os.Getenv), and unknown STREAMER_* names are ignored. On error c is unchanged.
func (c *Config) ApplyEnv(environ []string) error {
	next := *c
	seen := make(map[string]bool)
	for _, kv := range environ {
		key, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(key, envPrefix) || seen[key] {
			continue
		}
		seen[key] = true
		value = strings.TrimSpace(value)
		if value == "" {
			continue
		}
		if err := next.applyEnvVar(key, value); err != nil {
			return fmt.Errorf("environment variable %s: %w", key, err)
		}
	}
	*c = next
	return nil
}

func (c *Config) applyEnvVar(key, value string) error {
	switch key {
	case "STREAMER_HTTP":
		specs := envList(value)
		for i, s := range specs {
			if err := checkListen(s); err != nil {
				return fmt.Errorf("bad listen spec %s: %w", engine.QuoteShort(s), err)
			}
			for _, prev := range specs[:i] {
				if prev == s {
					return fmt.Errorf("duplicate listen spec %s", engine.QuoteShort(s))
				}
			}
		}
		c.HTTP = specs
	case "STREAMER_PEER":
		var peers []Peer
		for i, h := range envList(value) {
			if err := engine.ValidateHostPort(h); err != nil {
				return fmt.Errorf("bad peer %s: %w", engine.QuoteShort(h), err)
			}
			for _, prev := range peers[:i] {
				if prev.Host == h {
					return fmt.Errorf("duplicate peer %s", engine.QuoteShort(h))
				}
			}
			peers = append(peers, Peer{Host: h})
		}
		c.Peers = peers
	case "STREAMER_HOSTNAME":
		if err := engine.ValidateHost(value); err != nil {
			return fmt.Errorf("bad hostname %s: %w", engine.QuoteShort(value), err)
		}
		c.Hostname = value
	case "STREAMER_CLUSTER_KEY":
		if err := checkText(value); err != nil {
			return err
		}
		c.ClusterKey = value
	case "STREAMER_EDIT_AUTH":
		return setEnvAuth(&c.EditAuth, "edit_auth", value)
	case "STREAMER_VIEW_AUTH":
		return setEnvAuth(&c.ViewAuth, "view_auth", value)
	case "STREAMER_MAX_CONNECTIONS":
		return setEnvNumber(&c.MaxConnections, maxConnectionsRule, value)
	case "STREAMER_MAX_CONNECTIONS_PER_IP":
		n, err := maxConnectionsPerIPRule.parse(value)
		if err != nil {
			return err
		}
		c.MaxConnectionsPerIP = &n
	case "STREAMER_MEMORY_POOL":
		n, err := memoryPoolRule.parse(value)
		if err != nil {
			return err
		}
		c.MemoryPool = n
	case "STREAMER_HTTP_HEADER_TIMEOUT":
		return setEnvNumber(&c.HTTPHeaderTimeout, httpHeaderTimeoutRule, value)
	case "STREAMER_HTTP_IDLE_TIMEOUT":
		return setEnvNumber(&c.HTTPIdleTimeout, httpIdleTimeoutRule, value)
	case "STREAMER_CONFIG_EXTERNAL":
		if err := checkBackendURL(value); err != nil {
			return fmt.Errorf("bad URL %s: %w", engine.QuoteShort(value), err)
		}
		c.ConfigExternal = value
	}
	return nil
}

// setEnvAuth parses "user:pass" (the password may hold ':' and spaces) or
// "user pass".
func setEnvAuth(dst **Auth, name, value string) error {
	var a Auth
	if f := strings.Fields(value); len(f) == 2 && !strings.Contains(f[0], ":") {
		a = Auth{User: f[0], Password: f[1]}
	} else if user, pass, ok := strings.Cut(value, ":"); ok {
		a = Auth{User: user, Password: pass}
	} else {
		return errors.New(`want "user:pass" or "user pass"`)
	}
	if err := checkAuth(&a, name); err != nil {
		return errors.New(err.Msg)
	}
	*dst = &a
	return nil
}

func setEnvNumber(dst *int, rule intRule, value string) error {
	n, err := rule.parse(value)
	if err != nil {
		return err
	}
	*dst = n
	return nil
}

func envList(value string) []string {
	return strings.FieldsFunc(value, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
}
