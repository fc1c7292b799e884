package mpegts

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/livedge/livedge/engine"
)

func muxTestMux(t testing.TB, tracks []engine.Track, frames []*engine.Frame) []byte {
	t.Helper()
	m := NewMuxer()
	if err := m.SetTracks(tracks); err != nil {
		t.Fatal(err)
	}
	out := m.WritePATPMT(nil)
	for _, f := range frames {
		out = m.WriteFrame(out, f)
	}
	return out
}

func TestMuxerRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start int64
	}{
		{"zero", 0},
		{"wraps 2^33", 1<<33 - 2*engine.Timescale},
	} {
		t.Run(tc.name, func(t *testing.T) {
			frames := muxTestFrames(tc.start, 150, 30)
			got := muxTestDemux(t, muxTestMux(t, muxTestTracks, frames))
			if len(got) != len(frames) {
				t.Fatalf("demuxed %d access units, muxed %d", len(got), len(frames))
			}
			for i, f := range frames {
				g := got[i]
				if want := uint16(256 + f.Track); g.pid != want {
					t.Fatalf("frame %d: pid %d, want %d", i, g.pid, want)
				}
				if g.pts != f.PTS&muxTSMask || g.dts != f.DTS&muxTSMask {
					t.Fatalf("frame %d: pts/dts %d/%d, want %d/%d", i, g.pts, g.dts, f.PTS&muxTSMask, f.DTS&muxTSMask)
				}
				if len(g.data) != len(f.Data) {
					t.Fatalf("frame %d: %d units, want %d", i, len(g.data), len(f.Data))
				}
				for k := range f.Data {
					if !bytes.Equal(g.data[k], f.Data[k]) {
						t.Fatalf("frame %d unit %d differs", i, k)
					}
				}
			}
		})
	}
}

func TestMuxerH265RoundTrip(t *testing.T) {
	tracks := []engine.Track{{Codec: engine.CodecH265}}
	var frames []*engine.Frame
	for i := range 20 {
		nal := muxTestNAL(0x02, 500+i, byte(i)) // TRAIL_R
		if i%10 == 0 {
			nal = muxTestNAL(19<<1, 2000, byte(i)) // IDR_W_RADL
		}
		nal = append(nal[:1:1], append([]byte{0x01}, nal[1:]...)...)
		frames = append(frames, &engine.Frame{DTS: int64(i) * 3600, PTS: int64(i) * 3600, Key: i%10 == 0, Data: [][]byte{nal}})
	}
	got := muxTestDemux(t, muxTestMux(t, tracks, frames))
	if len(got) != len(frames) {
		t.Fatalf("demuxed %d, want %d", len(got), len(frames))
	}
	for i, f := range frames {
		if !bytes.Equal(got[i].data[0], f.Data[0]) || got[i].pts != f.PTS {
			t.Fatalf("frame %d differs", i)
		}
	}
}

// TestMuxerPackets checks the transport layer: continuity counters, PCR
// placement and spacing, random access flags and the PSI CRCs.
func TestMuxerPackets(t *testing.T) {
	for _, tc := range []struct {
		name  string
		video int64 // DTS step of video frames
	}{
		{"30fps", 3000},
		{"10fps", 9000},
		{"2fps", 45000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var frames []*engine.Frame
			aDTS := int64(0)
			for i := range 60 {
				dts := int64(i) * tc.video
				frames = append(frames, &engine.Frame{Track: 0, DTS: dts, PTS: dts, Key: i%15 == 0,
					Data: [][]byte{muxTestNAL(0x41, 100+i*50, 3)}})
				for ; aDTS < dts+tc.video; aDTS += 1920 {
					frames = append(frames, &engine.Frame{Track: 1, DTS: aDTS, PTS: aDTS, Key: true, Data: [][]byte{muxTestNAL(0x21, 150, 5)}})
				}
			}
			pkts := muxTestParse(t, muxTestMux(t, muxTestTracks, frames))

			lastCC := map[uint16]int{}
			lastPCR := int64(-1)
			keyIdx, vIdx := 0, 0
			for i, p := range pkts {
				if prev, ok := lastCC[p.pid]; ok {
					want := prev
					if p.hasPayload {
						want = (prev + 1) & 15
					}
					if int(p.cc) != want {
						t.Fatalf("packet %d pid %d: cc %d, want %d", i, p.pid, p.cc, want)
					}
				}
				lastCC[p.pid] = int(p.cc)
				if p.pcrF {
					if p.pid != 256 {
						t.Fatalf("PCR on pid %d", p.pid)
					}
					if gap := (p.pcr - lastPCR) & muxTSMask; lastPCR >= 0 && gap > muxPCRInterval {
						t.Fatalf("packet %d: PCR gap %d > %d", i, gap, muxPCRInterval)
					}
					lastPCR = p.pcr
				}
				if p.pid == 256 && p.pusi {
					f := frames[keyIdx]
					for f.Track != 0 {
						keyIdx++
						f = frames[keyIdx]
					}
					keyIdx++
					if p.randomAccess != f.Key {
						t.Fatalf("video frame %d: random_access %v, key %v", vIdx, p.randomAccess, f.Key)
					}
					if f.Key && !p.pcrF {
						t.Fatalf("video keyframe %d without PCR", vIdx)
					}
					if lead := (f.DTS - p.pcr) & muxTSMask; p.pcrF && lead != muxPCRDelay {
						t.Fatalf("PCR %d is %d before DTS %d, want %d", p.pcr, lead, f.DTS, muxPCRDelay)
					}
					vIdx++
				}
				if p.pid == 257 && p.randomAccess {
					t.Fatal("random_access_indicator on audio of a program with video")
				}
				if p.pid == muxPIDPAT || p.pid == muxPIDPMT {
					sec := p.payload[1:]
					l := int(sec[1]&0x0F)<<8 | int(sec[2])
					if crc32(sec[:3+l]) != 0 {
						t.Fatalf("pid %d: bad CRC", p.pid)
					}
				}
			}
		})
	}
}

