// Package testsrc owns the testsrc:// input: a synthetic live source of
// H.264 video and AAC audio written in pure Go, for the demo stream, tests
// and load runs that need any number of streams cheaply.
//
// URL: testsrc://?bitrate=1000k&gop=2&size=640x360&fps=25&audio=1 (every
// parameter optional, these are the defaults). bitrate: 50k..50M bits/s
// (suffix k or M, decimals allowed); gop: 0.5..10 seconds between keyframes,
// rounded to whole frames; size: even width and height, each 64..1920, at
// most 1920x1080 pixels (other sizes are cropped from whole macroblocks);
// fps: 1..60; audio: 0 or 1. Other parameters are errors.
//
// The video is a Constrained Baseline H.264 stream that real decoders play.
// Keyframes are IDR pictures coded losslessly with two macroblock kinds only:
// I_PCM (raw samples) where the picture has detail, and Intra 16x16 with
// vertical or horizontal prediction and no residual where a macroblock
// repeats its neighbour's edge. The picture shows colour bars, the stream's
// parameters, the UTC wall clock (HH:MM:SS), the frame counter and a bar
// that fills over each minute; it changes at keyframes only. The frames
// between keyframes are P pictures of skipped macroblocks. Filler NAL units
// bring the video up to the requested bitrate, unless the pictures alone
// already exceed it. Keyframes take about 5 KB at 64x64, 29-34 KB at
// 320x176, 61-76 KB at 640x360, 82-98 KB at 1280x720 and 97-123 KB at
// 1920x1080 (the digits shown vary it), so the lowest bitrate is about
// keyframe size x 8 / gop: at gop 2, 130-140 kbit/s for 320x176,
// 280-305 kbit/s for 640x360, 375-395 kbit/s for 1280x720 and
// 460-495 kbit/s for 1920x1080. Bitrates count Annex B bytes (NAL units
// with 4-byte start codes). The audio is AAC-LC silence, 48 kHz mono.
//
// Everything that does not change between keyframes (parameter sets, the
// static slices above and below the clock, P slices) is built once per
// parameter set and shared read-only by every stream and every frame.
package testsrc
