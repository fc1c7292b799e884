package mpegts

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/livedge/livedge/engine"
	"github.com/livedge/livedge/proto/internal/tsclip"
)

var demuxTestLog = slog.New(slog.DiscardHandler)

// demuxTestRun demuxes b handed over in reads of at most chunk bytes.
func demuxTestRun(t *testing.T, b []byte, chunk int) *demuxTestSink {
	t.Helper()
	sink := &demuxTestSink{}
	err := NewDemuxer(sink, demuxTestLog).Run(context.Background(), &demuxChunkReader{b: b, chunk: chunk})
	if !errors.Is(err, io.EOF) {
		t.Fatalf("Run: %v, want EOF", err)
	}
	if sink.err != nil {
		t.Fatal(sink.err)
	}
	return sink
}

// demuxChunkReader hands b over in reads of at most chunk bytes, the way a
// UDP socket hands datagrams.
type demuxChunkReader struct {
	b     []byte
	chunk int
}

func (r *demuxChunkReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(r.b), r.chunk)
	copy(p, r.b[:n])
	r.b = r.b[n:]
	return n, nil
}

func demuxFFprobeCounts(t *testing.T, clip []byte) (video, audio int) {
	t.Helper()
	cmd := exec.Command("ffprobe", "-v", "error", "-count_packets", "-show_entries", "stream=codec_type,nb_read_packets", "-of", "csv=p=0", "-")
	cmd.Stdin = bytes.NewReader(clip)
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("ffprobe: %v", err)
	}
	for line := range strings.Lines(string(out)) {
		kind, count, _ := strings.Cut(strings.TrimSpace(line), ",")
		n, _ := strconv.Atoi(count)
		switch kind {
		case "video":
			video = n
		case "audio":
			audio = n
		}
	}
	return video, audio
}

func TestDemuxFFmpegClip(t *testing.T) {
	clip := demuxTestFFmpeg(t, demuxTestClipArgs("2")...)
	wantVideo, wantAudio := demuxFFprobeCounts(t, clip)
	sink := demuxTestRun(t, clip, 64*1024)

	if len(sink.tracks) != 1 {
		t.Fatalf("SetTracks called %d times, want 1", len(sink.tracks))
	}
	tracks := sink.tracks[0]
	if len(tracks) != 2 || tracks[0].Codec != engine.CodecH264 || tracks[1].Codec != engine.CodecAAC {
		t.Fatalf("tracks %+v, want h264 and aac", tracks)
	}
	var asc mpeg4audio.AudioSpecificConfig
	if err := asc.Unmarshal(tracks[1].Config); err != nil {
		t.Fatalf("AAC config %x: %v", tracks[1].Config, err)
	}
	if asc.SampleRate != 44100 || asc.ChannelConfig != 1 || asc.Type != mpeg4audio.ObjectTypeAACLC {
		t.Errorf("AAC config %+v, want LC 44100 Hz mono", asc)
	}
	if got := sink.count(engine.CodecH264); got != wantVideo {
		t.Errorf("%d video frames, ffprobe counts %d", got, wantVideo)
	}
	if got := sink.count(engine.CodecAAC); got != wantAudio {
		t.Errorf("%d audio frames, ffprobe counts %d", got, wantAudio)
	}
	keys := 0
	var firstVideo *engine.Frame
	var audioPTS []int64
	for _, f := range sink.frames {
		if f.Track == 0 {
			if firstVideo == nil {
				firstVideo = f
			}
			if f.Key {
				keys++
			}
			for _, nalu := range f.Data {
				if bytes.HasPrefix(nalu, []byte{0, 0, 1}) || nalu[0]&0x1f == 9 {
					t.Fatalf("NAL unit with start code or AUD: %x", nalu[:4])
				}
			}
		} else {
			audioPTS = append(audioPTS, f.PTS)
		}
	}
	if firstVideo == nil || !firstVideo.Key {
		t.Error("first video frame is not a keyframe")
	}
	if keys != 2 {
		t.Errorf("%d keyframes, want 2 (GOP 25 over 50 frames)", keys)
	}
	// 1024 samples at 44.1 kHz are 2089.8 ticks.
	for i := 1; i < len(audioPTS); i++ {
		// ffmpeg rounds the PTS of each PES on its own.
		if d := audioPTS[i] - audioPTS[i-1]; d < 2088 || d > 2091 {
			t.Fatalf("audio PTS step %d at %d, want 2088..2091", d, i)
		}
	}
	// Every read size gives the same frames.
	for _, chunk := range []int{1, 187, 1316} {
		other := demuxTestRun(t, clip, chunk)
		if len(other.frames) != len(sink.frames) {
			t.Errorf("chunk %d: %d frames, want %d", chunk, len(other.frames), len(sink.frames))
		}
	}
}

