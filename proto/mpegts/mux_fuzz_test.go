package mpegts

import (
	"bytes"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/livedge/livedge/engine"
)

// FuzzMuxADTSConfig parses arbitrary AudioSpecificConfigs: no panics, and an
// accepted one yields ADTS headers a decoder accepts.
func FuzzMuxADTSConfig(f *testing.F) {
	for _, seed := range [][]byte{
		{0x11, 0x90}, {0x12, 0x08}, {0x2B, 0x11, 0x88, 0x00}, {0x17, 0x80, 0x5D, 0xC0, 0x10},
		{0xF8, 0xE6, 0x20}, {}, {0xFF}, {0x13, 0x10, 0x56, 0xE5, 0x98},
	} {
		f.Add(seed, 100)
	}
	f.Fuzz(func(t *testing.T, asc []byte, auSize int) {
		tmpl, err := muxADTSTemplate(asc)
		if err != nil {
			return
		}
		auSize = 1 + muxAbs(auSize)%(muxADTSMaxFrame-7)
		var h [7]byte
		muxADTSHeader(&h, &tmpl, auSize+7)
		au := bytes.Repeat([]byte{0xAB}, auSize)
		var pkts mpeg4audio.ADTSPackets
		if err := pkts.Unmarshal(append(h[:], au...)); err != nil {
			t.Fatalf("config % x: header % x rejected: %v", asc, h, err)
		}
		if len(pkts) != 1 || !bytes.Equal(pkts[0].AU, au) {
			t.Fatalf("config % x: AU not framed", asc)
		}
	})
}

func muxAbs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// FuzzMuxWriteFrame muxes arbitrary frames: no panics, and the output is
// always whole TS packets with continuous counters.
func FuzzMuxWriteFrame(f *testing.F) {
	f.Add(uint8(0), int64(0), int64(3000), true, []byte{0x65, 1, 2, 3}, uint8(1))
	f.Add(uint8(1), int64(1<<33-1), int64(-5), true, []byte{0xAB}, uint8(3))
	f.Add(uint8(2), int64(-90000), int64(0), false, []byte{}, uint8(0))
	f.Add(uint8(0), int64(1<<62), int64(1<<62), false, bytes.Repeat([]byte{9}, 400), uint8(7))
	f.Fuzz(func(t *testing.T, track uint8, dts, ptsOff int64, key bool, data []byte, split uint8) {
		m := NewMuxer()
		_ = m.SetTracks([]engine.Track{{Codec: engine.CodecH264}, {Codec: engine.CodecAAC, Config: muxTestASC}, {Codec: engine.CodecH265}})
		var parts [][]byte
		for n := int(split%8) + 1; len(data) > 0; n-- {
			k := len(data)
			if n > 1 {
				k = len(data) / 2
			}
			parts, data = append(parts, data[:k]), data[k:]
		}
		fr := &engine.Frame{Track: int(track % 4), DTS: dts, PTS: dts + ptsOff, Key: key, Data: parts}
		out := m.WritePATPMT(nil)
		out = m.WriteFrame(out, fr)
		out = m.WriteFrame(out, fr)
		muxTestParse(t, out)
	})
}
