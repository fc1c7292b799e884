package mpegts

import (
	"bytes"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"

	"github.com/livedge/livedge/engine"
)

// demuxMaxNALUs bounds the NAL units of one access unit. It is well above
// mediacommon's 50: broadcast encoders may cut a picture into one slice per
// macroblock row (68 for 1080p).
const demuxMaxNALUs = 512

var demuxStartCode = []byte{0, 0, 1}

// demuxSpan is a NAL unit's position in a PES payload.
type demuxSpan struct{ start, end int }

// videoPES takes a complete video PES whose payload starts at start. A PES
// with a PTS starts an access unit; one without continues the held one
// (encoders that cut big pictures into PES of bounded length do this).
func (d *Demuxer) videoPES(s *demuxStream, start int, pts, dts int64, hasPTS bool) {
	if hasPTS {
		d.emitVideo(s)
		// Swap buffers rather than copy: the PES buffer becomes the held
		// access unit, the old access unit buffer takes the next PES.
		s.au, s.pes = s.pes, s.au[:0]
		s.auStart, s.auPTS, s.auDTS, s.auHeld = start, pts, dts, true
		return
	}
	if !s.auHeld {
		d.decodeError("video PES without PTS and no access unit to continue", "pid", s.pid)
		return
	}
	es := s.pes[start:]
	if len(s.au)+len(es) > demuxMaxVideoPES {
		d.decodeError("access unit too large, dropped", "pid", s.pid, "limit", demuxMaxVideoPES)
		s.auHeld = false
		return
	}
	s.au = demuxAppend(s.au, es, demuxMaxVideoPES)
}

// demuxContinuesAU tells whether a PES starting with payload continues the
// held access unit: it has no PTS. When unsure, it does not.
func demuxContinuesAU(payload []byte) bool {
	return len(payload) >= 9 && payload[0] == 0 && payload[1] == 0 && payload[2] == 1 &&
		payload[6]&0xc0 == 0x80 && payload[7]&0x80 == 0
}

// emitVideo turns the held access unit (Annex B) into a frame of NAL units
// without start codes.
func (d *Demuxer) emitVideo(s *demuxStream) {
	if !s.auHeld {
		return
	}
	s.auHeld = false
	es, pts, dts := s.au[s.auStart:], s.auPTS, s.auDTS
	spans := demuxSplitAnnexB(es, d.nalScratch[:0])
	d.nalScratch = spans[:0]
	if len(spans) > demuxMaxNALUs {
		d.decodeError("too many NAL units in an access unit", "pid", s.pid, "nalus", len(spans))
		return
	}
	kept, size := 0, 0
	for _, sp := range spans {
		if demuxKeepNALU(s.codec, es[sp.start:sp.end]) {
			spans[kept] = sp
			kept++
			size += sp.end - sp.start
		}
	}
	spans = spans[:kept]
	if kept == 0 {
		d.decodeError("access unit without NAL units dropped", "pid", s.pid)
		return
	}
	key := demuxIsKey(s.codec, es, spans)
	if !s.keySeen {
		if !key {
			return
		}
		s.keySeen = true
	}
	// One copy into a buffer the frame owns: the PES buffer is reused.
	data := make([]byte, size)
	nalus := make([][]byte, kept)
	off := 0
	for i, sp := range spans {
		n := copy(data[off:], es[sp.start:sp.end])
		nalus[i] = data[off : off+n : off+n]
		off += n
	}
	d.emit(s, &engine.Frame{PTS: pts, DTS: dts, Key: key, Data: nalus})
}

