package configext

import (
	"errors"
	"net/url"

	"github.com/livedge/livedge/engine"
)

// A backend's stream has to be one the config file could have defined: names
// and URLs are checked by the engine's shared rules.

// validateStream checks a stream config by the rules the config file's
// streams follow.
func validateStream(c *engine.StreamConfig) error {
	return engine.ValidateStreamConfig(c)
}

// checkBackendURL accepts the http or https URL of a config backend.
func checkBackendURL(s string) (*url.URL, error) {
	u, err := engine.ParseURL(s)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, errors.New("want an http:// or https:// URL")
	}
	if u.Host == "" {
		return nil, errors.New("missing host")
	}
	if u.Opaque != "" {
		return nil, errors.New("want scheme://host/path")
	}
	if err := engine.ValidateHostPort(u.Host); err != nil {
		return nil, err
	}
	return u, nil
}