func TestDemuxFFmpegH265(t *testing.T) {
	if out, err := exec.Command("ffmpeg", "-hide_banner", "-encoders").Output(); err != nil || !bytes.Contains(out, []byte("libx265")) {
		t.Skip("ffmpeg without libx265")
	}
	clip := demuxTestFFmpeg(t, "-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", "-t", "1",
		"-c:v", "libx265", "-x265-params", "log-level=none:keyint=25", "-pix_fmt", "yuv420p")
	wantVideo, _ := demuxFFprobeCounts(t, clip)
	sink := demuxTestRun(t, clip, 1316)
	if len(sink.tracks) != 1 || len(sink.tracks[0]) != 1 || sink.tracks[0][0].Codec != engine.CodecH265 {
		t.Fatalf("tracks %+v, want one hevc", sink.tracks)
	}
	if got := sink.count(engine.CodecH265); got != wantVideo {
		t.Errorf("%d frames, ffprobe counts %d", got, wantVideo)
	}
	if !sink.frames[0].Key {
		t.Error("first frame is not a keyframe")
	}
}

func TestDemuxSynthetic(t *testing.T) {
	sink := demuxTestRun(t, tsclip.Synth(100, 900000, 1), 1316)
	if got := sink.count(engine.CodecH264); got != 100 {
		t.Errorf("%d video frames, want 100", got)
	}
	if got := sink.count(engine.CodecAAC); got != 188 { // 4 s at 46.875 AU/s, rounded up
		t.Errorf("%d audio frames, want 188", got)
	}
	if f := sink.frames[0]; f.Track != 1 || f.PTS != 900000 {
		t.Errorf("first frame %+v, want the audio frame at 900000", f)
	}
	if f := demuxTestFirst(sink, 0); f.DTS != 900000 || f.PTS != 903600 || !f.Key || len(f.Data) != 3 {
		t.Errorf("first frame %+v", f)
	}
}

// TestDemuxGarbageInterleaved feeds datagrams of 7 packets with junk
// datagrams, truncated datagrams and corrupted bytes in between, as a bad
// UDP link would: the demuxer must keep going and deliver the clean part.
func TestDemuxGarbageInterleaved(t *testing.T) {
	clean := tsclip.Synth(250, 0, 2)
	want := demuxTestRun(t, clean, 1316)

	rng := rand.New(rand.NewPCG(3, 4))
	var dirty []byte
	datagrams := 0
	damaged := 0
	for off := 0; off < len(clean); off += 1316 {
		dgram := clean[off:min(off+1316, len(clean))]
		datagrams++
		// Leave the last quarter clean to check full recovery.
		if off < len(clean)*3/4 && datagrams%10 == 0 {
			damaged++
			switch rng.IntN(4) {
			case 0: // a junk datagram, with sync bytes in it
				junk := make([]byte, 1+rng.IntN(1500))
				for i := range junk {
					junk[i] = byte(rng.IntN(256))
					if rng.IntN(20) == 0 {
						junk[i] = demuxSyncByte
					}
				}
				dirty = append(dirty, junk...)
			case 1: // a truncated datagram
				dgram = dgram[:rng.IntN(len(dgram))]
			case 2: // bit errors
				dgram = bytes.Clone(dgram)
				for range 5 {
					dgram[rng.IntN(len(dgram))] = byte(rng.IntN(256))
				}
			case 3: // a lost datagram
				dgram = nil
			}
		}
		dirty = append(dirty, dgram...)
	}
	got := demuxTestRun(t, dirty, 1316)
	if len(got.tracks) == 0 {
		t.Fatal("no tracks")
	}
	if len(got.frames) < len(want.frames)/2 {
		t.Errorf("%d frames out of %d after damaging %d of %d datagrams", len(got.frames), len(want.frames), damaged, datagrams)
	}
	// The clean tail comes out whole.
	tail := want.frames[len(want.frames)*4/5:]
	gotTail := got.frames[len(got.frames)-len(tail):]
	for i := range tail {
		if tail[i].DTS != gotTail[i].DTS || !bytes.Equal(bytes.Join(tail[i].Data, nil), bytes.Join(gotTail[i].Data, nil)) {
			t.Fatalf("tail frame %d differs: DTS %d vs %d", i, gotTail[i].DTS, tail[i].DTS)
		}
	}
}

