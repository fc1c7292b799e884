package load

import (
	"fmt"
	"io"
	"time"
)

// Summary is the end-of-run result; -json prints it as one JSON object. The
// field names are stable: scripts rely on them.
type Summary struct {
	URL            string      `json:"url"`
	Mode           string      `json:"mode"` // "hls" or "ts"
	DurationS      float64     `json:"duration_s"`
	ViewersTarget  int         `json:"viewers_target"`
	ViewersStarted int         `json:"viewers_started"`
	ViewersUpPeak  int         `json:"viewers_up_peak"`
	ViewersUpEnd   int         `json:"viewers_up_end"`
	ViewersNoMedia int         `json:"viewers_no_media"` // started but never received media
	Sessions       int64       `json:"sessions"`         // sessions that received media (1 per viewer without reconnects)
	Bytes          int64       `json:"bytes"`
	GbpsAvg        float64     `json:"gbps_avg"`
	GbpsPeak       float64     `json:"gbps_peak"`
	Stalls         int64       `json:"stalls"`
	StalledViewers int         `json:"stalled_viewers"`
	StalledAtEnd   int         `json:"stalled_at_end"`
	Errors         int64       `json:"errors"`
	ErrorsByKind   ErrorCounts `json:"errors_by_kind"`
	TTFB           Latency     `json:"ttfb_ms"`
	OK             bool        `json:"ok"`
}

// ErrorCounts are the errors by class (see the package documentation).
type ErrorCounts struct {
	Connect  int64 `json:"connect"`
	Status   int64 `json:"status"`
	Segment  int64 `json:"segment"`
	Closed   int64 `json:"closed"`
	Timeout  int64 `json:"timeout"`
	Protocol int64 `json:"protocol"`
	Other    int64 `json:"other"`
}

// Latency is a distribution in milliseconds.
type Latency struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// progress prints the line for the second that ended at s.
func (r *run) progress(w io.Writer, s, prev sweep, prevHist *histSnapshot) {
	gbps := gbits(s.bytes-prev.bytes, s.at-prev.at)
	r.gbpsPeak = max(r.gbpsPeak, gbps)
	var cur histSnapshot
	r.ttfb.snapshot(&cur)
	interval := cur.sub(prevHist)
	*prevHist = cur
	p50, ok50 := interval.quantile(0.50)
	p99, ok99 := interval.quantile(0.99)
	fmt.Fprintf(w, "t=%ds up=%d/%d rx=%.3fGbit/s stalls=%d errors=%d ttfb_p50=%s ttfb_p99=%s\n",
		time.Duration(s.at)/time.Second, s.up, r.cfg.viewers, gbps,
		r.stalls.Load(), r.errorCount(), fmtMillis(p50, ok50), fmtMillis(p99, ok99))
}

// gbits is bytes over nanoseconds in Gbit/s.
func gbits(bytes, nanos int64) float64 {
	if nanos <= 0 {
		return 0
	}
	return float64(bytes) * 8 / float64(nanos)
}

func fmtMillis(d time.Duration, ok bool) string {
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.1fms", millis(d))
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// summarize builds the summary from the final sweep.
func (r *run) summarize(final sweep) Summary {
	mode := "ts"
	if r.cfg.hls {
		mode = "hls"
	}
	s := Summary{
		URL:            r.cfg.url.Redacted(),
		Mode:           mode,
		DurationS:      time.Duration(final.at).Seconds(),
		ViewersTarget:  r.cfg.viewers,
		ViewersStarted: final.started,
		ViewersUpPeak:  r.upPeak,
		ViewersUpEnd:   final.up,
		Sessions:       r.sessions.Load(),
		Bytes:          final.bytes,
		GbpsAvg:        gbits(final.bytes, final.at),
		GbpsPeak:       r.gbpsPeak,
		Stalls:         r.stalls.Load(),
		StalledAtEnd:   final.stalledNow,
		Errors:         r.errorCount(),
		ErrorsByKind: ErrorCounts{
			Connect:  r.errs[errConnect].Load(),
			Status:   r.errs[errStatus].Load(),
			Segment:  r.errs[errSegment].Load(),
			Closed:   r.errs[errClosed].Load(),
			Timeout:  r.errs[errTimeout].Load(),
			Protocol: r.errs[errProtocol].Load(),
			Other:    r.errs[errOther].Load(),
		},
	}
	if s.GbpsPeak == 0 {
		s.GbpsPeak = s.GbpsAvg // runs shorter than a second
	}
	for i := range final.started {
		v := &r.viewers[i]
		if v.stall.episodeCount() > 0 {
			s.StalledViewers++
		}
		if !v.upped.Load() {
			s.ViewersNoMedia++
		}
	}
	var h histSnapshot
	r.ttfb.snapshot(&h)
	s.TTFB.Count = h.count()
	for _, q := range []struct {
		dst *float64
		q   float64
	}{{&s.TTFB.P50, 0.5}, {&s.TTFB.P90, 0.9}, {&s.TTFB.P99, 0.99}} {
		d, _ := h.quantile(q.q)
		*q.dst = roundMillis(d)
	}
	d, _ := h.maxValue()
	s.TTFB.Max = roundMillis(d)
	s.OK = s.Stalls == 0 && s.Errors == 0 && s.ViewersNoMedia == 0 && s.ViewersStarted == s.ViewersTarget
	return s
}

// roundMillis gives milliseconds with microsecond resolution.
func roundMillis(d time.Duration) float64 {
	return float64(d.Round(time.Microsecond)) / float64(time.Millisecond)
}

// writeText prints the summary in the text format documented in the
// package comment.
func writeText(w io.Writer, s Summary) {
	result := "ok"
	if !s.OK {
		result = "FAIL"
	}
	e := s.ErrorsByKind
	fmt.Fprintf(w, "summary url=%s mode=%s duration=%.1fs\n", s.URL, s.Mode, s.DurationS)
	fmt.Fprintf(w, "viewers target=%d started=%d up_peak=%d up_end=%d no_media=%d sessions=%d\n",
		s.ViewersTarget, s.ViewersStarted, s.ViewersUpPeak, s.ViewersUpEnd, s.ViewersNoMedia, s.Sessions)
	fmt.Fprintf(w, "received bytes=%d avg=%.3fGbit/s peak=%.3fGbit/s\n", s.Bytes, s.GbpsAvg, s.GbpsPeak)
	fmt.Fprintf(w, "stalls events=%d viewers=%d at_end=%d\n", s.Stalls, s.StalledViewers, s.StalledAtEnd)
	fmt.Fprintf(w, "errors total=%d connect=%d status=%d segment=%d closed=%d timeout=%d protocol=%d other=%d\n",
		s.Errors, e.Connect, e.Status, e.Segment, e.Closed, e.Timeout, e.Protocol, e.Other)
	fmt.Fprintf(w, "ttfb samples=%d p50=%.1fms p90=%.1fms p99=%.1fms max=%.1fms\n",
		s.TTFB.Count, s.TTFB.P50, s.TTFB.P90, s.TTFB.P99, s.TTFB.Max)
	fmt.Fprintf(w, "result=%s\n", result)
}