// demuxSplitAnnexB appends the NAL units of an Annex B byte stream to spans,
// at most demuxMaxNALUs+1 of them.
// Bytes before the first start code are not a NAL unit; trailing zero bytes
// (the first byte of a 4-byte start code, trailing_zero_8bits) are dropped.
func demuxSplitAnnexB(b []byte, spans []demuxSpan) []demuxSpan {
	i := bytes.Index(b, demuxStartCode)
	if i < 0 {
		return spans
	}
	start := i + 3
	for {
		end, next := len(b), -1
		if j := bytes.Index(b[start:], demuxStartCode); j >= 0 {
			end = start + j
			next = end + 3
		}
		e := end
		for e > start && b[e-1] == 0 {
			e--
		}
		if e > start {
			spans = append(spans, demuxSpan{start, e})
			if len(spans) > demuxMaxNALUs {
				return spans // too many: the caller drops the access unit
			}
		}
		if next < 0 {
			return spans
		}
		start = next
	}
}

// demuxKeepNALU drops the NAL units a frame does not carry: access unit
// delimiters (muxers write their own) and filler data (CBR padding of the
// source link).
func demuxKeepNALU(codec engine.Codec, nalu []byte) bool {
	if codec == engine.CodecH265 {
		if len(nalu) < 2 {
			return false // shorter than the H.265 NAL unit header
		}
		switch h265.NALUType(nalu[0] >> 1 & 0x3f) {
		case h265.NALUType_AUD_NUT, h265.NALUType_FD_NUT:
			return false
		}
		return true
	}
	switch h264.NALUType(nalu[0] & 0x1f) {
	case h264.NALUTypeAccessUnitDelimiter, h264.NALUTypeFillerData:
		return false
	}
	return true
}

// demuxIsKey tells whether an access unit is a random access point.
// H.265: any IRAP picture (BLA, IDR, CRA). H.264: an IDR picture, or an
// intra picture that carries its SPS: broadcast encoders with open GOPs
// send only those after the first IDR.
func demuxIsKey(codec engine.Codec, es []byte, spans []demuxSpan) bool {
	if codec == engine.CodecH265 {
		for _, sp := range spans {
			typ := h265.NALUType(es[sp.start] >> 1 & 0x3f)
			if typ >= h265.NALUType_BLA_W_LP && typ <= h265.NALUType_RSV_IRAP_VCL23 {
				return true
			}
		}
		return false
	}
	hasSPS, intra := false, false
	for _, sp := range spans {
		switch h264.NALUType(es[sp.start] & 0x1f) {
		case h264.NALUTypeIDR:
			return true
		case h264.NALUTypeSPS:
			hasSPS = true
		case h264.NALUTypeNonIDR:
			if !intra {
				intra = demuxH264Intra(es[sp.start+1 : sp.end])
			}
		}
	}
	return hasSPS && intra
}

// demuxH264Intra tells whether a slice header (after the NAL unit header)
// is of an I or SI slice: first_mb_in_slice ue(v), then slice_type ue(v).
// Emulation prevention bytes cannot occur this early in a real header.
func demuxH264Intra(header []byte) bool {
	r := demuxBitReader{b: header}
	if _, ok := r.ue(); !ok {
		return false
	}
	sliceType, ok := r.ue()
	if !ok {
		return false
	}
	return sliceType%5 == 2 || sliceType%5 == 4
}

// demuxBitReader reads Exp-Golomb codes, MSB first.
type demuxBitReader struct {
	b   []byte
	pos int // in bits
}

func (r *demuxBitReader) bit() (uint32, bool) {
	if r.pos >= len(r.b)*8 {
		return 0, false
	}
	v := uint32(r.b[r.pos/8]>>(7-r.pos%8)) & 1
	r.pos++
	return v, true
}

func (r *demuxBitReader) ue() (uint32, bool) {
	zeros := 0
	for {
		b, ok := r.bit()
		if !ok {
			return 0, false
		}
		if b == 1 {
			break
		}
		zeros++
		if zeros > 31 {
			return 0, false
		}
	}
	v := uint32(0)
	for range zeros {
		b, ok := r.bit()
		if !ok {
			return 0, false
		}
		v = v<<1 | b
	}
	return v + (1<<zeros - 1), true
}
