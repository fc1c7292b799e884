package testsrc

// H.264 parameter sets of the stream: Constrained Baseline (profile_idc 66
// with constraint_set0 and constraint_set1), CAVLC, frame pictures,
// pic_order_cnt_type 2 (output order = decoding order, no B pictures), one
// reference frame.

const (
	profileBaseline = 66
	// constraintFlags: constraint_set0 (Baseline) and constraint_set1
	// (decodable by Main) make Constrained Baseline, codec string avc1.42C0xx.
	constraintFlags = 0b1100_0000
)

// videoFormat is what the parameter sets and slice headers depend on.
type videoFormat struct {
	width, height   int // display size
	mbW, mbH        int // coded size in macroblocks
	fps             int
	log2MaxFrameNum uint
	level           byte
}

func newVideoFormat(width, height, fps, gopFrames int) videoFormat {
	f := videoFormat{width: width, height: height, mbW: (width + 15) / 16, mbH: (height + 15) / 16, fps: fps}
	// frame_num counts reference pictures since the IDR; keep it unique
	// within a GOP (not required, but easier to read in traces).
	f.log2MaxFrameNum = 4
	for 1<<f.log2MaxFrameNum < gopFrames && f.log2MaxFrameNum < 16 {
		f.log2MaxFrameNum++
	}
	return f
}

// level is one row of H.264 Table A-1.
type level struct {
	idc    byte
	maxMBs int // MaxMBPS, macroblocks per second
	maxFS  int // MaxFS, macroblocks per frame
	maxBR  int // MaxBR, kbit/s (VCL); NAL is 1200 bit/s per unit for Baseline
}

var levels = []level{
	{10, 1485, 99, 64}, {11, 3000, 396, 192}, {12, 6000, 396, 384}, {13, 11880, 396, 768},
	{20, 11880, 396, 2000}, {21, 19800, 792, 4000}, {22, 20250, 1620, 4000},
	{30, 40500, 1620, 10000}, {31, 108000, 3600, 14000}, {32, 216000, 5120, 20000},
	{40, 245760, 8192, 20000}, {41, 245760, 8192, 50000}, {42, 522240, 8704, 50000},
	{50, 589824, 22080, 135000}, {51, 983040, 36864, 240000}, {52, 2073600, 36864, 240000},
}

// chooseLevel picks the lowest level whose limits hold the picture size,
// macroblock rate and bitrate.
func chooseLevel(mbW, mbH, fps int, bitrate int64) byte {
	fs := mbW * mbH
	for _, l := range levels {
		if fs <= l.maxFS && mbW*mbW <= 8*l.maxFS && mbH*mbH <= 8*l.maxFS &&
			fs*fps <= l.maxMBs && bitrate <= int64(l.maxBR)*1200 {
			return l.idc
		}
	}
	return levels[len(levels)-1].idc
}

// appendSPS appends the sequence parameter set NAL unit.
func (f *videoFormat) appendSPS(dst []byte) []byte {
	var w bitWriter
	w.u(8, profileBaseline)
	w.u(8, constraintFlags)
	w.u(8, uint64(f.level))
	w.ue(0) // seq_parameter_set_id
	w.ue(uint32(f.log2MaxFrameNum - 4))
	w.ue(2)                 // pic_order_cnt_type
	w.ue(1)                 // max_num_ref_frames
	w.flag(false)           // gaps_in_frame_num_value_allowed_flag
	w.ue(uint32(f.mbW - 1)) // pic_width_in_mbs_minus1
	w.ue(uint32(f.mbH - 1)) // pic_height_in_map_units_minus1
	w.flag(true)            // frame_mbs_only_flag
	w.flag(true)            // direct_8x8_inference_flag
	cropX, cropY := f.mbW*16-f.width, f.mbH*16-f.height
	w.flag(cropX != 0 || cropY != 0) // frame_cropping_flag
	if cropX != 0 || cropY != 0 {
		// Crop units are 2 samples in 4:2:0 frame pictures.
		w.ue(0)
		w.ue(uint32(cropX / 2))
		w.ue(0)
		w.ue(uint32(cropY / 2))
	}
	w.flag(true) // vui_parameters_present_flag
	f.writeVUI(&w)
	w.trailing()
	return appendNAL(dst, nalHeader(3, nalSPS), w.buf)
}

// writeVUI states the colour space (BT.709, limited range, as drawn), the
// frame rate, and that pictures are output as soon as decoded.
func (f *videoFormat) writeVUI(w *bitWriter) {
	w.flag(false) // aspect_ratio_info_present_flag
	w.flag(false) // overscan_info_present_flag
	w.flag(true)  // video_signal_type_present_flag
	w.u(3, 5)     // video_format: unspecified
	w.flag(false) // video_full_range_flag
	w.flag(true)  // colour_description_present_flag
	w.u(8, 1)     // colour_primaries: BT.709
	w.u(8, 1)     // transfer_characteristics: BT.709
	w.u(8, 1)     // matrix_coefficients: BT.709
	w.flag(false) // chroma_loc_info_present_flag
	w.flag(true)  // timing_info_present_flag
	w.u(32, 1)    // num_units_in_tick
	w.u(32, uint64(2*f.fps))
	w.flag(true)  // fixed_frame_rate_flag
	w.flag(false) // nal_hrd_parameters_present_flag
	w.flag(false) // vcl_hrd_parameters_present_flag
	w.flag(false) // pic_struct_present_flag
	w.flag(true)  // bitstream_restriction_flag
	w.flag(true)  // motion_vectors_over_pic_boundaries_flag
	w.ue(0)       // max_bytes_per_pic_denom: no limit
	w.ue(0)       // max_bits_per_mb_denom: no limit
	w.ue(15)      // log2_max_mv_length_horizontal
	w.ue(15)      // log2_max_mv_length_vertical
	w.ue(0)       // max_num_reorder_frames
	w.ue(1)       // max_dec_frame_buffering
}

// appendPPS appends the picture parameter set NAL unit.
func (f *videoFormat) appendPPS(dst []byte) []byte {
	var w bitWriter
	w.ue(0)       // pic_parameter_set_id
	w.ue(0)       // seq_parameter_set_id
	w.flag(false) // entropy_coding_mode_flag: CAVLC
	w.flag(false) // bottom_field_pic_order_in_frame_present_flag
	w.ue(0)       // num_slice_groups_minus1
	w.ue(0)       // num_ref_idx_l0_default_active_minus1
	w.ue(0)       // num_ref_idx_l1_default_active_minus1
	w.flag(false) // weighted_pred_flag
	w.u(2, 0)     // weighted_bipred_idc
	w.se(0)       // pic_init_qp_minus26
	w.se(0)       // pic_init_qs_minus26
	w.se(0)       // chroma_qp_index_offset
	w.flag(true)  // deblocking_filter_control_present_flag: slices turn it off
	w.flag(false) // constrained_intra_pred_flag
	w.flag(false) // redundant_pic_cnt_present_flag
	w.trailing()
	return appendNAL(dst, nalHeader(3, nalPPS), w.buf)
}
