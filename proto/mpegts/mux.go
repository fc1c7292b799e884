package mpegts

import (
	"errors"
	"fmt"
	"slices"

	"github.com/livedge/livedge/engine"
)

// Layout of the muxer's transport stream.
const (
	muxPacketSize  = 188
	muxPayloadSize = muxPacketSize - 4
	muxSyncByte    = 0x47
	muxPIDPAT      = 0x0000
	muxPIDPMT      = 0x1000
	muxFirstPID    = 256
	// muxMaxTracks bounds the elementary streams of the program; it keeps the
	// PMT within one packet.
	muxMaxTracks = 16
	muxTSMask    = 1<<33 - 1

	// muxPCRDelay is how far the PCR runs behind the DTS of the frame that
	// carries it (0.7 s, ffmpeg's default mux delay). A frame's bytes then
	// arrive before its decode time even when the source interleaves the
	// tracks up to that much apart, and players and set-top boxes see the
	// same buffering they get from ffmpeg-made streams.
	muxPCRDelay = 63000
	// muxPCRInterval is the longest DTS gap between PCRs (40 ms, the DVB
	// recommendation; ISO 13818-1 allows 100 ms).
	muxPCRInterval = 3600
)

// Stream types and PES stream ids of the codecs the muxer carries.
const (
	muxStreamTypeH264 = 0x1B
	muxStreamTypeH265 = 0x24
	muxStreamTypeAAC  = 0x0F // ADTS
	muxStreamIDVideo  = 0xE0
	muxStreamIDAudio  = 0xC0
)

// Access unit delimiters put in front of every video access unit (start code
// included): H.264 nal_unit_type 9 with primary_pic_type 7 (any), H.265
// nal_unit_type 35 with pic_type 2 (any).
var (
	muxAUDH264 = []byte{0, 0, 0, 1, 0x09, 0xF0}
	muxAUDH265 = []byte{0, 0, 0, 1, 0x46, 0x01, 0x50}
	muxStart   = []byte{0, 0, 0, 1}
)

// Muxer writes one program of MPEG-TS from frames. It appends complete
// 188-byte packets into the caller's buffer and allocates nothing per frame,
// so one Muxer per stream can feed every viewer.
//
// PIDs are 256, 257, ... in the order of the supported tracks; the PMT is on
// PID 0x1000. The PCR rides on the first video track (else the first track):
// at every keyframe and at least every 40 ms of DTS, with the value
// DTS - 0.7 s so that it never passes the DTS of the data it precedes. When
// the PCR track's frames are further apart (low frame rates), PCR-only
// packets on the PCR PID go in front of other tracks' frames. A PCR can only
// go out next to a frame, so a source that leaves longer gaps in all tracks
// (bursty audio with a low video rate) gets longer PCR gaps. Timestamps are
// written modulo 2^33.
//
// A Muxer is not safe for concurrent use.
type Muxer struct {
	tracks   []muxTrack // by engine track index
	pcrTrack int        // index into tracks, -1 without tracks
	pcrPID   uint16
	hasVideo bool
	version  uint8 // PMT/PAT version_number, bumped when the tracks change
	pat, pmt [muxPacketSize]byte

	patCC, pmtCC uint8
	cc           [muxMaxTracks]uint8 // by PID - muxFirstPID, kept across SetTracks
	discPending  [muxMaxTracks]bool  // next packet of that PID sets discontinuity_indicator
	pcrValid     bool
	pcrClock     int64 // the (unwrapped) DTS the last PCR was derived from

	// The PES being written: its pieces in order are pes header, prefix
	// (AUD or ADTS header), then the frame's data (video: start code + NAL
	// each).
	pesHeader [19]byte
	adts      [7]byte
	pieces    muxPieces
}

type muxTrack struct {
	ok         bool // a codec the muxer carries
	codec      engine.Codec
	pid        uint16
	streamType byte
	streamID   byte
	adts       [7]byte // ADTS header template (AAC)
	lastDTS    int64   // DTS of the track's last frame
	delta      int64   // DTS step to that frame: the expected step to the next
	seen       bool
	hasDelta   bool
}

// NewMuxer makes a muxer; SetTracks must be called before frames are written.
func NewMuxer() *Muxer {
	m := &Muxer{pcrTrack: -1, pcrPID: 0x1FFF}
	m.buildPSI()
	return m
}

