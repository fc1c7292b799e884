package hls

import (
	"strconv"

	"github.com/livedge/livedge/engine"
)

// appendPlaylist writes the live media playlist of a window of segments.
// targetDuration is in whole seconds and at least every listed duration
// rounded up; discSeq counts the discontinuities that left the window.
func appendPlaylist(b []byte, window []*segment, targetDuration int64, discSeq uint64) []byte {
	b = append(b, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:"...)
	b = strconv.AppendInt(b, targetDuration, 10)
	b = append(b, "\n#EXT-X-MEDIA-SEQUENCE:"...)
	if len(window) > 0 {
		b = strconv.AppendUint(b, window[0].seq, 10)
	} else {
		b = append(b, '0')
	}
	b = append(b, '\n')
	if discSeq > 0 {
		b = append(b, "#EXT-X-DISCONTINUITY-SEQUENCE:"...)
		b = strconv.AppendUint(b, discSeq, 10)
		b = append(b, '\n')
	}
	for _, s := range window {
		if s.disc {
			b = append(b, "#EXT-X-DISCONTINUITY\n"...)
		}
		b = append(b, "#EXT-X-PROGRAM-DATE-TIME:"...)
		b = s.wall.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
		b = append(b, "\n#EXTINF:"...)
		b = appendSeconds(b, s.duration)
		b = append(b, ",\n"...)
		b = append(b, s.name[:]...)
		b = append(b, '\n')
	}
	return b
}

// appendSeconds writes a 90 kHz duration as seconds with three decimals,
// rounded to the millisecond.
func appendSeconds(b []byte, d int64) []byte {
	ms := (d*1000 + engine.Timescale/2) / engine.Timescale
	b = strconv.AppendInt(b, ms/1000, 10)
	b = append(b, '.')
	frac := ms % 1000
	b = append(b, byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	return b
}
