package mpegts

import (
	"bytes"
	"runtime"
	"testing"
	"time"

	"github.com/livedge/livedge/engine"
)

// chunkTestRun feeds frames to a new chunker, closes it and returns what it
// published, with a copy of each chunk's bytes taken at publish time. The
// chunks stay referenced until the test ends.
func chunkTestRun(t testing.TB, opts ChunkerOptions, tracks []engine.Track, frames []*engine.Frame) (*Chunker, []*Chunk, [][]byte) {
	t.Helper()
	c := NewChunker(opts)
	var got []*Chunk
	var copies [][]byte
	c.Subscribe(func(ch *Chunk) {
		ch.Retain()
		got = append(got, ch)
		copies = append(copies, bytes.Clone(ch.Data))
	})
	c.SetTracks(tracks)
	for _, f := range frames {
		c.WriteFrame(f)
	}
	c.Close()
	return c, got, copies
}

// chunkTestStartsKey checks that a chunk starts with PAT, PMT and a video
// keyframe packet.
func chunkTestStartsKey(t testing.TB, ch *Chunk) {
	t.Helper()
	pkts := muxTestParse(t, ch.Data)
	if len(pkts) < 3 || pkts[0].pid != muxPIDPAT || pkts[1].pid != muxPIDPMT || pkts[2].pid != 256 || !pkts[2].pusi || !pkts[2].randomAccess {
		t.Fatalf("key chunk at DTS %d does not start with PAT, PMT, keyframe", ch.DTS)
	}
}

func TestChunkerCutsAtKeyframes(t *testing.T) {
	frames := muxTestFrames(0, 150, 30) // 5 s, a keyframe each second
	c, chunks, copies := chunkTestRun(t, ChunkerOptions{}, muxTestTracks, frames)
	if len(chunks) < 25 {
		t.Fatalf("%d chunks, want about 5 per second", len(chunks))
	}
	keys := 0
	var all []byte
	for i, ch := range chunks {
		if len(ch.Data)%muxPacketSize != 0 {
			t.Fatalf("chunk %d: %d bytes", i, len(ch.Data))
		}
		if ch.Key {
			keys++
			chunkTestStartsKey(t, ch)
			if ch.DTS%(30*3000) != 0 {
				t.Fatalf("key chunk %d at DTS %d, not at a keyframe", i, ch.DTS)
			}
		} else if muxTestParse(t, ch.Data)[0].pid == muxPIDPAT {
			t.Fatalf("chunk %d: tables in a non-key chunk", i)
		}
		if i+1 < len(chunks) && ch.DTS+ch.Duration != chunks[i+1].DTS {
			t.Fatalf("chunk %d: DTS %d + duration %d != next DTS %d", i, ch.DTS, ch.Duration, chunks[i+1].DTS)
		}
		if ch.Duration > 200*90+3000 {
			t.Fatalf("chunk %d spans %d", i, ch.Duration)
		}
		// Published chunks never change and own their bytes.
		if !bytes.Equal(ch.Data, copies[i]) {
			t.Fatalf("chunk %d changed after publishing", i)
		}
		all = append(all, ch.Data...)
	}
	if keys != 5 {
		t.Fatalf("%d key chunks, want 5", keys)
	}
	// Positions: chunks follow each other; the GOP figure is the last
	// complete one.
	var keyPos []uint64
	for i, ch := range chunks {
		if i > 0 && ch.Pos != chunks[i-1].Pos+uint64(len(chunks[i-1].Data)) {
			t.Fatalf("chunk %d at %d", i, ch.Pos)
		}
		if ch.Key {
			keyPos = append(keyPos, ch.Pos)
		}
	}
	if c.Published() != uint64(len(all)) || c.GOPBytes() != int(keyPos[4]-keyPos[3]) {
		t.Fatalf("published %d of %d, GOP %d", c.Published(), len(all), c.GOPBytes())
	}
	if k, ok := c.LastKeyPos(); !ok || k != keyPos[4] {
		t.Fatalf("newest key at %d", k)
	}
	if got := muxTestDemux(t, all); len(got) != len(frames) {
		t.Fatalf("chunks demux to %d access units, want %d", len(got), len(frames))
	}
	// The ring holds the same chunks; a new reader starts at the newest key.
	k, ok := c.LastKey()
	first, ok2 := c.Acquire(k)
	if !ok || !ok2 || first != chunks[len(chunks)-5] || !first.Key || first.DTS != 4*30*3000 {
		t.Fatalf("newest key chunk %d: %v %v", k, ok, ok2)
	}
	first.Release()
}

