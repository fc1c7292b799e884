package load

import (
	"errors"
	"math/bits"
	"sync/atomic"
	"time"
)

// errKind is the class an error is counted under.
type errKind int

const (
	errConnect  errKind = iota // TCP connect failed or timed out
	errStatus                  // playlist or stream answered other than 200 (after redirects)
	errSegment                 // an HLS segment answered other than 200 (404, ...)
	errClosed                  // the server closed or reset the stream, or the playlist ended
	errTimeout                 // no response, first byte or data within -timeout
	errProtocol                // malformed HTTP, playlist, or no PCR/PTS in a TS stream
	errOther                   // anything else (local socket errors)
	numErrKinds
)

var errKindNames = [numErrKinds]string{"connect", "status", "segment", "closed", "timeout", "protocol", "other"}

func (k errKind) String() string { return errKindNames[k] }

// viewerError is an error with the class it is counted under.
type viewerError struct {
	kind errKind
	err  error
}

func (e *viewerError) Error() string { return e.err.Error() }
func (e *viewerError) Unwrap() error { return e.err }

func classified(kind errKind, err error) error { return &viewerError{kind: kind, err: err} }

// kindOf returns the class of err, errOther when it has none.
func kindOf(err error) errKind {
	var ve *viewerError
	if errors.As(err, &ve) {
		return ve.kind
	}
	return errOther
}

// Latency histogram: log-linear buckets of microseconds, 16 per power of
// two, so a quantile is off by at most 1/32 of its value. Recording is one
// atomic add; no locks, no allocation.
const (
	histSubBits = 4
	histSub     = 1 << histSubBits
	histBuckets = (64-histSubBits)*histSub + histSub
)

type histogram struct {
	counts [histBuckets]atomic.Uint64
}

type histSnapshot [histBuckets]uint64

func histBucket(us uint64) int {
	if us < histSub {
		return int(us)
	}
	e := bits.Len64(us) - 1 // >= histSubBits
	sub := us >> (e - histSubBits) & (histSub - 1)
	return (e-histSubBits+1)*histSub + int(sub)
}

// histValue is the middle of bucket i, in microseconds.
func histValue(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	e := i/histSub + histSubBits - 1
	sub := uint64(i % histSub)
	width := uint64(1) << (e - histSubBits)
	return (histSub+sub)<<(e-histSubBits) + width/2
}

func (h *histogram) record(d time.Duration) {
	us := max(d.Microseconds(), 0)
	h.counts[histBucket(uint64(us))].Add(1)
}

func (h *histogram) snapshot(s *histSnapshot) {
	for i := range h.counts {
		s[i] = h.counts[i].Load()
	}
}

// sub returns s minus prev, bucket by bucket.
func (s *histSnapshot) sub(prev *histSnapshot) histSnapshot {
	var d histSnapshot
	for i := range s {
		d[i] = s[i] - prev[i]
	}
	return d
}

func (s *histSnapshot) count() uint64 {
	var n uint64
	for _, c := range s {
		n += c
	}
	return n
}

// quantile returns the q-quantile (0 < q <= 1); ok is false when empty.
func (s *histSnapshot) quantile(q float64) (time.Duration, bool) {
	n := s.count()
	if n == 0 {
		return 0, false
	}
	rank := uint64(q*float64(n) + 0.999999)
	rank = min(max(rank, 1), n)
	var seen uint64
	for i, c := range s {
		seen += c
		if seen >= rank {
			return time.Duration(histValue(i)) * time.Microsecond, true
		}
	}
	return 0, false
}

// maxValue returns the middle of the highest non-empty bucket.
func (s *histSnapshot) maxValue() (time.Duration, bool) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] != 0 {
			return time.Duration(histValue(i)) * time.Microsecond, true
		}
	}
	return 0, false
}
