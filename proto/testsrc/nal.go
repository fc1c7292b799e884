package testsrc

import "bytes"

// NAL unit types written by the source.
const (
	nalSlice   = 1
	nalIDR     = 5
	nalSPS     = 7
	nalPPS     = 8
	nalFiller  = 12
	startCodeN = 4 // bytes of an Annex B start code, counted in the bitrate
)

// nalHeader is the first byte of a NAL unit.
func nalHeader(refIdc, typ byte) byte { return refIdc<<5 | typ }

// appendNAL appends a NAL unit made of header and rbsp, with the emulation
// prevention bytes that keep start codes out of the payload.
func appendNAL(dst []byte, header byte, rbsp []byte) []byte {
	dst = append(dst, header)
	return appendEscaped(dst, rbsp)
}

// appendEscaped appends rbsp to dst, inserting emulation_prevention_three_byte
// (0x03) after every two zero bytes followed by a byte <= 3, and after a
// trailing zero byte (H.264 7.4.1).
func appendEscaped(dst, rbsp []byte) []byte {
	zeros := 0
	for i := 0; i < len(rbsp); {
		if zeros < 2 {
			// Copy up to the next zero byte in bulk: most payload bytes
			// (picture samples) are never zero.
			j := bytes.IndexByte(rbsp[i:], 0)
			if j < 0 {
				return append(dst, rbsp[i:]...)
			}
			if j > 0 {
				dst = append(dst, rbsp[i:i+j]...)
				zeros = 0
				i += j
			}
			dst = append(dst, 0)
			zeros++
			i++
			continue
		}
		b := rbsp[i]
		if b <= 3 {
			dst = append(dst, 3)
			zeros = 0
		}
		dst = append(dst, b)
		if b == 0 {
			zeros++
		} else {
			zeros = 0
		}
		i++
	}
	if zeros > 0 {
		dst = append(dst, 3)
	}
	return dst
}

// unescape removes emulation prevention bytes (the inverse of appendEscaped).
func unescape(nal []byte) []byte {
	out := make([]byte, 0, len(nal))
	zeros := 0
	for _, b := range nal {
		if zeros >= 2 && b == 3 {
			zeros = 0
			continue
		}
		out = append(out, b)
		if b == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return out
}
