package mpegts

import "fmt"

// ADTS framing of AAC for MPEG-TS (stream type 0x0F): every access unit gets
// a 7-byte header without CRC that repeats what the AudioSpecificConfig says.

// muxADTSMaxFrame is the largest ADTS frame (13-bit frame_length, header
// included).
const muxADTSMaxFrame = 1<<13 - 1

// muxADTSSampleRates are the sampling frequencies an ADTS header can name, by
// sampling_frequency_index.
var muxADTSSampleRates = [...]int{96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350}

// muxBitReader reads big-endian bit fields; reading past the end fails.
type muxBitReader struct {
	b   []byte
	pos int // bit position
}

func (r *muxBitReader) read(n int) (uint32, error) {
	if r.pos+n > len(r.b)*8 {
		return 0, fmt.Errorf("AudioSpecificConfig truncated at bit %d", r.pos)
	}
	var v uint32
	for range n {
		v = v<<1 | uint32(r.b[r.pos/8]>>(7-r.pos%8))&1
		r.pos++
	}
	return v, nil
}

func (r *muxBitReader) objectType() (uint32, error) {
	ot, err := r.read(5)
	if err != nil || ot != 31 {
		return ot, err
	}
	ext, err := r.read(6)
	return 32 + ext, err
}

func (r *muxBitReader) rateIndex() (uint32, error) {
	idx, err := r.read(4)
	if err != nil || idx != 15 {
		return idx, err
	}
	// An explicit rate has no ADTS index unless it is one of the standard ones.
	rate, err := r.read(24)
	if err != nil {
		return 0, err
	}
	for i, r := range muxADTSSampleRates {
		if uint32(r) == rate {
			return uint32(i), nil
		}
	}
	return 0, fmt.Errorf("sample rate %d cannot be signalled in ADTS", rate)
}

// muxADTSTemplate turns an AudioSpecificConfig into the fixed fields of the
// ADTS header; muxADTSHeader completes it per frame. For explicitly
// signalled HE-AAC (SBR/PS) the header names the AAC-LC core, as decoders
// expect from ADTS.
func muxADTSTemplate(asc []byte) ([7]byte, error) {
	var h [7]byte
	r := muxBitReader{b: asc}
	ot, err := r.objectType()
	if err != nil {
		return h, err
	}
	rate, err := r.rateIndex()
	if err != nil {
		return h, err
	}
	channels, err := r.read(4)
	if err != nil {
		return h, err
	}
	if ot == 5 || ot == 29 { // SBR, PS: extension rate, then the core object type
		if _, err := r.rateIndex(); err != nil {
			return h, err
		}
		if ot, err = r.objectType(); err != nil {
			return h, err
		}
	}
	if ot < 1 || ot > 4 {
		return h, fmt.Errorf("AAC object type %d cannot be carried in ADTS", ot)
	}
	if int(rate) >= len(muxADTSSampleRates) {
		return h, fmt.Errorf("invalid sampling frequency index %d", rate)
	}
	if channels > 7 {
		return h, fmt.Errorf("invalid channel configuration %d", channels)
	}
	h[0] = 0xFF
	h[1] = 0xF1 // MPEG-4, layer 0, protection_absent
	h[2] = byte(ot-1)<<6 | byte(rate)<<2 | byte(channels>>2)
	h[3] = byte(channels&3) << 6
	h[5] = 0x1F // buffer fullness 0x7FF: variable rate
	h[6] = 0xFC // ... and one raw data block per frame
	return h, nil
}

// muxADTSHeader fills in the frame length (header included) of a template.
func muxADTSHeader(h *[7]byte, t *[7]byte, frameLen int) {
	*h = *t
	h[3] |= byte(frameLen>>11) & 0x03
	h[4] = byte(frameLen >> 3)
	h[5] |= byte(frameLen&0x07) << 5
}
