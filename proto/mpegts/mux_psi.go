package mpegts

// PSI (PAT and PMT) of the muxer's single program. Both tables are rebuilt only
// when the tracks change; writing them is a copy plus a continuity counter.

// muxPSIPacket lays out one TS packet that carries a whole PSI section:
// header with payload_unit_start, pointer_field 0, the section, its CRC and
// 0xFF stuffing. The continuity counter (low nibble of byte 3) is set when the
// packet is written.
func muxPSIPacket(pkt *[muxPacketSize]byte, pid uint16, section []byte) {
	pkt[0] = muxSyncByte
	pkt[1] = 0x40 | byte(pid>>8)&0x1F
	pkt[2] = byte(pid)
	pkt[3] = 0x10
	pkt[4] = 0 // pointer_field
	n := 5 + copy(pkt[5:], section)
	crc := crc32(section)
	pkt[n] = byte(crc >> 24)
	pkt[n+1] = byte(crc >> 16)
	pkt[n+2] = byte(crc >> 8)
	pkt[n+3] = byte(crc)
	for i := n + 4; i < muxPacketSize; i++ {
		pkt[i] = 0xFF
	}
}

// buildPSI prepares the PAT and PMT packets for the current tracks.
func (m *Muxer) buildPSI() {
	var sec [muxPacketSize]byte

	// PAT: one program, number 1, whose PMT is on muxPIDPMT.
	pat := sec[:0]
	pat = append(pat,
		0x00,       // table_id
		0xB0, 0x0D, // section_syntax_indicator, '0', reserved, section_length 13
		0x00, 0x01, // transport_stream_id
		0xC1|m.version<<1, // reserved, version_number, current_next_indicator
		0x00, 0x00,        // section_number, last_section_number
		0x00, 0x01, // program_number
		0xE0|byte(muxPIDPMT>>8), byte(muxPIDPMT&0xFF),
	)
	muxPSIPacket(&m.pat, muxPIDPAT, pat)

	// PMT: section_length counts from after itself to the end of the CRC.
	pmt := sec[:0]
	pmt = append(pmt,
		0x02,       // table_id
		0xB0, 0x00, // section_syntax_indicator, '0', reserved, section_length (set below)
		0x00, 0x01, // program_number
		0xC1|m.version<<1,
		0x00, 0x00,
		0xE0|byte(m.pcrPID>>8), byte(m.pcrPID),
		0xF0, 0x00, // program_info_length 0
	)
	for i := range m.tracks {
		t := &m.tracks[i]
		if !t.ok {
			continue
		}
		pmt = append(pmt, t.streamType, 0xE0|byte(t.pid>>8), byte(t.pid), 0xF0, 0x00)
	}
	sectionLength := len(pmt) - 3 + 4
	pmt[1] = 0xB0 | byte(sectionLength>>8)
	pmt[2] = byte(sectionLength)
	muxPSIPacket(&m.pmt, muxPIDPMT, pmt)
}

// WritePATPMT appends the PAT and the PMT, one TS packet each, to dst.
func (m *Muxer) WritePATPMT(dst []byte) []byte {
	dst = append(dst, m.pat[:]...)
	dst[len(dst)-muxPacketSize+3] = 0x10 | m.patCC
	m.patCC = (m.patCC + 1) & 0x0F
	dst = append(dst, m.pmt[:]...)
	dst[len(dst)-muxPacketSize+3] = 0x10 | m.pmtCC
	m.pmtCC = (m.pmtCC + 1) & 0x0F
	return dst
}
