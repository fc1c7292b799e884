package hls

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livedge/livedge/engine"
	"github.com/livedge/livedge/proto/mpegts"
)

var testTracks = []engine.Track{{Codec: engine.CodecH264}, {Codec: engine.CodecAAC, Config: []byte{0x11, 0x90}}}

var testStart = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// testClockDTS is the media time the fake wall clock shows (as if the
// stream ran in real time from testStart); only the writer touches it.
var testClockDTS int64

func testNow() time.Time {
	return testStart.Add(time.Duration(testClockDTS) * time.Second / engine.Timescale)
}

// testFeed writes seconds of synthetic 25 fps video (a keyframe every gop
// frames) with 48 kHz AAC, starting at DTS from, and returns the DTS after.
// The muxer does not parse NALs, so fake ones do.
func testFeed(c *mpegts.Chunker, from int64, seconds float64, gop int) int64 {
	const step = 3600
	n := int(seconds * 25)
	audio := from
	for i := range n {
		dts := from + int64(i)*step
		testClockDTS = dts
		nal := bytes.Repeat([]byte{0x41 | 0x80}, 800)
		if i%gop == 0 {
			nal = bytes.Repeat([]byte{0xE5}, 4000)
			nal[0] = 0x65
		}
		c.WriteFrame(&engine.Frame{Track: 0, DTS: dts, PTS: dts, Key: i%gop == 0, Data: [][]byte{nal}})
		for ; audio < dts+step; audio += 1920 {
			c.WriteFrame(&engine.Frame{Track: 1, DTS: audio, PTS: audio, Key: true, Data: [][]byte{bytes.Repeat([]byte{0xA1}, 200)}})
		}
	}
	return from + int64(n)*step
}

// testSetup makes a chunker whose wall clock follows media time exactly (as
// in a real-time stream) and an HLS packager on it.
func testSetup(target time.Duration, count int) (*mpegts.Chunker, *Packager) {
	testClockDTS = 0
	c := mpegts.NewChunker(mpegts.ChunkerOptions{Now: testNow})
	p := New(c, target, count)
	c.SetTracks(testTracks)
	return c, p
}

func testPlaylist(t *testing.T, p *Packager) string {
	t.Helper()
	pl, ok := p.Playlist()
	if !ok {
		t.Fatal("no playlist")
	}
	return string(pl)
}

func TestPlaylist(t *testing.T) {
	c, p := testSetup(2*time.Second, 3)
	if _, ok := p.Playlist(); ok {
		t.Fatal("playlist before any segment")
	}
	select {
	case <-p.Ready():
		t.Fatal("ready before any segment")
	default:
	}
	testFeed(c, 0, 2.5, 25)
	<-p.Ready()
	want := "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n" +
		"#EXT-X-PROGRAM-DATE-TIME:2024-01-02T03:04:05.000Z\n#EXTINF:2.000,\n2024/01/02/03/04/05-02000.ts\n"
	if got := testPlaylist(t, p); got != want {
		t.Fatalf("playlist:\n%s\nwant:\n%s", got, want)
	}

	// Feeding up to 20 s: 9 more complete segments, the window keeps 3.
	c2, p2 := testSetup(2*time.Second, 3)
	testFeed(c2, 0, 20.5, 25)
	got := testPlaylist(t, p2)
	want = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n" +
		"#EXT-X-PROGRAM-DATE-TIME:2024-01-02T03:04:19.000Z\n#EXTINF:2.000,\n2024/01/02/03/04/19-02000.ts\n" +
		"#EXT-X-PROGRAM-DATE-TIME:2024-01-02T03:04:21.000Z\n#EXTINF:2.000,\n2024/01/02/03/04/21-02000.ts\n" +
		"#EXT-X-PROGRAM-DATE-TIME:2024-01-02T03:04:23.000Z\n#EXTINF:2.000,\n2024/01/02/03/04/23-02000.ts\n"
	if got != want {
		t.Fatalf("playlist:\n%s\nwant:\n%s", got, want)
	}
	// The 3 segments before the window stay fetchable, older ones do not.
	for sec, fetchable := range map[int]bool{17: true, 15: true, 13: true, 11: false, 23: true} {
		name := fmt.Sprintf("2024/01/02/03/04/%02d-02000.ts", sec)
		body, ok := p2.Segment(name)
		if ok != fetchable {
			t.Fatalf("segment %s fetchable=%v, want %v", name, ok, fetchable)
		}
		if ok && (body[0][0] != 0x47 || body[0][1]&0x1F != 0 || body[0][2] != 0) {
			t.Fatalf("segment %s does not start with a PAT packet", name)
		}
	}
	if _, ok := p2.Segment("nope"); ok {
		t.Fatal("unknown segment found")
	}
}

func TestPlaylistCutsAtKeyframeAfterTarget(t *testing.T) {
	// GOP 0.8 s, target 2 s: segments span 3 GOPs (2.4 s); the target
	// duration is the rounded-up maximum and never shrinks.
	c, p := testSetup(2*time.Second, 5)
	end := testFeed(c, 0, 10, 20)
	pl := testPlaylist(t, p)
	if !strings.Contains(pl, "#EXT-X-TARGETDURATION:3\n") || strings.Count(pl, "#EXTINF:2.400,") != 4 {
		t.Fatalf("playlist:\n%s", pl)
	}
	testFeed(c, end, 14, 25) // 1 s GOPs: 2 s segments
	pl = testPlaylist(t, p)
	if !strings.Contains(pl, "#EXT-X-TARGETDURATION:3\n") || strings.Count(pl, "#EXTINF:2.000,") != 5 {
		t.Fatalf("playlist:\n%s", pl)
	}
}

