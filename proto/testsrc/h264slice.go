package testsrc

import (
	"bytes"
	"slices"
)

// Slice coding. An IDR slice codes each macroblock losslessly as either
//   - Intra 16x16 with vertical or horizontal luma prediction, vertical or
//     horizontal chroma prediction and no residual, when the macroblock
//     repeats the edge of its upper or left neighbour exactly, or
//   - I_PCM (raw samples) otherwise.
// The decoded picture is then exactly the drawn one, with no transform or
// entropy coder beyond a few fixed codes. P slices skip every macroblock.

// Macroblock syntax values (H.264 tables 7-11 and 7-16).
const (
	mbTypeI16Vertical   = 1  // I_16x16_0_0_0: prediction mode 0, no coded blocks
	mbTypeI16Horizontal = 2  // I_16x16_1_0_0
	mbTypeIPCM          = 25 // I_PCM
	chromaHorizontal    = 1  // intra_chroma_pred_mode
	chromaVertical      = 2
	sliceTypeP          = 5 // P, and so are all slices of the picture
	sliceTypeI          = 7 // I, and so are all slices of the picture
	pcmBytes            = 256 + 2*64
)

// sliceEncoder holds the scratch state of slice coding; one per goroutine.
type sliceEncoder struct {
	w    bitWriter
	rbsp []byte
	// pcm[mx] tells whether macroblock mx of the previous and current row
	// is I_PCM, which sets the nC context of the next coeff_token.
	pcmAbove, pcmRow []bool
}

// idrSliceRBSP codes macroblock rows row0..row1-1 of pic, which must hold
// those rows, as the payload of an IDR slice NAL unit. The result is valid
// until the next call.
func (e *sliceEncoder) idrSliceRBSP(f *videoFormat, pic *picture, row0, row1 int, idrPicID uint32) []byte {
	w := &e.w
	w.reset(e.rbsp)
	w.ue(uint32(row0 * f.mbW)) // first_mb_in_slice
	w.ue(sliceTypeI)
	w.ue(0)                   // pic_parameter_set_id
	w.u(f.log2MaxFrameNum, 0) // frame_num
	w.ue(idrPicID)            // idr_pic_id
	w.flag(false)             // no_output_of_prior_pics_flag
	w.flag(false)             // long_term_reference_flag
	w.se(0)                   // slice_qp_delta
	w.ue(1)                   // disable_deblocking_filter_idc: off
	if cap(e.pcmAbove) < f.mbW {
		e.pcmAbove, e.pcmRow = make([]bool, f.mbW), make([]bool, f.mbW)
	}
	above, cur := e.pcmAbove[:f.mbW], e.pcmRow[:f.mbW]
	for my := row0; my < row1; my++ {
		for mx := range f.mbW {
			// Neighbours in another slice are unavailable.
			hasLeft, hasAbove := mx > 0, my > row0
			luma, chroma, ok := predictable(pic, mx, my, hasLeft, hasAbove)
			cur[mx] = !ok
			if !ok {
				writePCM(w, pic, mx, my)
				continue
			}
			w.ue(luma)
			w.ue(chroma)
			w.se(0) // mb_qp_delta
			// Intra16x16DCLevel is always coded: an empty block, whose
			// coeff_token table depends on the neighbours (9.2.1): an I_PCM
			// neighbour counts 16 coefficients, ours count none.
			nC := 0
			switch {
			case hasLeft && hasAbove:
				nC = (pcmCount(cur[mx-1]) + pcmCount(above[mx]) + 1) >> 1
			case hasLeft:
				nC = pcmCount(cur[mx-1])
			case hasAbove:
				nC = pcmCount(above[mx])
			}
			writeEmptyCoeffToken(w, nC)
		}
		above, cur = cur, above
	}
	w.trailing()
	e.rbsp = w.buf
	return w.buf
}

func pcmCount(pcm bool) int {
	if pcm {
		return 16
	}
	return 0
}

// writeEmptyCoeffToken writes coeff_token for TotalCoeff 0, TrailingOnes 0
// (table 9-5).
func writeEmptyCoeffToken(w *bitWriter, nC int) {
	switch {
	case nC < 2:
		w.u(1, 0b1)
	case nC < 4:
		w.u(2, 0b11)
	case nC < 8:
		w.u(4, 0b1111)
	default:
		w.u(6, 0b000011)
	}
}

