package mpegts

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/livedge/livedge/engine"
)

// demuxTestSink records what a demuxer hands over and checks the engine's
// contract on every call.
type demuxTestSink struct {
	tracks  [][]engine.Track
	frames  []*engine.Frame
	err     error
	lastDTS map[int]int64
}

func (s *demuxTestSink) fail(format string, args ...any) {
	if s.err == nil {
		s.err = fmt.Errorf(format, args...)
	}
}

func (s *demuxTestSink) SetTracks(tracks []engine.Track) {
	if len(tracks) == 0 {
		s.fail("SetTracks with no tracks")
	}
	s.tracks = append(s.tracks, tracks)
	s.lastDTS = map[int]int64{}
}

func (s *demuxTestSink) WriteFrame(f *engine.Frame) {
	s.frames = append(s.frames, f)
	if len(s.tracks) == 0 {
		s.fail("frame before SetTracks")
		return
	}
	tracks := s.tracks[len(s.tracks)-1]
	if f.Track < 0 || f.Track >= len(tracks) {
		s.fail("frame track %d out of %d tracks", f.Track, len(tracks))
		return
	}
	if len(f.Data) == 0 {
		s.fail("frame without data")
	}
	for _, b := range f.Data {
		if len(b) == 0 {
			s.fail("frame with an empty buffer")
		}
	}
	codec := tracks[f.Track].Codec
	if !codec.IsVideo() && (len(f.Data) != 1 || !f.Key) {
		s.fail("audio frame with %d buffers, key %v", len(f.Data), f.Key)
	}
	if f.PTS < f.DTS {
		s.fail("PTS %d before DTS %d", f.PTS, f.DTS)
	}
	if last, ok := s.lastDTS[f.Track]; ok && f.DTS < last && last-f.DTS < demuxTimelineReset {
		s.fail("track %d DTS went back from %d to %d", f.Track, last, f.DTS)
	}
	s.lastDTS[f.Track] = f.DTS
}

// count returns the frames of a codec in the last announced tracks.
func (s *demuxTestSink) count(codec engine.Codec) int {
	n := 0
	for _, f := range s.frames {
		if len(s.tracks) > 0 && f.Track < len(s.tracks[len(s.tracks)-1]) && s.tracks[len(s.tracks)-1][f.Track].Codec == codec {
			n++
		}
	}
	return n
}

// demuxTestFFmpeg makes a clip with ffmpeg, or skips the test without it.
func demuxTestFFmpeg(t testing.TB, args ...string) []byte {
	t.Helper()
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed")
	}
	out := filepath.Join(t.TempDir(), "clip.ts")
	cmd := exec.Command(ffmpeg, append(append([]string{"-hide_banner", "-loglevel", "error", "-y"}, args...), "-f", "mpegts", out)...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// demuxTestClipArgs is the H.264 + AAC test clip of the brief.
func demuxTestClipArgs(seconds string) []string {
	return []string{"-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", "-f", "lavfi", "-i", "sine",
		"-t", seconds, "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "25", "-c:a", "aac"}
}

// demuxTestMux writes hand-made TS for cases a real muxer does not produce.
type demuxTestMux struct {
	out []byte
	cc  map[int]byte
}

func (m *demuxTestMux) packets(pid int, payload []byte) {
	if m.cc == nil {
		m.cc = map[int]byte{}
	}
	first := true
	for first || len(payload) > 0 {
		p := make([]byte, 4, demuxPacketSize)
		p[0] = demuxSyncByte
		p[1] = byte(pid >> 8 & 0x1f)
		if first {
			p[1] |= 0x40
		}
		p[2] = byte(pid)
		p[3] = 0x10 | m.cc[pid]&0x0f
		m.cc[pid]++
		n := min(len(payload), 184)
		if n < 184 {
			p[3] |= 0x20
			afLen := 184 - n - 1
			p = append(p, byte(afLen))
			if afLen > 0 {
				p = append(p, 0)
				p = append(p, bytes.Repeat([]byte{0xff}, afLen-1)...)
			}
		}
		p = append(p, payload[:n]...)
		payload = payload[n:]
		m.out = append(m.out, p...)
		first = false
	}
}

func (m *demuxTestMux) section(pid int, tableID byte, idExt int, body []byte) {
	s := []byte{tableID, 0, 0, byte(idExt >> 8), byte(idExt), 0xc1, 0, 0}
	s = append(s, body...)
	length := len(s) - 3 + 4
	s[1] = 0xb0 | byte(length>>8)
	s[2] = byte(length)
	crc := crc32(s)
	s = append(s, byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc))
	m.packets(pid, append([]byte{0}, s...))
}

func (m *demuxTestMux) pat(program, pmtPID int) {
	m.section(0, 0x00, 1, []byte{byte(program >> 8), byte(program), 0xe0 | byte(pmtPID>>8), byte(pmtPID)})
}

// pmt lists streams as stream type, PID pairs.
func (m *demuxTestMux) pmt(program, pmtPID int, streams ...int) {
	body := []byte{0xe1, 0x00, 0xf0, 0x00}
	for i := 0; i+1 < len(streams); i += 2 {
		body = append(body, byte(streams[i]), 0xe0|byte(streams[i+1]>>8), byte(streams[i+1]), 0xf0, 0x00)
	}
	m.section(pmtPID, 0x02, program, body)
}

func demuxTestTimestamp(prefix byte, ts int64) []byte {
	return []byte{
		prefix<<4 | byte(ts>>29&0x0e) | 1,
		byte(ts >> 22), byte(ts>>14) | 1,
		byte(ts >> 7), byte(ts<<1) | 1,
	}
}

// pes writes a PES; pts < 0 writes none; bounded sets PES_packet_length.
func (m *demuxTestMux) pes(pid int, streamID byte, pts, dts int64, data []byte, bounded bool) {
	var hdr []byte
	switch {
	case pts < 0:
		hdr = []byte{0x80, 0x00, 0}
	case dts < 0 || dts == pts:
		hdr = append([]byte{0x80, 0x80, 5}, demuxTestTimestamp(2, pts)...)
	default:
		hdr = append([]byte{0x80, 0xc0, 10}, demuxTestTimestamp(3, pts)...)
		hdr = append(hdr, demuxTestTimestamp(1, dts)...)
	}
	pes := []byte{0, 0, 1, streamID, 0, 0}
	if bounded {
		n := len(hdr) + len(data)
		pes[4], pes[5] = byte(n>>8), byte(n)
	}
	pes = append(pes, hdr...)
	m.packets(pid, append(pes, data...))
}

// demuxTestADTS wraps an AU into an ADTS frame (AAC LC, 48 kHz, stereo).
func demuxTestADTS(au []byte) []byte {
	n := len(au) + 7
	return append([]byte{0xff, 0xf1, 0x4c, 0x80 | byte(n>>11), byte(n >> 3), byte(n<<5) | 0x1f, 0xfc}, au...)
}

// demuxTestAnnexB joins NAL units with start codes.
func demuxTestAnnexB(nalus ...[]byte) []byte {
	var b []byte
	for _, n := range nalus {
		b = append(b, 0, 0, 0, 1)
		b = append(b, n...)
	}
	return b
}
