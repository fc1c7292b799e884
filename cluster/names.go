package cluster

import (
	"fmt"

	"github.com/livedge/livedge/engine"
)

// MaxServerNameLen bounds a server name (a host name's limit).
const MaxServerNameLen = 253

// ValidateServerName accepts a server's name in the cluster (the hostname
// directive, capture_at=, what a peer reports in its table). It is the
// config's rule for them, engine.ValidateHost: a host name, an IPv4 address
// or an IPv6 address in brackets. One rule on both sides, so a name a server
// may be configured with is never refused by its peers.
func ValidateServerName(name string) error {
	if err := engine.ValidateHost(name); err != nil {
		return fmt.Errorf("bad server name: %w", err)
	}
	return nil
}