func TestPlaylistDiscontinuity(t *testing.T) {
	c, p := testSetup(2*time.Second, 3)
	end := testFeed(c, 0, 4.5, 25)
	c.Discontinuity()
	end = testFeed(c, end+90000, 6.5, 25)
	pl := testPlaylist(t, p)
	lines := strings.Split(pl, "\n")
	// Segments 0,1 (before), then the break: [1 partial? no] 2,3,4 after.
	idx := -1
	for i, l := range lines {
		if l == "#EXT-X-DISCONTINUITY" {
			if idx >= 0 {
				t.Fatalf("two discontinuities:\n%s", pl)
			}
			idx = i
		}
	}
	if idx < 0 || !strings.HasPrefix(lines[idx+1], "#EXT-X-PROGRAM-DATE-TIME:") {
		t.Fatalf("no discontinuity before a segment:\n%s", pl)
	}
	if strings.Contains(pl, "DISCONTINUITY-SEQUENCE") {
		t.Fatalf("discontinuity sequence too early:\n%s", pl)
	}
	// Once the segment after the break leaves the window, the count moves.
	testFeed(c, end, 8.5, 25)
	pl = testPlaylist(t, p)
	if strings.Contains(pl, "#EXT-X-DISCONTINUITY\n") || !strings.Contains(pl, "#EXT-X-DISCONTINUITY-SEQUENCE:1\n") {
		t.Fatalf("playlist after the break left:\n%s", pl)
	}
}

// TestPlaylistMediaSequence checks that the sequence moves by one per
// segment leaving the window, across every rebuild.
func TestPlaylistMediaSequence(t *testing.T) {
	c, p := testSetup(time.Second, 4)
	dts := int64(0)
	prevSeq, prevFirst := -1, ""
	for range 15 {
		dts = testFeed(c, dts, 1, 25)
		b, ok := p.Playlist()
		if !ok {
			continue
		}
		pl := string(b)
		var seq int
		if _, err := fmt.Sscanf(pl[strings.Index(pl, "#EXT-X-MEDIA-SEQUENCE:"):], "#EXT-X-MEDIA-SEQUENCE:%d", &seq); err != nil {
			t.Fatal(err)
		}
		first := strings.Split(pl[strings.Index(pl, "#EXTINF"):], "\n")[1]
		if prevSeq >= 0 && first != prevFirst && seq != prevSeq+1 {
			t.Fatalf("sequence %d after %d while the window moved by one", seq, prevSeq)
		}
		if first == prevFirst && seq != prevSeq {
			t.Fatal("sequence moved without the window")
		}
		prevSeq, prevFirst = seq, first
	}
	if prevSeq != 10 {
		t.Fatalf("final sequence %d, want 10 (14 segments, window 4)", prevSeq)
	}
}

func TestSegmentNamesUnique(t *testing.T) {
	// Half-second segments (0.52 s): two often start within one second.
	c, p := testSetup(500*time.Millisecond, 10)
	testFeed(c, 0, 10.5, 13)
	pl := testPlaylist(t, p)
	seen := map[string]bool{}
	for _, l := range strings.Split(pl, "\n") {
		if strings.HasSuffix(l, ".ts") {
			if seen[l] {
				t.Fatalf("duplicate segment name %s:\n%s", l, pl)
			}
			seen[l] = true
			if _, ok := p.Segment(l); !ok {
				t.Fatalf("listed segment %s not fetchable", l)
			}
		}
	}
	if len(seen) != 10 {
		t.Fatalf("%d segments:\n%s", len(seen), pl)
	}
}

func TestPackagerClose(t *testing.T) {
	c, p := testSetup(time.Second, 3)
	end := testFeed(c, 0, 3.1, 25)
	before := testPlaylist(t, p)
	p.Close()
	testFeed(c, end, 3, 25)
	if after := testPlaylist(t, p); after != before {
		t.Fatal("playlist changed after Close")
	}
}

// TestPackagerConcurrentReaders runs readers against the writer (for -race).
func TestPackagerConcurrentReaders(t *testing.T) {
	c, p := testSetup(200*time.Millisecond, 3)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf [][]byte
			for {
				select {
				case <-stop:
					return
				default:
				}
				pl, ok := p.Playlist()
				if !ok {
					continue
				}
				for _, l := range strings.Split(string(pl), "\n") {
					if strings.HasSuffix(l, ".ts") {
						buf, _ = p.AppendSegment(buf[:0], l)
						for _, b := range buf {
							_ = b[0]
						}
					}
				}
			}
		}()
	}
	testFeed(c, 0, 20, 5)
	close(stop)
	wg.Wait()
}

func TestAppendSegmentZeroAllocs(t *testing.T) {
	c, p := testSetup(time.Second, 3)
	testFeed(c, 0, 5, 25)
	name := "2024/01/02/03/04/07-01000.ts"
	buf := make([][]byte, 0, 64)
	if _, ok := p.AppendSegment(buf, name); !ok {
		t.Fatalf("no segment %s:\n%s", name, testPlaylist(t, p))
	}
	if n := testing.AllocsPerRun(100, func() { buf, _ = p.AppendSegment(buf[:0], name) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}