func TestDemuxTimestampWrap(t *testing.T) {
	start := int64(demuxWrap - 2*engine.Timescale)
	sink := demuxTestRun(t, tsclip.Synth(100, start, 5), 1316)
	if got := sink.count(engine.CodecH264); got != 100 {
		t.Fatalf("%d video frames, want 100", got)
	}
	var last int64
	for _, f := range sink.frames {
		if f.Track != 0 {
			continue
		}
		if last != 0 && f.DTS-last != 3600 {
			t.Fatalf("DTS step %d at %d, want 3600", f.DTS-last, f.DTS)
		}
		last = f.DTS
	}
	if last != start+99*3600 {
		t.Errorf("last DTS %d, want %d (unwrapped past 2^33)", last, start+99*3600)
	}
}

// TestDemuxPMTChange: the source restarts with other PIDs and timestamps.
func TestDemuxPMTChange(t *testing.T) {
	first := tsclip.Synth(50, 90000, 6)
	var second demuxTestMux
	second.pat(1, 0x1000)
	second.pmt(1, 0x1000, demuxStreamTypeH264, 0x200)
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range 30 {
		nalus := []byte{0x41}
		if i == 0 {
			nalus = []byte{0x65}
		}
		second.pes(0x200, 0xe0, int64(i)*3600, -1, demuxTestAnnexB(append(nalus, tsclip.NALU(0x10, 50, rng)...)), false)
	}
	sink := demuxTestRun(t, append(bytes.Clone(first), second.out...), 1316)
	if len(sink.tracks) != 2 || len(sink.tracks[1]) != 1 || sink.tracks[1][0].Codec != engine.CodecH264 {
		t.Fatalf("tracks %+v, want h264+aac then h264", sink.tracks)
	}
	last := sink.frames[len(sink.frames)-1]
	if last.DTS != 29*3600 {
		t.Errorf("last DTS %d, want %d", last.DTS, 29*3600)
	}
}

// TestDemuxTimelineReset: the source's clock jumps back 10 s; each track
// starts a new timeline on its own, and small steps back are fixed (video)
// or dropped (audio), never passed on.
func TestDemuxTimelineReset(t *testing.T) {
	var m demuxTestMux
	m.pat(1, 0x1000)
	m.pmt(1, 0x1000, demuxStreamTypeH264, 0x100, demuxStreamTypeAAC, 0x101)
	video := func(dts int64, typ byte) {
		m.pes(0x100, 0xe0, dts, -1, demuxTestAnnexB([]byte{typ, 0x88, 0x10}), false)
	}
	audio := func(pts int64) { m.pes(0x101, 0xc0, pts, -1, demuxTestADTS([]byte{1}), true) }
	base := int64(900000)
	video(base, 0x65)
	audio(base)
	video(base+3600, 0x41)
	audio(base + 1920)
	video(base+3000, 0x41) // 7 ms back: clamped
	audio(base + 1000)     // back: dropped
	video(0, 0x65)         // 10 s back: new timeline
	audio(base + 3840)     // audio still on the old one
	audio(1920)            // and now on the new one
	video(3600, 0x41)
	sink := demuxTestRun(t, m.out, 188)
	var dts [2][]int64
	for _, f := range sink.frames {
		dts[f.Track] = append(dts[f.Track], f.DTS)
	}
	wantVideo := []int64{base, base + 3600, base + 3600, 0, 3600}
	wantAudio := []int64{base, base + 1920, base + 3840, 1920}
	if !slices.Equal(dts[0], wantVideo) || !slices.Equal(dts[1], wantAudio) {
		t.Errorf("video DTS %v, want %v; audio DTS %v, want %v", dts[0], wantVideo, dts[1], wantAudio)
	}
}