// SetTracks sets the elementary streams of the program. Tracks of codecs the
// muxer does not carry are skipped (their frames are dropped), as are AAC
// tracks whose AudioSpecificConfig cannot be expressed in ADTS; the error
// reports those and a program without any usable track, but the muxer stays
// usable with the tracks it could take.
func (m *Muxer) SetTracks(tracks []engine.Track) error {
	m.tracks = m.tracks[:0]
	m.pcrTrack, m.pcrPID, m.hasVideo = -1, 0x1FFF, false
	m.version = (m.version + 1) & 0x1F
	m.pcrValid = false
	var errs []error
	pid := uint16(muxFirstPID)
	for i, tr := range tracks {
		t := muxTrack{codec: tr.Codec}
		switch tr.Codec {
		case engine.CodecH264:
			t.ok, t.streamType, t.streamID = true, muxStreamTypeH264, muxStreamIDVideo
		case engine.CodecH265:
			t.ok, t.streamType, t.streamID = true, muxStreamTypeH265, muxStreamIDVideo
		case engine.CodecAAC:
			h, err := muxADTSTemplate(tr.Config)
			if err != nil {
				errs = append(errs, fmt.Errorf("track %d: %w", i, err))
				break
			}
			t.ok, t.streamType, t.streamID, t.adts = true, muxStreamTypeAAC, muxStreamIDAudio, h
		}
		if t.ok && pid >= muxFirstPID+muxMaxTracks {
			errs = append(errs, fmt.Errorf("track %d: more than %d tracks", i, muxMaxTracks))
			t.ok = false
		}
		if t.ok {
			t.pid = pid
			pid++
			if m.pcrTrack < 0 || (!m.hasVideo && tr.Codec.IsVideo()) {
				m.pcrTrack, m.pcrPID = i, t.pid
			}
			m.hasVideo = m.hasVideo || tr.Codec.IsVideo()
		}
		m.tracks = append(m.tracks, t)
	}
	if m.pcrTrack < 0 {
		errs = append(errs, errors.New("no track with a codec MPEG-TS can carry"))
	}
	m.buildPSI()
	if len(errs) > 0 {
		return fmt.Errorf("mpegts mux: %w", errors.Join(errs...))
	}
	return nil
}

// Discontinuity marks a break in the timeline: the next packet of every
// elementary stream sets discontinuity_indicator and the next frame of the PCR
// track carries a PCR of the new time base.
func (m *Muxer) Discontinuity() {
	for i := range m.discPending {
		m.discPending[i] = true
	}
	for i := range m.tracks {
		m.tracks[i].seen, m.tracks[i].hasDelta = false, false
	}
	m.pcrValid = false
}

// carries reports whether frames of track i are muxed.
func (m *Muxer) carries(i int) bool {
	return i >= 0 && i < len(m.tracks) && m.tracks[i].ok
}

// WriteFrame appends the PES packet of one frame to dst as TS packets and
// returns the extended buffer. Frames of tracks the muxer does not carry, and
// empty or oversized frames, append nothing. With enough capacity in dst it
// does not allocate.
func (m *Muxer) WriteFrame(dst []byte, f *engine.Frame) []byte {
	if !m.carries(f.Track) {
		return dst
	}
	t := &m.tracks[f.Track]
	video := t.codec.IsVideo()

	p := &m.pieces
	*p = muxPieces{data: f.Data, video: video}
	size := 0
	if video {
		aud := muxAUDH264
		if t.codec == engine.CodecH265 {
			aud = muxAUDH265
		}
		first := true
		for _, nal := range f.Data {
			if len(nal) == 0 {
				continue
			}
			if first && muxIsAUD(t.codec, nal) {
				aud = nil // the source already sent one
			}
			first = false
			size += len(muxStart) + len(nal)
		}
		if size == 0 {
			return dst
		}
		p.prefix = aud
		size += len(aud)
	} else {
		au := f.Size()
		if au == 0 || au+len(m.adts) > muxADTSMaxFrame {
			return dst
		}
		muxADTSHeader(&m.adts, &t.adts, au+len(m.adts))
		p.prefix = m.adts[:]
		size = len(m.adts) + au
	}

	// PES header.
	h := m.pesHeader[:0]
	pts, dts := f.PTS&muxTSMask, f.DTS&muxTSMask
	withDTS := video && pts != dts
	hdrData := 5
	if withDTS {
		hdrData = 10
	}
	pesLen := 3 + hdrData + size
	if pesLen > 0xFFFF {
		pesLen = 0 // unbounded: allowed for video in TS
	}
	h = append(h, 0, 0, 1, t.streamID, byte(pesLen>>8), byte(pesLen), 0x84, 0x80, byte(hdrData))
	if withDTS {
		h[7] = 0xC0
		h = muxAppendTS(h, 0x3, pts)
		h = muxAppendTS(h, 0x1, dts)
	} else {
		h = muxAppendTS(h, 0x2, pts)
	}
	p.header = h

	withPCR, pcr := m.pcrFor(f, t)
	if withPCR && f.Track != m.pcrTrack {
		dst, withPCR = m.appendPCROnly(dst, pcr), false
	}
	randomAccess := f.Key && (video || !m.hasVideo)
	dst = m.appendPES(dst, t, len(h)+size, withPCR, pcr, randomAccess)
	m.pieces = muxPieces{} // hold no frame beyond the call
	return dst
}

