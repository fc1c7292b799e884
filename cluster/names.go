package cluster

import (
	"fmt"

	"github.com/livedge/livedge/engine"
)

// MaxServerNameLen bounds a server name (a host name's limit).
const MaxServerNameLen = 253

// ValidateServerName accepts a server's name in the cluster (the hostname
// directive, capture_at=, what a peer reports): 1 to 253 characters of
// [A-Za-z0-9_.-:].
func ValidateServerName(name string) error {
	if name == "" || len(name) > MaxServerNameLen {
		return fmt.Errorf("server name must be 1 to %d characters", MaxServerNameLen)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !engine.IsNameChar(c) && c != ':' {
			return fmt.Errorf("character %q not allowed in a server name (use A-Z a-z 0-9 _ . - :)", c)
		}
	}
	return nil
}