func TestMuxerSetTracks(t *testing.T) {
	m := NewMuxer()
	err := m.SetTracks([]engine.Track{
		{Codec: engine.CodecUnknown},
		{Codec: engine.CodecAAC, Config: []byte{0xF8}}, // truncated config
		{Codec: engine.CodecAAC, Config: muxTestASC},
		{Codec: engine.CodecH265},
	})
	if err == nil || !strings.Contains(err.Error(), "track 1") {
		t.Fatalf("err = %v, want one about track 1", err)
	}
	if m.carries(0) || m.carries(1) || !m.carries(2) || !m.carries(3) {
		t.Fatal("wrong tracks carried")
	}
	if m.tracks[2].pid != 256 || m.tracks[3].pid != 257 || m.pcrPID != 257 {
		t.Fatalf("pids %d %d pcr %d", m.tracks[2].pid, m.tracks[3].pid, m.pcrPID)
	}
	if out := m.WriteFrame(nil, &engine.Frame{Track: 0, Data: [][]byte{{1}}}); len(out) != 0 {
		t.Fatal("frame of a skipped track was muxed")
	}
	if err := m.SetTracks([]engine.Track{{Codec: engine.CodecUnknown}}); err == nil {
		t.Fatal("no error without usable tracks")
	}

	// PMT lists stream types in track order with the PCR PID.
	if err := m.SetTracks(muxTestTracks); err != nil {
		t.Fatal(err)
	}
	pkts := muxTestParse(t, m.WritePATPMT(nil))
	pmt := pkts[1].payload[1:]
	if pcr := int(pmt[8]&0x1F)<<8 | int(pmt[9]); pcr != 256 {
		t.Fatalf("PCR PID %d", pcr)
	}
	if pmt[12] != 0x1B || pmt[17] != 0x0F {
		t.Fatalf("stream types %#x %#x", pmt[12], pmt[17])
	}
}

func TestMuxerADTSTemplate(t *testing.T) {
	for _, tc := range []struct {
		name string
		asc  []byte
		want [3]byte // bytes 1..3 of the header (profile, rate, channels)
		ok   bool
	}{
		{"lc 48k stereo", []byte{0x11, 0x90}, [3]byte{0xF1, 0x4C, 0x80}, true},
		{"lc 44.1k mono", []byte{0x12, 0x08}, [3]byte{0xF1, 0x50, 0x40}, true},
		// HE-AAC explicit: SBR(5), 24 kHz core, stereo, ext 48 kHz, core LC.
		{"he-aac", []byte{0x2B, 0x11, 0x88, 0x00}, [3]byte{0xF1, 0x58, 0x80}, true},
		{"explicit standard rate", []byte{0x17, 0x80, 0x5D, 0xC0, 0x10}, [3]byte{0xF1, 0x4C, 0x80}, true},
		{"empty", nil, [3]byte{}, false},
		{"object type 39 (ER AAC ELD)", []byte{0xF8, 0xE6, 0x20}, [3]byte{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := muxADTSTemplate(tc.asc)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v", err)
			}
			if tc.ok && [3]byte{h[1], h[2], h[3]} != tc.want {
				t.Fatalf("header % x, want ..% x..", h, tc.want)
			}
		})
	}
}

// TestMuxerFFprobe remuxes an ffmpeg clip and has ffprobe count the packets
// and ffmpeg decode it without errors.
func TestMuxerFFprobe(t *testing.T) {
	tracks, frames := muxTestClip(t)
	path := filepath.Join(t.TempDir(), "out.ts")
	if err := os.WriteFile(path, muxTestMux(t, tracks, frames), 0o644); err != nil {
		t.Fatal(err)
	}
	var video, audio int
	for _, f := range frames {
		if tracks[f.Track].Codec.IsVideo() {
			video++
		} else {
			audio++
		}
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-count_packets",
		"-show_entries", "stream=codec_name,nb_read_packets", "-of", "csv=p=0", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	// ffprobe lists the streams once per program and once on their own.
	got := strings.Fields(strings.TrimSpace(string(out)))
	got = got[len(got)-len(tracks):]
	want := []string{"h264," + strconv.Itoa(video), "aac," + strconv.Itoa(audio)}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("ffprobe: %q, want %q", got, want)
	}
	out, err = exec.Command("ffmpeg", "-nostdin", "-v", "error", "-i", path, "-f", "null", "-").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("ffmpeg decode: %v\n%s", err, out)
	}
}

func TestMuxerZeroAllocs(t *testing.T) {
	m := NewMuxer()
	if err := m.SetTracks(muxTestTracks); err != nil {
		t.Fatal(err)
	}
	frames := muxTestFrames(0, 60, 30)
	buf := make([]byte, 0, 1<<20)
	allocs := testing.AllocsPerRun(10, func() {
		buf = m.WritePATPMT(buf[:0])
		for _, f := range frames {
			buf = m.WriteFrame(buf[:0], f)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per run", allocs)
	}
}

func BenchmarkMuxerWriteFrame(b *testing.B) {
	m := NewMuxer()
	if err := m.SetTracks(muxTestTracks); err != nil {
		b.Fatal(err)
	}
	frames := muxTestFrames(0, 300, 30)
	size := 0
	for _, f := range frames {
		size += f.Size()
	}
	buf := make([]byte, 0, 1<<20)
	b.SetBytes(int64(size / len(frames)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		buf = m.WriteFrame(buf[:0], frames[i%len(frames)])
	}
}