// pcrFor decides whether a PCR goes out ahead of frame f and its value. On
// the PCR track: at keyframes, after a discontinuity, and when the next frame
// of the track is expected more than muxPCRInterval after the last PCR. On
// other tracks (the caller writes a PCR-only packet): when the PCR track
// alone would leave a longer gap (low frame rates) and this track's next
// frame would too, or when the gap is already exceeded.
func (m *Muxer) pcrFor(f *engine.Frame, t *muxTrack) (bool, int64) {
	if t.seen {
		t.delta, t.hasDelta = min(max(f.DTS-t.lastDTS, 0), engine.Timescale), true
	}
	t.lastDTS, t.seen = f.DTS, true
	due := false
	if f.Track == m.pcrTrack {
		due = f.Key || !m.pcrValid || f.DTS-m.pcrClock >= muxPCRInterval || f.DTS+t.delta-m.pcrClock > muxPCRInterval
	} else if m.pcrValid && f.DTS > m.pcrClock {
		p := &m.tracks[m.pcrTrack]
		due = f.DTS-m.pcrClock >= muxPCRInterval ||
			f.DTS+t.delta-m.pcrClock > muxPCRInterval && (!p.hasDelta || p.lastDTS+p.delta-m.pcrClock > muxPCRInterval)
	}
	if !due {
		return false, 0
	}
	if !m.pcrValid || f.DTS > m.pcrClock {
		m.pcrClock = f.DTS
	}
	m.pcrValid = true
	return true, m.pcrClock - muxPCRDelay
}

// muxMaxFrameBytes is an upper bound of the bytes WriteFrame appends for f:
// PES header, AUD or ADTS header, start codes, the largest adaptation field,
// and a PCR-only packet.
func muxMaxFrameBytes(f *engine.Frame) int {
	pes := 19 + len(muxAUDH265) + len(muxStart)*len(f.Data) + f.Size()
	return (pes/muxPayloadSize + 2 + 1) * muxPacketSize
}

// muxIsAUD reports whether a NAL unit is an access unit delimiter.
func muxIsAUD(c engine.Codec, nal []byte) bool {
	if c == engine.CodecH265 {
		return (nal[0]>>1)&0x3F == 35
	}
	return nal[0]&0x1F == 9
}

// muxAppendTS appends a PTS or DTS field with its 4-bit prefix and marker bits.
func muxAppendTS(b []byte, prefix byte, ts int64) []byte {
	return append(b,
		prefix<<4|byte(ts>>29)&0x0E|1,
		byte(ts>>22),
		byte(ts>>14)|1,
		byte(ts>>7),
		byte(ts<<1)|1,
	)
}

// muxPutPCR writes the 6-byte PCR field (base, reserved bits, extension 0).
func muxPutPCR(b []byte, pcr int64) {
	base := pcr & muxTSMask // two's complement: also right for negative values
	b[0] = byte(base >> 25)
	b[1] = byte(base >> 17)
	b[2] = byte(base >> 9)
	b[3] = byte(base >> 1)
	b[4] = byte(base&1)<<7 | 0x7E
	b[5] = 0
}

