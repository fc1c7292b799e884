package load

const (
	tsPacketSize = 188
	tsSync       = 0x47
	tsNullPID    = 0x1fff
	ticksPerSec  = 90000
	tsWrap       = int64(1) << 33 // PCR base and PTS are 33-bit 90 kHz counters

	// A step larger than this is a discontinuity (stream restart, splice),
	// not media time: it neither counts as progress nor as a stall.
	maxClockStep = 10 * ticksPerSec
	// PTS of reordered (B-)frames steps back a little; that is not a
	// discontinuity.
	maxClockBack = 2 * ticksPerSec
)

// Clock sources by preference: the PCR is the transport's own clock; video
// PTS is next; audio PTS serves audio-only streams without PCR.
const (
	srcNone = iota
	srcAudioPTS
	srcVideoPTS
	srcPCR
)

// tsClock follows the media time of an MPEG-TS byte stream without parsing
// PSI: it locks onto the first PID carrying a PCR (else the first video, else
// audio PES with a PTS) and accumulates how far that clock advanced, across
// 33-bit wraps. Between feeds it keeps at most a partial packet, or two
// packets' worth of bytes while it looks for the sync again; the result does
// not depend on how the stream is split into feeds.
type tsClock struct {
	buf  [2 * tsPacketSize]byte
	bufN int
	lost bool // looking for the packet sync

	src     int // srcNone, srcAudioPTS, ...
	srcPID  uint16
	last    int64 // last value of the source clock, 90 kHz
	ticks   int64 // media time advanced since the first sample, 90 kHz
	started bool  // a first sample was seen
	resyncs int   // times the 0x47 sync was lost
}

func (c *tsClock) reset() { *c = tsClock{} }

// feed consumes the next bytes of the stream.
func (c *tsClock) feed(b []byte) {
	for len(b) > 0 {
		switch {
		case c.lost:
			b = c.resync(b)
		case c.bufN > 0:
			n := copy(c.buf[c.bufN:tsPacketSize], b)
			c.bufN += n
			b = b[n:]
			if c.bufN < tsPacketSize {
				return
			}
			c.bufN = 0
			c.packet(c.buf[:tsPacketSize])
		case b[0] != tsSync:
			c.lost = true
			c.resyncs++
		case len(b) < tsPacketSize:
			c.bufN = copy(c.buf[:], b)
			return
		default:
			c.packet(b[:tsPacketSize])
			b = b[tsPacketSize:]
		}
	}
}

// resync gathers two packets' worth of bytes and looks in the first for a
// sync byte that repeats one packet later; without one it drops a packet's
// worth and goes on. It returns what is left of b.
func (c *tsClock) resync(b []byte) []byte {
	n := copy(c.buf[c.bufN:], b)
	c.bufN += n
	b = b[n:]
	if c.bufN < len(c.buf) {
		return b
	}
	for i := range tsPacketSize {
		if c.buf[i] == tsSync && c.buf[i+tsPacketSize] == tsSync {
			c.lost = false
			c.packet(c.buf[i : i+tsPacketSize])
			// The rest starts with the confirmed sync byte: a partial
			// packet, or a whole one that the next round completes.
			c.bufN = copy(c.buf[:], c.buf[i+tsPacketSize:])
			if c.bufN == tsPacketSize {
				c.bufN = 0
				c.packet(c.buf[:tsPacketSize])
			}
			return b
		}
	}
	c.bufN = copy(c.buf[:], c.buf[tsPacketSize:])
	return b
}

func (c *tsClock) packet(p []byte) {
	pid := uint16(p[1]&0x1f)<<8 | uint16(p[2])
	if pid == tsNullPID {
		return
	}
	afc := p[3] >> 4 & 3
	off := 4
	if afc&2 != 0 {
		alen := int(p[4])
		if alen > tsPacketSize-5 {
			return
		}
		if alen >= 7 && p[5]&0x10 != 0 {
			pcr := int64(p[6])<<25 | int64(p[7])<<17 | int64(p[8])<<9 | int64(p[9])<<1 | int64(p[10])>>7
			c.sample(pid, srcPCR, pcr)
		}
		off = 5 + alen
	}
	// PES start with a PTS, looked at only while no better source is locked.
	if c.src == srcPCR || afc&1 == 0 || p[1]&0x40 == 0 || off+14 > tsPacketSize {
		return
	}
	q := p[off:]
	if q[0] != 0 || q[1] != 0 || q[2] != 1 {
		return
	}
	var src int
	switch sid := q[3]; {
	case sid >= 0xe0 && sid <= 0xef:
		src = srcVideoPTS
	case sid >= 0xc0 && sid <= 0xdf, sid == 0xbd:
		src = srcAudioPTS
	default:
		return
	}
	if src < c.src || q[7]&0x80 == 0 || q[8] < 5 {
		return
	}
	pts := int64(q[9]>>1&7)<<30 | int64(q[10])<<22 | int64(q[11]>>1)<<15 | int64(q[12])<<7 | int64(q[13]>>1)
	c.sample(pid, src, pts)
}

// sample advances the media time by the step of the locked clock source.
func (c *tsClock) sample(pid uint16, src int, v int64) {
	if src > c.src {
		// A better source: continue from its current value.
		c.src, c.srcPID, c.last, c.started = src, pid, v, true
		return
	}
	if src != c.src || pid != c.srcPID {
		return
	}
	step := (v - c.last) & (tsWrap - 1)
	switch {
	case step <= maxClockStep:
		c.ticks += step
		c.last = v
	case step >= tsWrap-maxClockBack:
		// Slightly backwards: keep the high-water mark.
	default:
		c.last = v // discontinuity
	}
}

// ticksToNanos converts 90 kHz ticks to nanoseconds.
func ticksToNanos(t int64) int64 { return t * 100000 / 9 }