func TestChunkerWaitsForKeyframe(t *testing.T) {
	frames := muxTestFrames(0, 90, 30)[5:] // starts mid-GOP, audio included
	_, chunks, _ := chunkTestRun(t, ChunkerOptions{}, muxTestTracks, frames)
	if len(chunks) == 0 {
		t.Fatal("nothing published")
	}
	if !chunks[0].Key || chunks[0].DTS != 30*3000 {
		t.Fatalf("first chunk key=%v DTS=%d, want the keyframe at %d", chunks[0].Key, chunks[0].DTS, 30*3000)
	}
	chunkTestStartsKey(t, chunks[0])
}

func TestChunkerMaxChunkBytes(t *testing.T) {
	var frames []*engine.Frame
	for i := range 40 {
		frames = append(frames, &engine.Frame{DTS: int64(i) * 3000, PTS: int64(i) * 3000, Key: i == 0,
			Data: [][]byte{muxTestNAL(0x41, 3000, 1)}})
	}
	_, chunks, _ := chunkTestRun(t, ChunkerOptions{MaxChunkBytes: 8000, MaxChunkDuration: time.Hour},
		[]engine.Track{{Codec: engine.CodecH264}}, frames)
	if len(chunks) < 10 {
		t.Fatalf("%d chunks", len(chunks))
	}
	for i, ch := range chunks {
		if len(ch.Data) > 8000 {
			t.Fatalf("chunk %d: %d bytes > 8000", i, len(ch.Data))
		}
	}
}

func TestChunkerDiscontinuity(t *testing.T) {
	c := NewChunker(ChunkerOptions{})
	var chunks []*Chunk
	c.Subscribe(func(ch *Chunk) { ch.Retain(); chunks = append(chunks, ch) })
	c.SetTracks(muxTestTracks)
	frames := muxTestFrames(0, 40, 30)
	for _, f := range frames[:20] {
		c.WriteFrame(f)
	}
	n := len(chunks)
	c.Discontinuity()
	if len(chunks) != n+1 || chunks[n].Duration <= 0 {
		t.Fatal("the open chunk was not published with a duration at the discontinuity")
	}
	// After the break: non-key frames wait, the keyframe starts a chunk.
	for _, f := range muxTestFrames(900000, 40, 30)[5:] {
		c.WriteFrame(f)
	}
	ch := chunks[n+1]
	if !ch.Key || !ch.Discontinuity || ch.DTS != 900000+30*3000 {
		t.Fatalf("chunk after break: key=%v disc=%v dts=%d", ch.Key, ch.Discontinuity, ch.DTS)
	}
	chunkTestStartsKey(t, ch)
	seen := map[uint16]bool{}
	for _, p := range muxTestParse(t, ch.Data) {
		if p.pid == muxPIDPAT || p.pid == muxPIDPMT || seen[p.pid] {
			continue
		}
		seen[p.pid] = true
		if !p.disc {
			t.Fatalf("first packet of pid %d after the break lacks discontinuity_indicator", p.pid)
		}
	}
	if len(seen) != 2 {
		t.Fatalf("pids after break: %v", seen)
	}
	for _, later := range chunks[n+2:] {
		if later.Discontinuity {
			t.Fatal("discontinuity repeated")
		}
	}
}

func TestChunkerTracksChange(t *testing.T) {
	c := NewChunker(ChunkerOptions{})
	var chunks []*Chunk
	c.Subscribe(func(ch *Chunk) { ch.Retain(); chunks = append(chunks, ch) })
	c.SetTracks(muxTestTracks)
	for _, f := range muxTestFrames(0, 10, 30) {
		c.WriteFrame(f)
	}
	c.SetTracks(muxTestTracks) // unchanged: no break
	n := len(chunks)
	c.SetTracks([]engine.Track{{Codec: engine.CodecH264}})
	if len(chunks) != n+1 {
		t.Fatal("changing tracks did not publish the open chunk")
	}
	c.WriteFrame(&engine.Frame{DTS: 40000, PTS: 40000, Key: true, Data: [][]byte{muxTestNAL(0x65, 100, 1)}})
	c.WriteFrame(&engine.Frame{DTS: 90000, PTS: 90000, Key: true, Data: [][]byte{muxTestNAL(0x65, 100, 1)}})
	if ch := chunks[len(chunks)-1]; !ch.Key || !ch.Discontinuity {
		t.Fatalf("chunk after a tracks change: key=%v disc=%v", ch.Key, ch.Discontinuity)
	}
}

