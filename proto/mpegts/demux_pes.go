package mpegts

import (
	"encoding/binary"
	"strconv"

	"github.com/livedge/livedge/engine"
)

const (
	// demuxMaxVideoPES bounds one video access unit (mediacommon's
	// h264.MaxAccessUnitSize: 50 Mbit/s 2160p60 stays below it).
	demuxMaxVideoPES = 8 << 20
	// demuxMaxAudioPES bounds one audio PES (a few dozen ADTS frames).
	demuxMaxAudioPES = 256 << 10
)

// demuxStream is one supported elementary stream of the PMT: its PES being
// reassembled and its codec and timeline state.
type demuxStream struct {
	pid   int
	codec engine.Codec
	track int // index in the tracks last announced, -1: not announced

	cc         int8
	pes        []byte
	collecting bool
	pesLen     int // whole PES size from its header; 0: header not seen yet; -1: unbounded

	// Video: an access unit may span several PES, the first with a PTS, so
	// it is held until the next PES with a PTS starts.
	au      []byte // PES (or PES run) of the held access unit
	auStart int    // where its payload starts in au
	auPTS   int64
	auDTS   int64
	auHeld  bool
	keySeen bool // frames are dropped until the first keyframe

	// AAC: config from the ADTS header, an ADTS frame split across PES.
	aacHeader  int // profile, sampling index and channels of the last ADTS header, -1: none
	config     []byte
	aacRate    int // sample rate of the last ADTS header
	carry      []byte
	carryPTS   int64
	nextPTS    int64 // PTS of the next AU, for a PES without PTS
	hasNextPTS bool

	lastDTS    int64
	hasLastDTS bool
}

func (s *demuxStream) maxPES() int {
	if s.codec.IsVideo() {
		return demuxMaxVideoPES
	}
	return demuxMaxAudioPES
}

// setStreams follows a new PMT. Streams that keep their PID and codec keep
// their state; the others start from scratch. Nothing happens when the PMT
// lists the same streams.
func (d *Demuxer) setStreams(found []demuxStreamInfo) {
	if len(found) == len(d.streams) {
		same := true
		for i, in := range found {
			if d.streams[i].pid != in.pid || d.streams[i].codec != in.codec {
				same = false
				break
			}
		}
		if same {
			return
		}
	}
	streams := make([]*demuxStream, 0, len(found))
	for _, in := range found {
		var s *demuxStream
		for _, old := range d.streams {
			if old.pid == in.pid && old.codec == in.codec {
				s = old
				break
			}
		}
		if s == nil {
			s = &demuxStream{pid: in.pid, codec: in.codec, cc: -1, aacHeader: -1}
		}
		s.track = -1
		streams = append(streams, s)
	}
	d.log.Info("mpegts demux: program streams", "program", d.program, "streams", demuxDescribe(streams))
	d.streams = streams
	d.dropPending()
	d.announced = false
	d.maybeAnnounce()
}

func demuxDescribe(streams []*demuxStream) []string {
	out := make([]string, len(streams))
	for i, s := range streams {
		out[i] = s.codec.String() + "@" + strconv.Itoa(s.pid)
	}
	return out
}

