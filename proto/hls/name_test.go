package hls

import (
	"testing"
	"time"
)

func TestSegmentName(t *testing.T) {
	for _, tc := range []struct {
		start time.Time
		ms    int64
		want  string
	}{
		{time.Date(2024, 1, 2, 3, 4, 5, 999e6, time.UTC), 2000, "2024/01/02/03/04/05-02000.ts"},
		{time.Date(1999, 12, 31, 23, 59, 59, 0, time.FixedZone("x", 3600)), 7, "1999/12/31/22/59/59-00007.ts"},
		{time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), 123456, "2024/01/02/03/04/05-99999.ts"},
		{time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), -5, "2024/01/02/03/04/05-00000.ts"},
	} {
		if got := segmentName(tc.start, tc.ms); got != tc.want {
			t.Errorf("segmentName(%v, %d) = %s, want %s", tc.start, tc.ms, got, tc.want)
		}
	}
}

func TestSplitSegmentPath(t *testing.T) {
	for _, tc := range []struct {
		path, stream, segment string
		ok                    bool
	}{
		{"/a/b/2024/01/02/03/04/05-02000.ts", "a/b", "2024/01/02/03/04/05-02000.ts", true},
		{"/cam/2024/01/02/03/04/05-02000.ts", "cam", "2024/01/02/03/04/05-02000.ts", true},
		{"cam/2024/01/02/03/04/05-02000.ts", "cam", "2024/01/02/03/04/05-02000.ts", true},
		{"/2024/01/02/03/04/05-02000.ts", "", "", false},
		{"//2024/01/02/03/04/05-02000.ts", "", "", false},
		{"/a//2024/01/02/03/04/05-02000.ts", "", "", false},
		{"/a/2024/01/02/03/04/05-0200.ts", "", "", false},
		{"/a/2024/01/02/03/04/05-02000.m4s", "", "", false},
		{"/a/2024-01/02/03/04/05-02000.ts", "", "", false},
		{"/a/x024/01/02/03/04/05-02000.ts", "", "", false},
		{"/a/index.m3u8", "", "", false},
		{"", "", "", false},
	} {
		s, seg, ok := SplitSegmentPath(tc.path)
		if s != tc.stream || seg != tc.segment || ok != tc.ok {
			t.Errorf("SplitSegmentPath(%q) = %q, %q, %v", tc.path, s, seg, ok)
		}
	}
}

// FuzzSplitSegmentPath: no panics; accepted paths split into a non-empty
// stream and a segment name that round-trips.
func FuzzSplitSegmentPath(f *testing.F) {
	for _, s := range []string{
		"/a/b/2024/01/02/03/04/05-02000.ts", "/2024/01/02/03/04/05-02000.ts", "/", "",
		"//////////////////////////////", "/a/2024/01/02/03/04/05-02000.ts?x", "/\xff/2024/01/02/03/04/05-02000.ts",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		stream, seg, ok := SplitSegmentPath(path)
		if !ok {
			return
		}
		if stream == "" || !isSegmentName(seg) {
			t.Fatalf("%q -> %q %q", path, stream, seg)
		}
		if got := stream + "/" + seg; got != path && "/"+got != path {
			t.Fatalf("%q does not rejoin: %q", path, got)
		}
	})
}
