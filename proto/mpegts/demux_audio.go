package mpegts

import (
	"bytes"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/livedge/livedge/engine"
)

// demuxADTSRates maps the ADTS sampling_frequency_index to Hz.
var demuxADTSRates = [13]int{96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350}

// audioPES splits the payload of an AAC PES (ADTS frames) into frames of one
// raw access unit each. The PES PTS belongs to the first access unit that
// starts in the PES; the next ones follow at 1024 samples each. An ADTS frame
// cut by the end of the PES is completed from the next one. Garbage between
// frames is skipped up to the next ADTS sync word.
func (d *Demuxer) audioPES(s *demuxStream, es []byte, pts int64, hasPTS bool) {
	if !hasPTS {
		if !s.hasNextPTS {
			d.decodeError("audio PES without PTS dropped", "pid", s.pid)
			s.carry = s.carry[:0]
			return
		}
		pts = s.nextPTS
	}
	work := es
	carried := len(s.carry)
	if carried > 0 {
		s.carry = append(s.carry, es...)
		work = s.carry
	}
	pos, k := 0, 0 // k counts the access units that start in this PES
	skipped := 0
	for pos < len(work) {
		rest := work[pos:]
		if rest[0] != 0xff || (len(rest) > 1 && rest[1]&0xf6 != 0xf0) {
			j := bytes.IndexByte(rest[1:], 0xff)
			if j < 0 {
				skipped += len(rest)
				pos = len(work)
				break
			}
			skipped += j + 1
			pos += j + 1
			continue
		}
		if len(rest) < 7 {
			d.carryADTS(s, rest, pts, k, pos < carried)
			break
		}
		protectionAbsent := rest[1]&0x01 != 0
		profile := int(rest[2] >> 6)
		rateIndex := int(rest[2] >> 2 & 0x0f)
		channels := int(rest[2]&0x01)<<2 | int(rest[3]>>6)
		frameLen := int(rest[3]&0x03)<<11 | int(rest[4])<<3 | int(rest[5]>>5)
		blocks := int(rest[6] & 0x03)
		headerLen := 7
		if !protectionAbsent {
			headerLen = 9
		}
		if rateIndex >= len(demuxADTSRates) || frameLen <= headerLen {
			skipped++
			pos++
			continue
		}
		if frameLen > len(rest) {
			d.carryADTS(s, rest, pts, k, pos < carried)
			break
		}
		rate := demuxADTSRates[rateIndex]
		s.aacRate = rate
		framePTS := pts + int64(k)*mpeg4audio.SamplesPerAccessUnit*engine.Timescale/int64(rate)
		if pos < carried {
			framePTS = s.carryPTS
		} else {
			k++
		}
		s.nextPTS = framePTS + mpeg4audio.SamplesPerAccessUnit*engine.Timescale/int64(rate)
		s.hasNextPTS = true
		au := rest[headerLen:frameLen]
		pos += frameLen
		if blocks != 0 {
			// Several raw data blocks in one ADTS frame: the block boundaries
			// are not signalled without CRC, so the frame cannot be split.
			d.decodeError("ADTS frame with several raw data blocks dropped", "pid", s.pid)
			continue
		}
		header := profile<<8 | rateIndex<<4 | channels
		if header != s.aacHeader && !d.setAACConfig(s, header, profile, rate, channels) {
			continue
		}
		d.emit(s, &engine.Frame{PTS: framePTS, DTS: framePTS, Key: true, Data: [][]byte{bytes.Clone(au)}})
	}
	if pos >= len(work) {
		s.carry = s.carry[:0]
	}
	if skipped > 0 {
		d.decodeError("garbage between ADTS frames skipped", "pid", s.pid, "bytes", skipped)
	}
}

// carryADTS keeps the start of an ADTS frame cut by the end of its PES,
// with the PTS it will have; a next PES without PTS continues after it.
func (d *Demuxer) carryADTS(s *demuxStream, rest []byte, pts int64, k int, fromCarry bool) {
	if !fromCarry {
		rate := s.aacRate
		if len(rest) >= 3 {
			if rateIndex := int(rest[2] >> 2 & 0x0f); rateIndex < len(demuxADTSRates) {
				rate = demuxADTSRates[rateIndex]
			}
		}
		s.carryPTS = pts
		if rate > 0 {
			dur := int64(mpeg4audio.SamplesPerAccessUnit * engine.Timescale / rate)
			s.carryPTS += int64(k) * dur
			s.nextPTS = s.carryPTS + dur
			s.hasNextPTS = true
		}
	}
	// rest may alias s.carry: copy moves it to the front safely.
	s.carry = append(s.carry[:0], rest...)
}

// setAACConfig takes the AudioSpecificConfig of an ADTS header and announces
// the tracks again when it changed. It reports whether frames of this config
// can be emitted.
func (d *Demuxer) setAACConfig(s *demuxStream, header, profile, rate, channels int) bool {
	config, err := mpeg4audio.AudioSpecificConfig{
		Type:          mpeg4audio.ObjectType(profile + 1),
		SampleRate:    rate,
		ChannelConfig: uint8(channels),
	}.Marshal()
	if err != nil {
		d.decodeError("AAC config not encodable", "pid", s.pid, "error", err)
		return false
	}
	s.aacHeader = header
	s.config = config
	if d.announced {
		d.log.Info("mpegts demux: AAC config changed", "pid", s.pid, "rate", rate, "channels", channels)
		d.announce()
	} else {
		d.maybeAnnounce()
	}
	return true
}
