package cluster

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/livedge/livedge/engine"
)

// The stream table a server answers on TablePath, as JSON:
//
//	{"hostname":"edge1","public":"edge1.example.com:8080",
//	 "running":["cam1"],"startable":["cam1","tv/2"]}
//
//   - hostname: the server's name in the cluster (its Self); required.
//   - public: HOST[:PORT] viewers reach it at; omitted when unknown.
//   - running: the streams running there now;
//   - startable: the streams configured there, which would start for a
//     viewer (a stream may be in both lists).
//
// Each list is sorted (byte order) with each name once. Lists of names
// rather than an object per stream halve the cost of decoding a table of
// 10,000 streams; later per-stream facts come as more lists or maps.
//
// A reader rejects a table over MaxTableBytes, with trailing data, a
// missing or invalid hostname, an invalid public, an invalid stream name
// (engine.ValidateStreamName) or a list out of order or with a name twice.
// Unknown fields are ignored, so a newer server may add some.

// MaxTableBytes bounds a table a peer sends: about 200,000 streams named in
// both lists with 20 characters each. A larger answer is an error, and the
// previous table is kept until the peer goes stale.
const MaxTableBytes = 8 << 20

type wireTable struct {
	Hostname  string   `json:"hostname"`
	Public    string   `json:"public,omitempty"`
	Running   []string `json:"running"`
	Startable []string `json:"startable"`
}

// streamFlags is what a peer can do for a stream.
type streamFlags uint8

const (
	flagRunning streamFlags = 1 << iota
	flagStartable
)

// peerTable is a parsed, validated table; immutable once made.
type peerTable struct {
	name, public string
	streams      map[string]streamFlags
	// running counts streams running, the map holds all of them.
	running int
}

// encodeTable is this server's table. streams must be sorted, unique and
// valid (normalizeStreams makes them so).
func encodeTable(self, public string, streams []LocalStream) ([]byte, error) {
	w := wireTable{Hostname: self, Public: public, Running: []string{}, Startable: []string{}}
	for _, s := range streams {
		if s.Running {
			w.Running = append(w.Running, s.Name)
		}
		if s.Startable {
			w.Startable = append(w.Startable, s.Name)
		}
	}
	body, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encoding the stream table: %w", err)
	}
	return body, nil
}

// normalizeStreams is a copy of streams as the table lists them: sorted,
// each name once (flags merged), only those running or startable, and only
// valid names: one bad name must not make peers reject the whole table.
func normalizeStreams(streams []LocalStream) []LocalStream {
	out := make([]LocalStream, 0, len(streams))
	for _, s := range streams {
		if (s.Running || s.Startable) && engine.ValidateStreamName(s.Name) == nil {
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b LocalStream) int { return cmp.Compare(a.Name, b.Name) })
	merged := out[:0]
	for _, s := range out {
		if n := len(merged); n > 0 && merged[n-1].Name == s.Name {
			merged[n-1].Running = merged[n-1].Running || s.Running
			merged[n-1].Startable = merged[n-1].Startable || s.Startable
			continue
		}
		merged = append(merged, s)
	}
	return merged
}

// parseTable reads a peer's table: untrusted input.
func parseTable(body []byte) (*peerTable, error) {
	if len(body) > MaxTableBytes {
		return nil, fmt.Errorf("table is larger than %d bytes", MaxTableBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var w wireTable
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("table is not valid JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("table has data after its JSON object")
	}
	if err := ValidateServerName(w.Hostname); err != nil {
		return nil, fmt.Errorf("table hostname %s: %w", engine.QuoteShort(w.Hostname), err)
	}
	if w.Public != "" {
		if err := engine.ValidateHostPort(w.Public); err != nil {
			return nil, fmt.Errorf("table public %s: %w", engine.QuoteShort(w.Public), err)
		}
	}
	t := &peerTable{name: w.Hostname, public: w.Public, streams: make(map[string]streamFlags, max(len(w.Running), len(w.Startable)))}
	if err := addStreams(t.streams, "running", w.Running, flagRunning); err != nil {
		return nil, err
	}
	if err := addStreams(t.streams, "startable", w.Startable, flagStartable); err != nil {
		return nil, err
	}
	t.running = len(w.Running)
	return t, nil
}

// addStreams validates one list of a table and sets flag on its names.
func addStreams(streams map[string]streamFlags, list string, names []string, flag streamFlags) error {
	for i, name := range names {
		if err := engine.ValidateStreamName(name); err != nil {
			return fmt.Errorf("table %s[%d] %s: %w", list, i, engine.QuoteShort(name), err)
		}
		if i > 0 && name <= names[i-1] {
			return fmt.Errorf("table %s[%d] %s: names not sorted or repeated", list, i, engine.QuoteShort(name))
		}
		streams[name] |= flag
	}
	return nil
}

// tableETag names a table body: the first 8 bytes of its SHA-256 in hex,
// quoted. Equal tables have equal tags on every server.
func tableETag(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + hex.EncodeToString(sum[:8]) + `"`
}

// validETag accepts what a peer may send back in If-None-Match: 1 to 128
// visible ASCII characters.
func validETag(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// etagMatches tells whether an If-None-Match value names etag: the exact tag
// or one of a comma-separated list. No allocation: it runs on the event loop.
func etagMatches(ifNoneMatch, etag string) bool {
	if ifNoneMatch == "" {
		return false
	}
	for rest := ifNoneMatch; ; {
		tag, more, found := cutByte(rest, ',')
		if trimSpaces(tag) == etag {
			return true
		}
		if !found {
			return false
		}
		rest = more
	}
}

func cutByte(s string, sep byte) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func trimSpaces(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