// TestDemuxSilentAudio: an AAC stream in the PMT that never sends audio
// must not hold the video back for long.
func TestDemuxSilentAudio(t *testing.T) {
	var m demuxTestMux
	m.pat(1, 0x1000)
	m.pmt(1, 0x1000, demuxStreamTypeH264, 0x100, demuxStreamTypeAAC, 0x101, 0x06, 0x102)
	rng := rand.New(rand.NewPCG(8, 8))
	for i := range 100 {
		typ := byte(0x41)
		if i%25 == 0 {
			typ = 0x65
		}
		m.pes(0x100, 0xe0, int64(i)*3600, -1, demuxTestAnnexB(tsclip.NALU(typ, 80, rng)), false)
		if i == 80 { // the audio finally speaks
			m.pes(0x101, 0xc0, int64(i)*3600, -1, demuxTestADTS([]byte{1, 2, 3}), true)
		}
	}
	sink := demuxTestRun(t, m.out, 188)
	if len(sink.tracks) != 2 || len(sink.tracks[0]) != 1 || len(sink.tracks[1]) != 2 {
		t.Fatalf("tracks %+v, want h264 alone, then h264 and aac", sink.tracks)
	}
	if got := sink.count(engine.CodecH264); got != 100 {
		t.Errorf("%d video frames, want 100", got)
	}
	if got := sink.count(engine.CodecAAC); got != 1 {
		t.Errorf("%d audio frames, want 1", got)
	}
}

// TestDemuxSplitADTS: ADTS frames cut across PES, CRC-protected ADTS and a
// PES without PTS.
func TestDemuxSplitADTS(t *testing.T) {
	var m demuxTestMux
	m.pat(1, 0x1000)
	m.pmt(1, 0x1000, demuxStreamTypeAAC, 0x101)
	var adts []byte
	for i := range 10 {
		adts = append(adts, demuxTestADTS(bytes.Repeat([]byte{byte(i + 1)}, 50+i))...)
	}
	withCRC := demuxTestADTS([]byte{0, 0, 0xaa, 0xbb}) // 2 CRC bytes, then the AU
	withCRC[1] &^= 0x01
	cut := 130 // inside the third frame
	m.pes(0x101, 0xc0, 1000, -1, adts[:cut], true)
	m.pes(0x101, 0xc0, 1000+3*1920, -1, adts[cut:], true)
	m.pes(0x101, 0xc0, -1, -1, withCRC, true)
	// A cut frame followed by a PES without PTS.
	last := append(demuxTestADTS([]byte{0x11}), demuxTestADTS([]byte{0x12})...)
	m.pes(0x101, 0xc0, -1, -1, last[:10], true)
	m.pes(0x101, 0xc0, -1, -1, last[10:], true)
	sink := demuxTestRun(t, m.out, 188)
	if got := sink.count(engine.CodecAAC); got != 13 {
		t.Fatalf("%d audio frames, want 13", got)
	}
	for i, f := range sink.frames {
		if want := int64(1000 + i*1920); f.PTS != want {
			t.Errorf("frame %d PTS %d, want %d", i, f.PTS, want)
		}
		if i < 10 && (len(f.Data[0]) != 50+i || f.Data[0][0] != byte(i+1)) {
			t.Errorf("frame %d data %x", i, f.Data[0])
		}
	}
	if last := sink.frames[10].Data[0]; !bytes.Equal(last, []byte{0xaa, 0xbb}) {
		t.Errorf("CRC frame data %x, want aabb", last)
	}
}

// TestDemuxSplitAccessUnit: an encoder cuts a big picture into bounded PES,
// only the first with a PTS; a NAL unit straddles the cut.
func TestDemuxSplitAccessUnit(t *testing.T) {
	var m demuxTestMux
	m.pat(1, 0x1000)
	m.pmt(1, 0x1000, demuxStreamTypeH264, 0x100)
	rng := rand.New(rand.NewPCG(9, 9))
	sps, pps, idr := tsclip.NALU(0x67, 10, rng), tsclip.NALU(0x68, 4, rng), tsclip.NALU(0x65, 5000, rng)
	au := demuxTestAnnexB(sps, pps, idr)
	m.pes(0x100, 0xe0, 7200, 3600, au[:2000], true)
	m.pes(0x100, 0xe0, -1, -1, au[2000:4000], true)
	m.pes(0x100, 0xe0, -1, -1, au[4000:], true)
	m.pes(0x100, 0xe0, 10800, 7200, demuxTestAnnexB([]byte{0x41, 0x9a, 0x01}), true)
	sink := demuxTestRun(t, m.out, 1316)
	if len(sink.frames) != 2 {
		t.Fatalf("%d frames, want 2", len(sink.frames))
	}
	f := sink.frames[0]
	if !f.Key || f.PTS != 7200 || f.DTS != 3600 || len(f.Data) != 3 || !bytes.Equal(f.Data[2], idr) || !bytes.Equal(f.Data[0], sps) {
		t.Errorf("first frame: key %v PTS %d DTS %d, %d NAL units", f.Key, f.PTS, f.DTS, len(f.Data))
	}
	if f := sink.frames[1]; f.DTS != 7200 || f.Key || len(f.Data) != 1 {
		t.Errorf("second frame %+v", f)
	}
}

