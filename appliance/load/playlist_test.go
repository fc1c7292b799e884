package load

import (
	"errors"
	"strings"
	"testing"
)

func TestPlaylistMedia(t *testing.T) {
	in := "#EXTM3U\r\n#EXT-X-VERSION:3\r\n#EXT-X-TARGETDURATION:4\r\n#EXT-X-MEDIA-SEQUENCE:1700000000\r\n" +
		"#EXT-X-DISCONTINUITY-SEQUENCE:2\r\n" +
		"#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:00.000Z\r\n#EXTINF:3.840,\r\n1700000000.ts\r\n" +
		"#EXT-X-DISCONTINUITY\r\n#EXTINF:4,title\r\nhttp://other/x.ts?a=1\r\n" +
		"  \r\nnoinf.ts\r\n#EXT-X-ENDLIST\r\n"
	var pl playlist
	if err := pl.parse([]byte(in)); err != nil {
		t.Fatal(err)
	}
	if pl.variant != nil || pl.targetDuration != 4 || pl.mediaSeq != 1700000000 || !pl.endList || len(pl.segments) != 3 {
		t.Fatalf("%+v", pl)
	}
	for i, want := range []plSegment{
		{1700000000, 3.84, []byte("1700000000.ts")},
		{1700000001, 4, []byte("http://other/x.ts?a=1")},
		{1700000002, 4, []byte("noinf.ts")},
	} {
		got := pl.segments[i]
		if got.seq != want.seq || got.duration != want.duration || string(got.uri) != string(want.uri) {
			t.Errorf("segment %d: %+v (%s), want %+v (%s)", i, got, got.uri, want, want.uri)
		}
	}
}

func TestPlaylistMaster(t *testing.T) {
	in := "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=1x1\ntracks-v1a1/mono.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2\nb.m3u8\n"
	var pl playlist
	if err := pl.parse([]byte(in)); err != nil {
		t.Fatal(err)
	}
	if string(pl.variant) != "tracks-v1a1/mono.m3u8" || len(pl.segments) != 0 {
		t.Errorf("%+v", pl)
	}
}

func TestPlaylistErrors(t *testing.T) {
	for _, in := range []string{
		"",
		"<html>",
		"#EXTM3U\n#EXTINF:abc,\na.ts\n",
		"#EXTM3U\n#EXT-X-TARGETDURATION:x\n",
		"#EXTM3U\n#EXTINF:1,\na.ts\n", // no target duration
		"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\na.ts\n#EXT-X-MEDIA-SEQUENCE:5\n",
		"#EXTM3U\n#EXT-X-TARGETDURATION:1\n" + strings.Repeat("a.ts\n", maxPlaylistSegments+1),
	} {
		var pl playlist
		if err := pl.parse([]byte(in)); !errors.Is(err, errPlaylist) {
			t.Errorf("%.60q: err %v", in, err)
		}
	}
}
