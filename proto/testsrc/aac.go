package testsrc

// AAC-LC, 48 kHz, mono: one access unit of 1024 samples is 1920 ticks of the
// 90 kHz clock exactly.
const (
	aacSampleRate     = 48000
	aacSamplesPerAU   = 1024
	aacTicksPerAU     = aacSamplesPerAU * 90000 / aacSampleRate
	aacObjectTypeLC   = 2
	aacFreqIndex48000 = 3
	aacChannels       = 1
)

// aacConfig is the AudioSpecificConfig: object type, sampling frequency
// index, channel configuration, then GASpecificConfig (frameLengthFlag 0:
// 1024 samples, dependsOnCoreCoder 0, extensionFlag 0).
var aacConfig = func() []byte {
	var w bitWriter
	w.u(5, aacObjectTypeLC)
	w.u(4, aacFreqIndex48000)
	w.u(4, aacChannels)
	w.u(3, 0)
	return w.buf
}()

// aacSilence is a raw_data_block of silence: one single_channel_element with
// no scale factor bands (max_sfb 0), so every spectral line is zero, then
// ID_END.
var aacSilence = func() []byte {
	var w bitWriter
	w.u(3, 0)     // id_syn_ele: ID_SCE
	w.u(4, 0)     // element_instance_tag
	w.u(8, 160)   // global_gain (any value: no band uses it)
	w.u(1, 0)     // ics_reserved_bit
	w.u(2, 0)     // window_sequence: ONLY_LONG_SEQUENCE
	w.u(1, 0)     // window_shape
	w.u(6, 0)     // max_sfb
	w.flag(false) // predictor_data_present
	w.flag(false) // pulse_data_present
	w.flag(false) // tns_data_present
	w.flag(false) // gain_control_data_present
	w.u(3, 7)     // id_syn_ele: ID_END
	w.alignZero()
	return w.buf
}()
