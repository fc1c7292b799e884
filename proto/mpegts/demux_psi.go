package mpegts

import (
	"encoding/binary"

	"github.com/livedge/livedge/engine"
)

const (
	// demuxMaxSection is the largest PAT or PMT section (ISO 13818-1 caps
	// section_length at 1021 for them).
	demuxMaxSection = 3 + 1021
	demuxMaxStreams = 16 // elementary streams taken from one PMT
	demuxMaxVideo   = 4  // video streams taken from one PMT (each may hold an 8 MiB PES)

	demuxStreamTypeAAC  = 0x0f // ISO 13818-7 audio with ADTS transport syntax
	demuxStreamTypeH264 = 0x1b
	demuxStreamTypeH265 = 0x24
)

// demuxSection reassembles the PSI sections of one PID.
type demuxSection struct {
	buf     []byte
	started bool
	cc      int8
}

func (s *demuxSection) reset() {
	s.buf = s.buf[:0]
	s.started = false
	s.cc = -1
}

// feed adds the payload of one packet and calls onSection for every
// complete section it finishes.
func (s *demuxSection) feed(d *Demuxer, payload []byte, pusi bool, cc int8, discontinuity bool, onSection func([]byte)) {
	if s.buf == nil {
		s.buf = make([]byte, 0, demuxMaxSection)
		s.cc = -1
	}
	duplicate, lost := demuxContinuity(&s.cc, cc, discontinuity)
	if duplicate {
		return
	}
	if lost {
		s.buf = s.buf[:0]
		s.started = false
	}
	if pusi {
		if len(payload) == 0 {
			return
		}
		pointer := int(payload[0])
		rest := payload[1:]
		if pointer > len(rest) {
			d.decodeError("bad PSI pointer field", "pointer", pointer)
			s.buf = s.buf[:0]
			s.started = false
			return
		}
		if s.started {
			s.add(d, rest[:pointer])
			s.extract(d, onSection)
		}
		s.buf = s.buf[:0]
		s.started = true
		s.add(d, rest[pointer:])
	} else if s.started {
		s.add(d, payload)
	}
	s.extract(d, onSection)
}

func (s *demuxSection) add(d *Demuxer, b []byte) {
	if !s.started {
		return
	}
	if len(s.buf)+len(b) > cap(s.buf) {
		// Only stuffing can follow the last section of a packet, so trim it
		// rather than treating a full packet after a section as overflow.
		for len(b) > 0 && b[len(b)-1] == 0xff {
			b = b[:len(b)-1]
		}
		if len(s.buf)+len(b) > cap(s.buf) {
			d.decodeError("PSI section too long")
			s.buf = s.buf[:0]
			s.started = false
			return
		}
	}
	s.buf = append(s.buf, b...)
}

// extract hands over the complete sections at the start of buf.
func (s *demuxSection) extract(d *Demuxer, onSection func([]byte)) {
	for s.started && len(s.buf) >= 3 {
		if s.buf[0] == 0xff { // stuffing: no more sections in this unit
			s.buf = s.buf[:0]
			s.started = false
			return
		}
		length := int(binary.BigEndian.Uint16(s.buf[1:3]) & 0x0fff)
		total := 3 + length
		if total > demuxMaxSection {
			d.decodeError("PSI section too long", "length", length)
			s.buf = s.buf[:0]
			s.started = false
			return
		}
		if len(s.buf) < total {
			return
		}
		section := s.buf[:total]
		if crc32(section) != 0 {
			d.decodeError("PSI section CRC mismatch", "table_id", section[0])
		} else {
			onSection(section)
		}
		s.buf = s.buf[:copy(s.buf, s.buf[total:])]
	}
}

// demuxLongSection checks the long-form section header (ISO 13818-1 2.4.4)
// and returns its body between the header and the CRC.
func demuxLongSection(section []byte, tableID byte) (body []byte, ok bool) {
	// table_id, length (2), id (2), version/current (1), section numbers (2), CRC (4)
	if len(section) < 12 || section[0] != tableID || section[1]&0x80 == 0 {
		return nil, false
	}
	if section[5]&0x01 == 0 {
		return nil, false // current_next_indicator 0: not applicable yet
	}
	return section[8 : len(section)-4], true
}

// onPAT picks the program to follow: the one already followed while the PAT
// still lists it, else the first program of the PAT.
func (d *Demuxer) onPAT(section []byte) {
	body, ok := demuxLongSection(section, 0x00)
	if !ok {
		return
	}
	firstProgram, firstPID := 0, -1
	for i := 0; i+4 <= len(body); i += 4 {
		program := int(binary.BigEndian.Uint16(body[i:]))
		pid := int(binary.BigEndian.Uint16(body[i+2:]) & 0x1fff)
		if program == 0 {
			continue // network PID
		}
		if program == d.program {
			d.setPMTPID(program, pid)
			return
		}
		if firstPID < 0 {
			firstProgram, firstPID = program, pid
		}
	}
	multiSection := section[6] != 0 || section[7] != 0
	if firstPID >= 0 && (d.program == 0 || !multiSection) {
		d.setPMTPID(firstProgram, firstPID)
	}
}

func (d *Demuxer) setPMTPID(program, pid int) {
	if program == d.program && pid == d.pmtPID {
		return
	}
	if pid == 0 {
		return // a PMT on the PAT PID would shadow the PAT
	}
	d.program = program
	d.pmtPID = pid
	d.pmt.reset()
}

// onPMT takes the supported elementary streams of the followed program.
func (d *Demuxer) onPMT(section []byte) {
	body, ok := demuxLongSection(section, 0x02)
	if !ok || int(binary.BigEndian.Uint16(section[3:5])) != d.program {
		return
	}
	// Every PMT is parsed, whatever its version: an encoder that restarts
	// with other PIDs often starts again at version 0.
	if len(body) < 4 {
		return
	}
	programInfoLen := int(binary.BigEndian.Uint16(body[2:4]) & 0x0fff)
	pos := 4 + programInfoLen
	if pos > len(body) {
		d.decodeError("PMT program info overflows the section")
		return
	}
	var found []demuxStreamInfo
	videos := 0
	for pos+5 <= len(body) {
		streamType := body[pos]
		pid := int(binary.BigEndian.Uint16(body[pos+1:]) & 0x1fff)
		infoLen := int(binary.BigEndian.Uint16(body[pos+3:]) & 0x0fff)
		pos += 5 + infoLen
		if pos > len(body) {
			d.decodeError("PMT stream info overflows the section")
			return
		}
		var codec engine.Codec
		switch streamType {
		case demuxStreamTypeH264:
			codec = engine.CodecH264
		case demuxStreamTypeH265:
			codec = engine.CodecH265
		case demuxStreamTypeAAC:
			codec = engine.CodecAAC
		default:
			continue
		}
		if pid == 0 || pid == d.pmtPID || demuxHasPID(found, pid) || len(found) == demuxMaxStreams {
			continue
		}
		if codec.IsVideo() {
			if videos == demuxMaxVideo {
				continue
			}
			videos++
		}
		found = append(found, demuxStreamInfo{pid: pid, codec: codec})
	}
	d.setStreams(found)
}

type demuxStreamInfo struct {
	pid   int
	codec engine.Codec
}

func demuxHasPID(infos []demuxStreamInfo, pid int) bool {
	for _, in := range infos {
		if in.pid == pid {
			return true
		}
	}
	return false
}
