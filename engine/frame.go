package engine

// Codec is the elementary stream format of a track. Codecs pass through
// untouched: the engine never decodes them.
type Codec uint8

// Codecs a stream can carry.
const (
	CodecUnknown Codec = iota
	CodecH264
	CodecH265
	CodecAAC
)

func (c Codec) String() string {
	switch c {
	case CodecH264:
		return "h264"
	case CodecH265:
		return "hevc"
	case CodecAAC:
		return "aac"
	}
	return "unknown"
}

// IsVideo tells whether the codec is a video codec.
func (c Codec) IsVideo() bool { return c == CodecH264 || c == CodecH265 }

// Track describes one elementary stream of a source.
type Track struct {
	Codec Codec
	// Config is the codec configuration: the AAC AudioSpecificConfig for
	// CodecAAC; nil for video, whose parameter sets travel in-band.
	Config []byte
}

// Frame is one access unit on the stream's timeline.
//
// Video: Data holds the NAL units of one access unit without start codes or
// length prefixes. Audio (AAC): Data holds exactly one raw access unit
// without ADTS header.
//
// A frame handed to a Sink belongs to the sink from then on: its buffers are
// shared read-only with every reader and must not be modified by anyone.
type Frame struct {
	Track int   // index into the tracks last given to SetTracks
	PTS   int64 // 90 kHz
	DTS   int64 // 90 kHz; non-decreasing per track
	Key   bool  // video: a random access point (IDR/IRAP); audio: always true
	Data  [][]byte
}

// Size is the number of payload bytes in the frame.
func (f *Frame) Size() int {
	n := 0
	for _, b := range f.Data {
		n += len(b)
	}
	return n
}

// Timescale of PTS and DTS.
const Timescale = 90000
