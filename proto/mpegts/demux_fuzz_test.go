package mpegts

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
)

// FuzzDemux feeds arbitrary bytes to the demuxer. It must neither panic nor
// stop early, and whatever it hands the sink must keep the engine's contract
// (checked by demuxTestSink). The committed corpus holds tiny real ffmpeg
// clips (H.264 + AAC, H.265; SEI removed to keep them small, as the fuzzer
// minimizes every new input in time quadratic in its size); the seeds below
// are hand-made edge cases.
func FuzzDemux(f *testing.F) {
	var m demuxTestMux
	m.pat(1, 0x1000)
	m.pmt(1, 0x1000, demuxStreamTypeH264, 0x100, demuxStreamTypeAAC, 0x101, demuxStreamTypeH265, 0x102)
	m.pes(0x100, 0xe0, 7200, 3600, demuxTestAnnexB([]byte{0x67, 0x42, 0x1e}, []byte{0x68, 0xce}, []byte{0x65, 0x88, 0x84}), false)
	adts := append(demuxTestADTS([]byte{1, 2, 3}), demuxTestADTS([]byte{4, 5, 6, 7})...)
	m.pes(0x101, 0xc0, 3600, -1, adts[:12], true)
	m.pes(0x101, 0xc0, -1, -1, adts[12:], true)
	m.pes(0x102, 0xe0, 3600, -1, demuxTestAnnexB([]byte{0x40, 0x01, 0x0c}, []byte{0x26, 0x01, 0xaf}), false)
	m.pes(0x100, 0xe0, 10800, 7200, demuxTestAnnexB([]byte{0x41, 0x9a, 0x02}), false)
	f.Add(m.out)

	// Timestamps across the 33-bit wrap, junk, then another program.
	var w demuxTestMux
	w.pat(1, 0x1000)
	w.pmt(1, 0x1000, demuxStreamTypeH264, 0x100)
	w.pes(0x100, 0xe0, demuxWrap-3600, -1, demuxTestAnnexB([]byte{0x65, 0x88}), false)
	w.pes(0x100, 0xe0, 0, -1, demuxTestAnnexB([]byte{0x41, 0x9a}), false)
	w.out = append(w.out, 0x47, 0x00, 0x47, 0x12, 0x34)
	w.pat(2, 0x1001)
	w.pmt(2, 0x1001, demuxStreamTypeAAC, 0x101)
	w.pes(0x101, 0xc0, 90000, -1, demuxTestADTS([]byte{9, 9}), true)
	f.Add(w.out)

	// A picture cut into bounded PES, only the first with a PTS.
	var a demuxTestMux
	a.pat(1, 0x1000)
	a.pmt(1, 0x1000, demuxStreamTypeH264, 0x100)
	au := demuxTestAnnexB([]byte{0x67, 0x42}, []byte{0x68, 0xce}, bytes.Repeat([]byte{0x65}, 300))
	a.pes(0x100, 0xe0, 3600, -1, au[:100], true)
	a.pes(0x100, 0xe0, -1, -1, au[100:], true)
	a.pes(0x100, 0xe0, 7200, -1, demuxTestAnnexB([]byte{0x41, 0x9a}), true)
	f.Add(a.out)

	f.Fuzz(func(t *testing.T, data []byte) {
		chunk := len(data) + 1
		if len(data) > 0 {
			chunk = 1 + int(data[0])*7
		}
		sink := &demuxTestSink{}
		err := NewDemuxer(sink, demuxTestLog).Run(context.Background(), &demuxChunkReader{b: data, chunk: chunk})
		if !errors.Is(err, io.EOF) {
			t.Fatalf("Run: %v, want EOF", err)
		}
		if sink.err != nil {
			t.Fatal(sink.err)
		}
	})
}