// appendPCROnly appends an adaptation-field-only packet carrying a PCR on the
// PCR PID (its continuity counter does not advance: no payload).
func (m *Muxer) appendPCROnly(dst []byte, pcr int64) []byte {
	n := len(dst)
	dst = slices.Grow(dst, muxPacketSize)[:n+muxPacketSize]
	b := dst[n:]
	cc := &m.cc[m.pcrPID-muxFirstPID]
	b[0] = muxSyncByte
	b[1] = byte(m.pcrPID>>8) & 0x1F
	b[2] = byte(m.pcrPID)
	b[3] = 0x20 | (*cc-1)&0x0F // repeats the last counter: no payload follows
	b[4] = muxPayloadSize - 1
	b[5] = 0x10
	muxPutPCR(b[6:12], pcr)
	for i := 12; i < muxPacketSize; i++ {
		b[i] = 0xFF
	}
	return dst
}

// appendPES cuts the PES in m.pieces (total bytes) into TS packets.
func (m *Muxer) appendPES(dst []byte, t *muxTrack, total int, withPCR bool, pcr int64, randomAccess bool) []byte {
	// Upper bound of the packets: one payload-less header area at most on the
	// first packet.
	dst = slices.Grow(dst, (total/muxPayloadSize+2)*muxPacketSize)
	idx := t.pid - muxFirstPID
	cc := &m.cc[idx]
	written := 0
	for first := true; written < total; first = false {
		n := len(dst)
		dst = dst[:n+muxPacketSize]
		b := dst[n:]
		b[0] = muxSyncByte
		b[1] = byte(t.pid>>8) & 0x1F
		if first {
			b[1] |= 0x40
		}
		b[2] = byte(t.pid)

		var flags byte
		afLen := 0 // adaptation field bytes, its length byte included
		if first {
			if m.discPending[idx] {
				flags |= 0x80
				m.discPending[idx] = false
			}
			if randomAccess {
				flags |= 0x40
			}
			if withPCR {
				flags |= 0x10
			}
			if flags != 0 {
				afLen = 2
				if withPCR {
					afLen += 6
				}
			}
		}
		if rest := total - written; rest < muxPayloadSize-afLen {
			afLen += muxPayloadSize - afLen - rest // stuffing
		}

		if afLen > 0 {
			b[3] = 0x30 | *cc
			b[4] = byte(afLen - 1)
			if afLen > 1 {
				b[5] = flags
				pos := 6
				if flags&0x10 != 0 {
					muxPutPCR(b[6:12], pcr)
					pos = 12
				}
				for ; pos < 4+afLen; pos++ {
					b[pos] = 0xFF
				}
			}
		} else {
			b[3] = 0x10 | *cc
		}
		*cc = (*cc + 1) & 0x0F
		written += m.pieces.fill(b[4+afLen:])
	}
	return dst
}

// muxPieces walks the pieces of a PES as one byte stream, without joining
// them.
type muxPieces struct {
	header, prefix []byte
	data           [][]byte
	video          bool // data pieces are start code + NAL
	k, off         int  // current piece and offset in it
}

// piece returns piece k; ok is false past the last one.
func (p *muxPieces) piece(k int) (b []byte, ok bool) {
	switch k {
	case 0:
		return p.header, true
	case 1:
		return p.prefix, true
	}
	k -= 2
	if !p.video {
		if k >= len(p.data) {
			return nil, false
		}
		return p.data[k], true
	}
	i := k / 2
	if i >= len(p.data) {
		return nil, false
	}
	if k%2 == 1 {
		return p.data[i], true
	}
	if len(p.data[i]) == 0 {
		return nil, true // no start code for an empty NAL
	}
	return muxStart, true
}

// fill copies the next len(dst) bytes (or what is left) into dst.
func (p *muxPieces) fill(dst []byte) int {
	n := 0
	for n < len(dst) {
		b, ok := p.piece(p.k)
		if !ok {
			break
		}
		c := copy(dst[n:], b[p.off:])
		n += c
		p.off += c
		if p.off == len(b) {
			p.k++
			p.off = 0
		}
	}
	return n
}
