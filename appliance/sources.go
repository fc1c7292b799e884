package appliance

import (
	"fmt"
	"net/url"

	"github.com/livedge/livedge/engine"
	"github.com/livedge/livedge/proto/source"
	"github.com/livedge/livedge/proto/testsrc"
)

// openSource opens the source for an input URL by its scheme.
func openSource(in engine.InputConfig) (engine.Source, error) {
	u, err := url.Parse(in.URL)
	if err != nil {
		return nil, fmt.Errorf("input %q: %w", in.URL, err)
	}
	switch u.Scheme {
	case "testsrc":
		return testsrc.Open(in)
	case "udp", "http", "https", "file":
		return source.Open(in)
	}
	return nil, fmt.Errorf("input %q: scheme %q is not supported yet", in.URL, u.Scheme)
}