// writePCM writes macroblock (mx, my) as I_PCM.
func writePCM(w *bitWriter, pic *picture, mx, my int) {
	w.ue(mbTypeIPCM)
	w.alignZero() // pcm_alignment_zero_bit
	// Copy into place rather than append row by row: fewer bounds checks and
	// pointer writes (write barriers) on the hot path of keyframes.
	n := len(w.buf)
	buf := slices.Grow(w.buf, pcmBytes)[:n+pcmBytes]
	out := buf[n:]
	x0, y0 := mx*16, my*16-pic.top
	for r := range 16 {
		o := (y0+r)*pic.yStride + x0
		copy(out[r*16:r*16+16], pic.y[o:o+16])
	}
	out = out[256:]
	cx0, cy0 := mx*8, my*8-pic.cTop
	for r := range 8 {
		o := (cy0+r)*pic.cStride + cx0
		copy(out[r*8:r*8+8], pic.cb[o:o+8])
		copy(out[64+r*8:64+r*8+8], pic.cr[o:o+8])
	}
	w.buf = buf
}

// predictable finds Intra 16x16 prediction modes that reproduce macroblock
// (mx, my) exactly from its neighbours' edge samples; ok is false if none
// does.
func predictable(pic *picture, mx, my int, hasLeft, hasAbove bool) (lumaMBType, chromaMode uint32, ok bool) {
	x0, y0 := mx*16, my*16-pic.top
	cx0, cy0 := mx*8, my*8-pic.cTop
	switch {
	case hasAbove && repeatsAbove(pic.y, pic.yStride, x0, y0, 16):
		lumaMBType = mbTypeI16Vertical
	case hasLeft && repeatsLeft(pic.y, pic.yStride, x0, y0, 16):
		lumaMBType = mbTypeI16Horizontal
	default:
		return 0, 0, false
	}
	switch {
	case hasAbove && repeatsAbove(pic.cb, pic.cStride, cx0, cy0, 8) && repeatsAbove(pic.cr, pic.cStride, cx0, cy0, 8):
		chromaMode = chromaVertical
	case hasLeft && repeatsLeft(pic.cb, pic.cStride, cx0, cy0, 8) && repeatsLeft(pic.cr, pic.cStride, cx0, cy0, 8):
		chromaMode = chromaHorizontal
	default:
		return 0, 0, false
	}
	return lumaMBType, chromaMode, true
}

// repeatsAbove tells whether every row of the n x n block at (x0, y0) equals
// the row just above the block.
func repeatsAbove(plane []byte, stride, x0, y0, n int) bool {
	edge := plane[(y0-1)*stride+x0 : (y0-1)*stride+x0+n]
	for r := range n {
		o := (y0+r)*stride + x0
		if !bytes.Equal(plane[o:o+n], edge) {
			return false
		}
	}
	return true
}

// repeatsLeft tells whether every row of the n x n block at (x0, y0) equals
// the sample just left of that row.
func repeatsLeft(plane []byte, stride, x0, y0, n int) bool {
	for r := range n {
		o := (y0+r)*stride + x0
		v := plane[o-1]
		for _, s := range plane[o : o+n] {
			if s != v {
				return false
			}
		}
	}
	return true
}

// appendPSlice appends a P slice NAL unit whose macroblocks are all skipped:
// the decoder repeats the reference picture.
func appendPSlice(dst []byte, f *videoFormat, frameNum uint32) []byte {
	var w bitWriter
	w.ue(0) // first_mb_in_slice
	w.ue(sliceTypeP)
	w.ue(0)                                                           // pic_parameter_set_id
	w.u(f.log2MaxFrameNum, uint64(frameNum)&(1<<f.log2MaxFrameNum-1)) // frame_num
	w.flag(false)                                                     // num_ref_idx_active_override_flag
	w.flag(false)                                                     // ref_pic_list_modification_flag_l0
	w.flag(false)                                                     // adaptive_ref_pic_marking_mode_flag
	w.se(0)                                                           // slice_qp_delta
	w.ue(1)                                                           // disable_deblocking_filter_idc: off
	w.ue(uint32(f.mbW * f.mbH))                                       // mb_skip_run
	w.trailing()
	return appendNAL(dst, nalHeader(2, nalSlice), w.buf)
}

// fillerNAL makes a filler data NAL unit of n bytes (n >= 2).
func fillerNAL(n int) []byte {
	b := make([]byte, n)
	b[0] = nalHeader(0, nalFiller)
	fillBytes(b[1:n-1], 0xFF)
	b[n-1] = 0x80 // rbsp_trailing_bits
	return b
}
