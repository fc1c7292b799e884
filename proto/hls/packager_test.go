package hls

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
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
	pool := mpegts.NewPool(8<<20, 0)
	testClockDTS = 0
	c := mpegts.NewChunker(mpegts.ChunkerOptions{Now: testNow, Pool: pool})
	p := New(c, time.Second, 3)
	c.SetTracks(testTracks)
	end := testFeed(c, 0, 3.1, 25)
	pl, h, ok := p.AcquirePlaylist()
	if !ok {
		t.Fatal("no playlist")
	}
	before := string(pl)
	p.Close()
	if _, ok := p.Playlist(); ok {
		t.Fatal("playlist after Close")
	}
	testFeed(c, end, 3, 25)
	if string(pl) != before {
		t.Fatal("held playlist changed after Close")
	}
	h.Release()
	c.Close()
	if st := pool.Stats(); st.InUse != 0 || st.HeapInUse != 0 {
		t.Fatalf("memory kept after Close: %+v", st)
	}
}

// TestSegmentsAreTheChunks: the segments, in order, are exactly the bytes
// the chunker published from the first keyframe on.
func TestSegmentsAreTheChunks(t *testing.T) {
	testClockDTS = 0
	c := mpegts.NewChunker(mpegts.ChunkerOptions{Now: testNow, Pool: mpegts.NewPool(8<<20, 0)})
	var published []byte
	c.Subscribe(func(ch *mpegts.Chunk) {
		if ch.Key || len(published) > 0 {
			published = append(published, ch.Data...)
		}
	})
	p := New(c, 2*time.Second, 100)
	c.SetTracks(testTracks)
	testFeed(c, 0, 20.5, 25)
	var all []byte
	for _, l := range strings.Split(testPlaylist(t, p), "\n") {
		if strings.HasSuffix(l, ".ts") {
			body, h, ok := p.AcquireSegment(nil, l)
			if !ok {
				t.Fatalf("segment %s not found", l)
			}
			for _, b := range body {
				all = append(all, b...)
			}
			h.Release()
		}
	}
	if len(all) == 0 || !bytes.Equal(all, published[:len(all)]) {
		t.Fatalf("segments (%d bytes) are not the published chunks (%d bytes)", len(all), len(published))
	}
	if rest := len(published) - len(all); rest <= 0 || rest > 1<<20 {
		t.Fatalf("%d bytes after the last segment", rest)
	}
}

// TestHeldSegmentOutlivesWindow holds a segment while the stream moves on
// far enough that it leaves the window, the ring evicts its chunks, and the
// pool recycles everything else: its bytes stay intact until released, and
// then all memory returns.
func TestHeldSegmentOutlivesWindow(t *testing.T) {
	pool := mpegts.NewPool(4<<20, 64<<10)
	testClockDTS = 0
	c := mpegts.NewChunker(mpegts.ChunkerOptions{Now: testNow, Pool: pool, RingSize: 16})
	p := New(c, time.Second, 2)
	c.SetTracks(testTracks)
	end := testFeed(c, 0, 3.1, 25)
	name := "2024/01/02/03/04/06-01000.ts"
	body, h, ok := p.AcquireSegment(nil, name)
	if !ok {
		t.Fatalf("no segment %s:\n%s", name, testPlaylist(t, p))
	}
	want := bytes.Join(body, nil)
	testFeed(c, end, 30, 25)
	if _, ok := p.Segment(name); ok {
		t.Fatal("segment still listed")
	}
	if got := bytes.Join(body, nil); !bytes.Equal(got, want) {
		t.Fatal("held segment changed")
	}
	if st := pool.Stats(); st.HeapFallbacks != 0 {
		t.Fatalf("stats %+v", st)
	}
	h.Release()
	p.Close()
	c.Close()
	if st := pool.Stats(); st.InUse != 0 {
		t.Fatalf("memory kept: %+v", st)
	}
}

// TestPackagerConcurrentReaders runs readers against the writer on a small
// pool that recycles constantly (for -race): every segment a reader holds
// keeps its bytes while held.
func TestPackagerConcurrentReaders(t *testing.T) {
	pool := mpegts.NewPool(1<<20, 16<<10)
	testClockDTS = 0
	c := mpegts.NewChunker(mpegts.ChunkerOptions{Now: testNow, Pool: pool, RingSize: 16, MaxChunkBytes: 4 << 10})
	p := New(c, 200*time.Millisecond, 3)
	c.SetTracks(testTracks)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var fetched atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf [][]byte
			var names []string
			for {
				select {
				case <-stop:
					return
				default:
				}
				pl, h, ok := p.AcquirePlaylist()
				if !ok {
					runtime.Gosched()
					continue
				}
				names = names[:0]
				for _, l := range strings.Split(string(pl), "\n") {
					if strings.HasSuffix(l, ".ts") {
						names = append(names, l)
					}
				}
				h.Release()
				for _, name := range names {
					var sh Hold
					buf, sh, ok = p.AcquireSegment(buf[:0], name)
					if !ok {
						continue // it left the window meanwhile
					}
					sum := crc32.NewIEEE()
					for _, b := range buf {
						_, _ = sum.Write(b)
					}
					runtime.Gosched()
					again := crc32.NewIEEE()
					for _, b := range buf {
						_, _ = again.Write(b)
					}
					if len(buf) == 0 || buf[0][0] != 0x47 || sum.Sum32() != again.Sum32() {
						t.Errorf("segment %s changed while held", name)
					}
					sh.Release()
					fetched.Add(1)
				}
			}
		}()
	}
	testFeed(c, 0, 20, 5)
	close(stop)
	wg.Wait()
	p.Close()
	c.Close()
	if fetched.Load() == 0 {
		t.Fatal("no segment fetched")
	}
	if st := pool.Stats(); st.InUse != 0 || st.HeapInUse != 0 {
		t.Fatalf("memory kept: %+v", st)
	}
}

func TestAcquireSegmentZeroAllocs(t *testing.T) {
	c, p := testSetup(time.Second, 3)
	testFeed(c, 0, 5, 25)
	name := "2024/01/02/03/04/07-01000.ts"
	buf := make([][]byte, 0, 64)
	if _, h, ok := p.AcquireSegment(buf, name); !ok {
		t.Fatalf("no segment %s:\n%s", name, testPlaylist(t, p))
	} else {
		h.Release()
	}
	n := testing.AllocsPerRun(100, func() {
		var h Hold
		buf, h, _ = p.AcquireSegment(buf[:0], name)
		h.Release()
		_, h, _ = p.AcquirePlaylist()
		h.Release()
	})
	if n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

// TestSegmenterZeroAllocs: once the window is full, chunking and cutting
// segments allocates nothing.
func TestSegmenterZeroAllocs(t *testing.T) {
	testClockDTS = 0
	c := mpegts.NewChunker(mpegts.ChunkerOptions{Now: testNow, Pool: mpegts.NewPool(16<<20, 0), RingSize: 64})
	p := New(c, time.Second, 3)
	c.SetTracks(testTracks)
	frames, span := benchFrames()
	lap := int64(0)
	run := func() {
		var f engine.Frame
		for i := range frames {
			f = frames[i]
			f.DTS += lap * span
			f.PTS += lap * span
			testClockDTS = f.DTS
			c.WriteFrame(&f)
		}
		lap++
	}
	for range 20 {
		run()
	}
	if n := testing.AllocsPerRun(20, run); n != 0 {
		t.Fatalf("%v allocations per second of stream", n)
	}
	if _, ok := p.Playlist(); !ok {
		t.Fatal("no playlist")
	}
}
