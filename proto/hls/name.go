package hls

import "time"

// Segment names follow Flussonic: YYYY/MM/DD/HH/MM/SS-DDDDD.ts, the UTC wall
// time of the segment's start and its duration in milliseconds.

// segmentNameLen is the fixed length of a segment name.
const segmentNameLen = len("2006/01/02/15/04/05-00000.ts")

// maxNameDuration is the largest duration a name can carry (5 digits of ms).
const maxNameDuration = 99999

// segmentName formats the name of a segment.
func segmentName(start time.Time, durationMs int64) string {
	var b [segmentNameLen]byte
	putSegmentName(&b, start, durationMs)
	return string(b[:])
}

// putSegmentName formats the name of a segment into b.
func putSegmentName(b *[segmentNameLen]byte, start time.Time, durationMs int64) {
	durationMs = min(max(durationMs, 0), maxNameDuration)
	t := start.UTC()
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	put := func(at, width, v int) {
		for i := at + width - 1; i >= at; i-- {
			b[i] = byte('0' + v%10)
			v /= 10
		}
	}
	put(0, 4, y%10000)
	b[4] = '/'
	put(5, 2, int(mo))
	b[7] = '/'
	put(8, 2, d)
	b[10] = '/'
	put(11, 2, h)
	b[13] = '/'
	put(14, 2, mi)
	b[16] = '/'
	put(17, 2, s)
	b[19] = '-'
	put(20, 5, int(durationMs))
	copy(b[25:], ".ts")
}

// isSegmentName checks the layout of a segment name: digits where the
// format has digits, separators where it has separators.
func isSegmentName(s string) bool {
	const layout = "dddd/dd/dd/dd/dd/dd-ddddd.ts"
	if len(s) != len(layout) {
		return false
	}
	for i := 0; i < len(layout); i++ {
		if layout[i] == 'd' {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		} else if s[i] != layout[i] {
			return false
		}
	}
	return true
}

// SplitSegmentPath splits a request path into the stream name and the
// segment name: "/a/b/2024/01/02/03/04/05-02000.ts" gives ("a/b",
// "2024/01/02/03/04/05-02000.ts"). ok is false when the path does not end
// in a segment name or names no stream.
func SplitSegmentPath(path string) (stream, segment string, ok bool) {
	if len(path) > 0 && path[0] == '/' {
		path = path[1:]
	}
	if len(path) < segmentNameLen+2 || path[len(path)-segmentNameLen-1] != '/' {
		return "", "", false
	}
	stream, segment = path[:len(path)-segmentNameLen-1], path[len(path)-segmentNameLen:]
	if !isSegmentName(segment) || stream[0] == '/' || stream[len(stream)-1] == '/' {
		return "", "", false
	}
	return stream, segment, true
}
