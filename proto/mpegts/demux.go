package mpegts

// The demuxer turns an MPEG-TS byte stream (file, HTTP body, UDP datagrams)
// into engine frames. The transport layer (packet sync, PAT/PMT, PES
// reassembly) is written here rather than taken from mediacommon's Reader:
// that Reader buffers up to 1 MiB while it looks for a PMT and then fails,
// never notices a PMT change (an encoder restarted with other PIDs), lets a
// PID without payload-unit starts accumulate packets without bound, and
// allocates per TS packet. Here every buffer is bounded, a PMT change is
// followed, and garbage anywhere only costs the packets it touches.
// mediacommon is used for the codec knowledge (NAL unit types, random
// access, AudioSpecificConfig).

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/livedge/livedge/engine"
)

const (
	demuxPacketSize = 188
	demuxSyncByte   = 0x47
	// demuxBufSize holds a whole UDP datagram (up to 64 KiB) plus the
	// unparsed tail of the previous read.
	demuxBufSize = 128 * 1024
	// demuxMaxZeroReads stops a reader that keeps returning nothing.
	demuxMaxZeroReads = 100
	// demuxErrLogEvery rate-limits decode error logs: a broken UDP feed can
	// produce thousands of errors a second.
	demuxErrLogEvery = 5 * time.Second
)

// Demuxer turns an MPEG-TS byte stream into frames for a sink. It handles
// H.264, H.265 and AAC (ADTS) elementary streams of the first program of the
// PAT and ignores every other stream. It survives any input: garbage, lost
// sync, truncated packets and PES, broken tables; it resyncs and goes on.
//
// A Demuxer is used by one goroutine; the sink is called from Run only.
type Demuxer struct {
	sink engine.Sink
	log  *slog.Logger

	// Program selection: the PMT PID and program number come from the PAT.
	pat     demuxSection
	pmt     demuxSection
	pmtPID  int // -1: none yet
	program int // program number, 0: none yet

	streams []*demuxStream // supported elementary streams of the PMT
	clock   demuxClock

	// Tracks are announced to the sink once every AAC stream has shown its
	// config; frames wait in pending until then (bounded).
	announced    bool
	pending      []demuxPending
	pendingBytes int

	// Decode errors are counted and logged at most every demuxErrLogEvery.
	errCount   int
	errLogged  time.Time
	locked     bool // the last packet was taken: the next one may end the buffer
	skipped    int  // bytes skipped since sync was lost
	nalScratch []demuxSpan
}

// NewDemuxer makes a demuxer that hands frames to sink and logs decode
// problems to log (nil: slog.Default()).
func NewDemuxer(sink engine.Sink, log *slog.Logger) *Demuxer {
	if log == nil {
		log = slog.Default()
	}
	return &Demuxer{
		sink:   sink,
		log:    log,
		pmtPID: -1,
	}
}

// Run reads TS from r until r fails, r ends or ctx ends; it returns the
// reason (io.EOF at the end of r, ctx's error once ctx is done). A Read that
// blocks is not interrupted by ctx: the caller closes r (or sets a deadline)
// when ctx ends. At the end of r the last buffered frames are delivered.
func (d *Demuxer) Run(ctx context.Context, r io.Reader) error {
	buf := make([]byte, demuxBufSize)
	n := 0
	zeroReads := 0
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, err := r.Read(buf[n:])
		if m < 0 || m > len(buf)-n {
			return errors.New("mpegts demux: reader returned an invalid count")
		}
		n += m
		used := d.scan(buf[:n], false)
		n = copy(buf, buf[used:n])
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return ctxErr
			}
			if errors.Is(err, io.EOF) {
				d.scan(buf[:n], true)
				d.flush()
			}
			return err
		}
		if m == 0 {
			zeroReads++
			if zeroReads >= demuxMaxZeroReads {
				return io.ErrNoProgress
			}
		} else {
			zeroReads = 0
		}
	}
}