func TestChunkerAudioOnly(t *testing.T) {
	var frames []*engine.Frame
	for i := range 100 {
		ts := int64(i) * 1920
		frames = append(frames, &engine.Frame{DTS: ts, PTS: ts, Key: true, Data: [][]byte{muxTestNAL(0x21, 300, 2)}})
	}
	_, chunks, _ := chunkTestRun(t, ChunkerOptions{}, []engine.Track{{Codec: engine.CodecAAC, Config: muxTestASC}}, frames)
	if len(chunks) < 9 {
		t.Fatalf("%d chunks", len(chunks))
	}
	for i, ch := range chunks {
		pkts := muxTestParse(t, ch.Data)
		if !ch.Key || pkts[0].pid != muxPIDPAT || !pkts[2].randomAccess {
			t.Fatalf("audio-only chunk %d: key=%v, first pid %d", i, ch.Key, pkts[0].pid)
		}
	}
}

func TestChunkerWallClock(t *testing.T) {
	now := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { return now }
	_, chunks, _ := chunkTestRun(t, ChunkerOptions{Now: clock}, muxTestTracks, muxTestFrames(0, 30, 30))
	// The fake clock stands still: wall time follows media time within the
	// drift bound, then re-anchors, never going back.
	var last time.Time
	for i, ch := range chunks {
		want := now.Add(time.Duration(ch.DTS) * time.Second / engine.Timescale)
		if !ch.Wall.Equal(want) {
			t.Fatalf("chunk %d: wall %v, want %v", i, ch.Wall, want)
		}
		if ch.Wall.Before(last) {
			t.Fatal("wall went back")
		}
		last = ch.Wall
	}
}

func TestChunkerUnsubscribe(t *testing.T) {
	c := NewChunker(ChunkerOptions{})
	var a, b int
	unA := c.Subscribe(func(*Chunk) { a++ })
	c.Subscribe(func(*Chunk) { b++ })
	c.SetTracks(muxTestTracks)
	frames := muxTestFrames(0, 60, 30)
	for _, f := range frames[:30] {
		c.WriteFrame(f)
	}
	unA()
	unA()
	for _, f := range frames[30:] {
		c.WriteFrame(f)
	}
	if a == 0 || a >= b {
		t.Fatalf("calls after unsubscribe: a=%d b=%d", a, b)
	}
}

// BenchmarkChunkerWriteFrame measures the per-frame cost of muxing and
// chunking: chunks come from the pool, so nothing is allocated per frame
// or per chunk once the ring is full (mallocs/frame is the exact figure,
// which allocs/op rounds down).
func BenchmarkChunkerWriteFrame(b *testing.B) {
	c := NewChunker(ChunkerOptions{RingSize: 64, Pool: NewPool(16<<20, 0)})
	c.SetTracks(muxTestTracks)
	frames := muxTestFrames(0, 300, 30)
	span := frames[len(frames)-1].DTS + 3000
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; b.Loop(); i++ {
		f := *frames[i%len(frames)]
		lap := int64(i / len(frames))
		f.DTS += lap * span
		f.PTS += lap * span
		c.WriteFrame(&f)
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N), "mallocs/frame")
}

func TestChunkerDiscontinuityBeforeFirstChunk(t *testing.T) {
	c := NewChunker(ChunkerOptions{})
	var chunks []*Chunk
	c.Subscribe(func(ch *Chunk) { ch.Retain(); chunks = append(chunks, ch) })
	c.SetTracks(muxTestTracks)
	c.Discontinuity() // nothing was published: nothing to break from
	for _, f := range muxTestFrames(0, 10, 30) {
		c.WriteFrame(f)
	}
	if len(chunks) == 0 || chunks[0].Discontinuity {
		t.Fatalf("first chunk marked as a discontinuity")
	}
}
