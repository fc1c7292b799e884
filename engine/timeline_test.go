package engine

import (
	"fmt"
	"testing"
)

// TestTimelineRepeatedFrames: a source that repeats or overlaps frames
// (looping, splicing) must not make time stand still. A repeated video frame
// moves the timeline on by one frame step; a repeated audio frame is dropped.
func TestTimelineRepeatedFrames(t *testing.T) {
	rec := &recorder{}
	sink := &timelineSink{stream: &Stream{packager: rec, frames: NewRing[Frame](64), ready: make(chan struct{})}}
	gen := sink.begin()
	sink.setTracks(gen, []Track{{Codec: CodecH264}, {Codec: CodecAAC}})
	in := []struct {
		track int
		dts   int64
	}{
		{0, 0}, {1, 0}, {0, 3600}, {1, 1920}, {0, 7200}, {1, 3840},
		{1, 3840}, // audio repeated: dropped
		{0, 7200}, // video repeated: the timeline moves on by 3600
		{1, 5760},
		{0, 8000}, // at 11600 out, under half a step after 10800: moves on by 2800
		{0, 10800},
	}
	var video, audio []int64
	for _, x := range in {
		sink.writeFrame(gen, &Frame{Track: x.track, DTS: x.dts, PTS: x.dts, Key: true})
	}
	for _, f := range rec.frames {
		if f.Track == 0 {
			video = append(video, f.DTS)
		} else {
			audio = append(audio, f.DTS)
		}
	}
	wantVideo := []int64{0, 3600, 7200, 10800, 14400, 17200}
	wantAudio := []int64{0, 1920, 3840, 9360}
	if fmt.Sprint(video) != fmt.Sprint(wantVideo) {
		t.Fatalf("video DTS %v, want %v", video, wantVideo)
	}
	if fmt.Sprint(audio) != fmt.Sprint(wantAudio) {
		t.Fatalf("audio DTS %v, want %v", audio, wantAudio)
	}
}