// feedPES adds one packet's payload to the PES of its stream.
func (d *Demuxer) feedPES(s *demuxStream, payload []byte, pusi bool, cc int8, discontinuity bool) {
	duplicate, lost := demuxContinuity(&s.cc, cc, discontinuity)
	if duplicate {
		return
	}
	if lost {
		if s.collecting {
			d.decodeError("TS packets lost, PES dropped", "pid", s.pid)
			s.collecting = false
		}
		s.carry = s.carry[:0]
	}
	if pusi {
		if s.collecting {
			d.endPES(s)
		}
		if s.auHeld && !demuxContinuesAU(payload) {
			d.emitVideo(s)
		}
		s.pes = s.pes[:0]
		s.collecting = true
		s.pesLen = 0
	}
	if !s.collecting {
		return
	}
	if len(s.pes)+len(payload) > s.maxPES() {
		d.decodeError("PES too large, dropped", "pid", s.pid, "limit", s.maxPES())
		s.collecting = false
		return
	}
	s.pes = demuxAppend(s.pes, payload, s.maxPES())
	if s.pesLen == 0 && len(s.pes) >= 6 {
		if s.pes[0] != 0 || s.pes[1] != 0 || s.pes[2] != 1 {
			d.decodeError("PES start code missing", "pid", s.pid)
			s.collecting = false
			return
		}
		if n := int(binary.BigEndian.Uint16(s.pes[4:6])); n > 0 {
			s.pesLen = 6 + n
		} else {
			s.pesLen = -1 // video: the PES ends where the next one starts
		}
	}
	if s.pesLen > 0 && len(s.pes) >= s.pesLen {
		s.pes = s.pes[:s.pesLen] // what follows is stuffing
		d.endPES(s)
	}
}

// endPES parses the header of a complete PES and hands its payload to the
// codec.
func (d *Demuxer) endPES(s *demuxStream) {
	s.collecting = false
	pes := s.pes
	if len(pes) < 9 {
		d.decodeError("PES truncated", "pid", s.pid)
		return
	}
	switch pes[3] {
	case 0xbc, 0xbe, 0xbf, 0xf0, 0xf1, 0xf2, 0xf8, 0xff:
		return // stream ids without the optional header carry no media here
	}
	if pes[6]&0xc0 != 0x80 {
		d.decodeError("PES header marker missing", "pid", s.pid)
		return
	}
	flags := pes[7] >> 6
	headerLen := int(pes[8])
	start := 9 + headerLen
	if start > len(pes) {
		d.decodeError("PES header overflows the PES", "pid", s.pid)
		return
	}
	var pts, dts int64
	hasPTS := flags&0x02 != 0
	if hasPTS {
		if headerLen < 5 || (flags == 0x03 && headerLen < 10) {
			d.decodeError("PES header too short for its timestamps", "pid", s.pid)
			return
		}
		pts = d.clock.unwrap(demuxTimestamp(pes[9:14]))
		dts = pts
		if flags == 0x03 {
			dts = d.clock.unwrap(demuxTimestamp(pes[14:19]))
		}
	}
	if s.codec.IsVideo() {
		d.videoPES(s, start, pts, dts, hasPTS)
	} else {
		d.audioPES(s, pes[start:], pts, hasPTS)
	}
}

// demuxAppend appends b to buf, which must have room for it within limit.
// The capacity doubles but never passes limit.
func demuxAppend(buf, b []byte, limit int) []byte {
	if len(buf)+len(b) > cap(buf) {
		grown := make([]byte, len(buf), max(min(max(2*cap(buf), 64*1024), limit), len(buf)+len(b)))
		copy(grown, buf)
		buf = grown
	}
	return append(buf, b...)
}

// demuxTimestamp decodes a 33-bit PES timestamp.
func demuxTimestamp(b []byte) int64 {
	return int64(b[0]>>1&0x07)<<30 | int64(b[1])<<22 | int64(b[2]>>1)<<15 | int64(b[3])<<7 | int64(b[4]>>1)
}

// demuxClock unwraps 33-bit timestamps into a continuous 90 kHz timeline.
// One clock serves every stream of the program so that they stay in sync: a
// timestamp is placed in the 2^33 period nearest to the previous one.
type demuxClock struct {
	last    int64
	started bool
}

const demuxWrap = 1 << 33

func (c *demuxClock) unwrap(ts int64) int64 {
	if !c.started {
		c.started = true
		c.last = ts
		return ts
	}
	diff := (ts - c.last) & (demuxWrap - 1)
	if diff >= demuxWrap/2 {
		diff -= demuxWrap
	}
	c.last += diff
	return c.last
}
