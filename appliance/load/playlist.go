package load

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// maxPlaylistSegments bounds how many segments of one playlist are kept; a
// live window is a handful, so more is a broken or VOD playlist.
const maxPlaylistSegments = 4096

var errPlaylist = errors.New("malformed m3u8 playlist")

// plSegment is one media segment of a playlist. uri points into the playlist
// body and is valid only while that body is.
type plSegment struct {
	seq      int64
	duration float64 // seconds, from EXTINF
	uri      []byte
}

// playlist is what a viewer needs from an m3u8: a master playlist yields the
// first variant, a media playlist its segments.
type playlist struct {
	variant        []byte  // first EXT-X-STREAM-INF URI of a master playlist
	targetDuration float64 // seconds
	mediaSeq       int64
	endList        bool
	segments       []plSegment
}

// parse reads an m3u8 body into pl, reusing pl's segment slice.
func (pl *playlist) parse(b []byte) error {
	segs := pl.segments[:0]
	*pl = playlist{segments: segs}
	line, rest := nextPlaylistLine(b)
	for len(line) == 0 && len(rest) > 0 {
		line, rest = nextPlaylistLine(rest)
	}
	if !bytes.HasPrefix(line, []byte("#EXTM3U")) {
		return fmt.Errorf("%w: no #EXTM3U header", errPlaylist)
	}
	var (
		duration   = -1.0 // EXTINF of the next URI
		streamInf  bool   // the next URI is a variant
		seqPending = true // EXT-X-MEDIA-SEQUENCE may still come
	)
	for len(rest) > 0 {
		line, rest = nextPlaylistLine(rest)
		switch {
		case len(line) == 0:
		case line[0] != '#':
			if streamInf {
				if pl.variant == nil {
					pl.variant = line
				}
				streamInf = false
				continue
			}
			seqPending = false
			if len(pl.segments) == maxPlaylistSegments {
				return fmt.Errorf("%w: more than %d segments", errPlaylist, maxPlaylistSegments)
			}
			d := duration
			if d < 0 {
				d = pl.targetDuration
			}
			pl.segments = append(pl.segments, plSegment{
				seq: pl.mediaSeq + int64(len(pl.segments)), duration: d, uri: line,
			})
			duration = -1
		case tagValue(line, "#EXTINF:") != nil:
			v := tagValue(line, "#EXTINF:")
			if i := bytes.IndexByte(v, ','); i >= 0 {
				v = v[:i]
			}
			d, err := parseSeconds(v)
			if err != nil {
				return fmt.Errorf("%w: EXTINF %q", errPlaylist, truncate(v))
			}
			duration = d
		case tagValue(line, "#EXT-X-TARGETDURATION:") != nil:
			d, err := parseSeconds(tagValue(line, "#EXT-X-TARGETDURATION:"))
			if err != nil {
				return fmt.Errorf("%w: %q", errPlaylist, truncate(line))
			}
			pl.targetDuration = d
		case tagValue(line, "#EXT-X-MEDIA-SEQUENCE:") != nil:
			n, ok := parseDecimal(tagValue(line, "#EXT-X-MEDIA-SEQUENCE:"))
			if !ok || !seqPending {
				return fmt.Errorf("%w: %q", errPlaylist, truncate(line))
			}
			pl.mediaSeq = n
		case bytes.Equal(line, []byte("#EXT-X-ENDLIST")):
			pl.endList = true
		case bytes.HasPrefix(line, []byte("#EXT-X-STREAM-INF:")):
			streamInf = true
		}
	}
	if pl.variant == nil && len(pl.segments) > 0 && pl.targetDuration <= 0 {
		return fmt.Errorf("%w: no EXT-X-TARGETDURATION", errPlaylist)
	}
	return nil
}

// nextPlaylistLine splits off one line without CR LF and surrounding blanks.
func nextPlaylistLine(b []byte) (line, rest []byte) {
	line, rest = cutLine(b)
	return bytes.Trim(line, " \t\r"), rest
}

// tagValue returns what follows tag on the line, or nil when the line is
// another tag. An empty value is returned as a non-nil empty slice.
func tagValue(line []byte, tag string) []byte {
	if len(line) < len(tag) || string(line[:len(tag)]) != tag {
		return nil
	}
	return line[len(tag):len(line):len(line)]
}

// parseSeconds reads a decimal number of seconds in [0, 1e6).
func parseSeconds(b []byte) (float64, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || len(b) > 32 {
		return 0, errPlaylist
	}
	for _, c := range b {
		if (c < '0' || c > '9') && c != '.' {
			return 0, errPlaylist
		}
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil || v >= 1e6 {
		return 0, errPlaylist
	}
	return v, nil
}