// TestDemuxBoundedPES: a PID that never ends its PES must not grow memory.
func TestDemuxBoundedPES(t *testing.T) {
	var m demuxTestMux
	m.pat(1, 0x1000)
	m.pmt(1, 0x1000, demuxStreamTypeH264, 0x100)
	m.pes(0x100, 0xe0, 0, -1, demuxTestAnnexB([]byte{0x65, 1, 2, 3}), false)
	payload := bytes.Repeat([]byte{0x55}, 184)
	d := NewDemuxer(&demuxTestSink{}, demuxTestLog)
	d.scan(m.out, true)
	for range (demuxMaxVideoPES / 184) + 1000 {
		m.out = m.out[:0]
		m.packets(0x100, payload)
		pkt := bytes.Clone(m.out)
		pkt[1] &^= 0x40 // continuation packets only
		d.packet(pkt)
	}
	if n := cap(d.streams[0].pes); n > demuxMaxVideoPES {
		t.Errorf("PES buffer grew to %d bytes, limit %d", n, demuxMaxVideoPES)
	}
	if d.streams[0].collecting {
		t.Error("oversized PES still collected")
	}
}

func TestDemuxClockUnwrap(t *testing.T) {
	var c demuxClock
	seq := []struct{ in, want int64 }{
		{demuxWrap - 100, demuxWrap - 100},
		{demuxWrap - 10, demuxWrap - 10},
		{5, demuxWrap + 5},
		{demuxWrap - 50, demuxWrap - 50}, // B-frame PTS before the wrap
		{100, demuxWrap + 100},
	}
	for _, s := range seq {
		if got := c.unwrap(s.in); got != s.want {
			t.Errorf("unwrap(%d) = %d, want %d", s.in, got, s.want)
		}
	}
}

func TestDemuxContextCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := NewDemuxer(&demuxTestSink{}, demuxTestLog).Run(ctx, bytes.NewReader(tsclip.Synth(10, 0, 1)))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run: %v, want context.Canceled", err)
	}
}

// BenchmarkDemux measures one demuxer in steady state: the clip (10 s of
// 25 fps video with audio) repeats b.N times. Frames are allocated for the
// sink to own: 3 allocations per frame are expected, nothing per packet.
func BenchmarkDemux(b *testing.B) {
	clip := tsclip.Synth(250, 0, 9)
	d := NewDemuxer(demuxDiscardSink{}, demuxTestLog)
	r := &demuxLoopReader{clip: clip}
	// Warm up: buffers reach their working size.
	r.left = 2
	_ = d.Run(context.Background(), r)
	b.SetBytes(int64(len(clip)))
	b.ReportAllocs()
	b.ResetTimer()
	r.left = b.N
	_ = d.Run(context.Background(), r)
}

// demuxLoopReader hands its clip over left times in 1316-byte reads.
type demuxLoopReader struct {
	clip []byte
	off  int
	left int
}

func (r *demuxLoopReader) Read(p []byte) (int, error) {
	if r.off == len(r.clip) {
		if r.left <= 1 {
			return 0, io.EOF
		}
		r.left--
		r.off = 0
	}
	n := copy(p[:min(len(p), 1316)], r.clip[r.off:])
	r.off += n
	return n, nil
}

func demuxTestFirst(sink *demuxTestSink, track int) *engine.Frame {
	for _, f := range sink.frames {
		if f.Track == track {
			return f
		}
	}
	return &engine.Frame{}
}

type demuxDiscardSink struct{}

func (demuxDiscardSink) SetTracks([]engine.Track)   {}
func (demuxDiscardSink) WriteFrame(f *engine.Frame) {}