// scan hands every complete packet of b to packet and returns how many bytes
// it consumed. A packet is taken when the byte after it is a sync byte too,
// so that a stray 0x47 in garbage or a truncated packet does not pass for a
// packet boundary. At the end of b, where that byte is not there yet, a
// packet is taken only if the one before it was (sync is locked): so the
// last packet of a datagram followed by a junk datagram is not lost, and
// nothing waits for the next read.
func (d *Demuxer) scan(b []byte, eof bool) int {
	i := 0
	for len(b)-i >= demuxPacketSize {
		if b[i] != demuxSyncByte {
			j := bytes.IndexByte(b[i+1:], demuxSyncByte)
			if j < 0 {
				d.loseSync(len(b) - i)
				i = len(b)
				break
			}
			d.loseSync(j + 1)
			i += j + 1
			continue
		}
		if len(b)-i > demuxPacketSize {
			if b[i+demuxPacketSize] != demuxSyncByte {
				d.loseSync(1)
				i++
				continue
			}
		} else if !d.locked && !eof {
			break // wait for the next sync byte to confirm this one
		}
		d.locked = true
		if d.skipped > 0 {
			d.decodeError("skipped bytes to regain packet sync", "bytes", d.skipped)
			d.skipped = 0
		}
		d.packet(b[i : i+demuxPacketSize])
		i += demuxPacketSize
	}
	if eof && i < len(b) {
		d.loseSync(len(b) - i)
		i = len(b)
	}
	return i
}

func (d *Demuxer) loseSync(n int) {
	d.locked = false
	d.skipped += n
}

// packet handles one 188-byte TS packet that starts with the sync byte.
func (d *Demuxer) packet(p []byte) {
	if p[1]&0x80 != 0 {
		return // transport_error_indicator: the modulator says it is damaged
	}
	pusi := p[1]&0x40 != 0
	pid := int(p[1]&0x1f)<<8 | int(p[2])
	afc := p[3] >> 4 & 0x03
	cc := int8(p[3] & 0x0f)
	if afc&0x01 == 0 {
		return // no payload (or the reserved value 0)
	}
	payload := p[4:]
	discontinuity := false
	if afc == 0x03 {
		afLen := int(p[4])
		if afLen > demuxPacketSize-4-1-1 {
			d.decodeError("adaptation field too long", "pid", pid, "length", afLen)
			return
		}
		if afLen > 0 {
			discontinuity = p[5]&0x80 != 0
		}
		payload = p[5+afLen:]
	}

	switch {
	case pid == 0:
		d.pat.feed(d, payload, pusi, cc, discontinuity, d.onPAT)
	case pid == d.pmtPID:
		d.pmt.feed(d, payload, pusi, cc, discontinuity, d.onPMT)
	default:
		for _, s := range d.streams {
			if s.pid == pid {
				d.feedPES(s, payload, pusi, cc, discontinuity)
				return
			}
		}
	}
}

// demuxContinuity checks a packet's continuity counter against the last one
// of its PID. It reports whether the packet is a duplicate (to be dropped)
// and whether packets were lost before it.
func demuxContinuity(last *int8, cc int8, discontinuity bool) (duplicate, lost bool) {
	prev := *last
	*last = cc
	switch {
	case prev < 0 || discontinuity:
		return false, false
	case cc == prev:
		return true, false
	case cc != (prev+1)&0x0f:
		return false, true
	}
	return false, false
}

// decodeError counts a recoverable problem in the input and logs it, rate
// limited.
func (d *Demuxer) decodeError(msg string, args ...any) {
	d.errCount++
	now := time.Now()
	if now.Sub(d.errLogged) < demuxErrLogEvery {
		return
	}
	args = append(args, "errors", d.errCount)
	d.log.Warn("mpegts demux: "+msg, args...)
	d.errLogged = now
	d.errCount = 0
}

// flush ends the stream: the PES still being collected (video PES have no
// length and end only when the next one starts) and frames still waiting for
// their tracks to be announced are delivered.
func (d *Demuxer) flush() {
	for _, s := range d.streams {
		if s.collecting {
			d.endPES(s)
		}
		d.emitVideo(s)
	}
	if !d.announced && len(d.pending) > 0 {
		d.announce()
	}
}
