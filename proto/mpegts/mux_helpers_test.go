package mpegts

import (
	"bytes"
	"errors"
	"io"
	"testing"

	mcmpegts "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	mccodecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"

	"github.com/livedge/livedge/engine"
	"github.com/livedge/livedge/proto/internal/tsclip"
)

// muxTestASC is an AudioSpecificConfig: AAC-LC, 48 kHz, stereo.
var muxTestASC = []byte{0x11, 0x90}

// muxTestNAL makes a fake NAL unit of the given header byte and size whose
// payload has no start-code emulation.
func muxTestNAL(header byte, size int, fill byte) []byte {
	b := make([]byte, size)
	b[0] = header
	for i := 1; i < size; i++ {
		b[i] = fill | 0x80
	}
	return b
}

// muxTestFrames makes an interleaved H.264 (30 fps, GOP gop, with B-frame
// reordering) + AAC (48 kHz) sequence starting at DTS start.
func muxTestFrames(start int64, videoFrames, gop int) []*engine.Frame {
	var out []*engine.Frame
	const vStep, aStep = 3000, 1920
	aDTS := start
	for i := range videoFrames {
		dts := start + int64(i)*vStep
		key := i%gop == 0
		var nals [][]byte
		if key {
			nals = [][]byte{muxTestNAL(0x67, 12, 1), muxTestNAL(0x68, 4, 2), muxTestNAL(0x65, 3000+i, byte(i))}
		} else {
			nals = [][]byte{muxTestNAL(0x41, 300+i*7, byte(i))}
		}
		out = append(out, &engine.Frame{Track: 0, DTS: dts, PTS: dts + 2*vStep, Key: key, Data: nals})
		for aDTS <= dts+vStep/2 {
			out = append(out, &engine.Frame{Track: 1, DTS: aDTS, PTS: aDTS, Key: true,
				Data: [][]byte{muxTestNAL(0x21, 200+int(aDTS/aStep%50), byte(aDTS))}})
			aDTS += aStep
		}
	}
	return out
}

var muxTestTracks = []engine.Track{{Codec: engine.CodecH264}, {Codec: engine.CodecAAC, Config: muxTestASC}}

// muxTestDemuxed is what mediacommon's reader gives back for one PES.
type muxTestDemuxed struct {
	pid      uint16
	pts, dts int64
	data     [][]byte
}

// muxTestDemux reads a TS with mediacommon and returns the access units in
// order.
func muxTestDemux(t testing.TB, ts []byte) []muxTestDemuxed {
	t.Helper()
	r := &mcmpegts.Reader{R: bytes.NewReader(ts)}
	if err := r.Initialize(); err != nil {
		t.Fatalf("mediacommon reader: %v", err)
	}
	var out []muxTestDemuxed
	r.OnDecodeError(func(err error) { t.Errorf("decode error: %v", err) })
	for _, tr := range r.Tracks() {
		switch tr.Codec.(type) {
		case *mccodecs.H264:
			r.OnDataH264(tr, func(pts, dts int64, au [][]byte) error {
				out = append(out, muxTestDemuxed{tr.PID, pts, dts, au})
				return nil
			})
		case *mccodecs.H265:
			r.OnDataH265(tr, func(pts, dts int64, au [][]byte) error {
				out = append(out, muxTestDemuxed{tr.PID, pts, dts, au})
				return nil
			})
		case *mccodecs.MPEG4Audio:
			r.OnDataMPEG4Audio(tr, func(pts int64, aus [][]byte) error {
				out = append(out, muxTestDemuxed{tr.PID, pts, pts, aus})
				return nil
			})
		}
	}
	for {
		err := r.Read()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
	}
}

// muxTestClip is a real 4 s H.264+AAC clip as engine frames.
func muxTestClip(t testing.TB) ([]engine.Track, []*engine.Frame) {
	return tsclip.Frames(t, 4)
}

// muxTestPacket is one parsed TS packet header.
type muxTestPacket struct {
	pid                      uint16
	pusi                     bool
	cc                       uint8
	hasPayload, hasAF        bool
	disc, randomAccess, pcrF bool
	pcr                      int64
	payload                  []byte
}

func muxTestParse(t testing.TB, ts []byte) []muxTestPacket {
	t.Helper()
	if len(ts)%muxPacketSize != 0 {
		t.Fatalf("length %d is not a multiple of 188", len(ts))
	}
	var out []muxTestPacket
	for off := 0; off < len(ts); off += muxPacketSize {
		b := ts[off : off+muxPacketSize]
		if b[0] != 0x47 {
			t.Fatalf("packet at %d: sync byte %#x", off, b[0])
		}
		p := muxTestPacket{
			pid:        uint16(b[1]&0x1F)<<8 | uint16(b[2]),
			pusi:       b[1]&0x40 != 0,
			cc:         b[3] & 0x0F,
			hasAF:      b[3]&0x20 != 0,
			hasPayload: b[3]&0x10 != 0,
		}
		pos := 4
		if p.hasAF {
			l := int(b[4])
			if 5+l > muxPacketSize {
				t.Fatalf("packet at %d: adaptation field length %d", off, l)
			}
			if l > 0 {
				fl := b[5]
				p.disc, p.randomAccess, p.pcrF = fl&0x80 != 0, fl&0x40 != 0, fl&0x10 != 0
				if p.pcrF {
					p.pcr = int64(b[6])<<25 | int64(b[7])<<17 | int64(b[8])<<9 | int64(b[9])<<1 | int64(b[10]>>7)
				}
			}
			pos += 1 + l
		}
		if !p.hasPayload && pos != muxPacketSize {
			t.Fatalf("packet at %d: no payload but adaptation field ends at %d", off, pos)
		}
		p.payload = b[pos:]
		out = append(out, p)
	}
	return out
}
