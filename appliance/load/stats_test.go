package load

import (
	"testing"
	"time"
)

func TestHistogramBuckets(t *testing.T) {
	prev := -1
	for us := uint64(0); us < 1<<22; us += 1 + us/64 {
		b := histBucket(us)
		if b < prev || b >= histBuckets {
			t.Fatalf("bucket(%d) = %d after %d", us, b, prev)
		}
		prev = b
		v := histValue(b)
		if diff := float64(v) - float64(us); diff > float64(us)/30+1 || -diff > float64(us)/30+1 {
			t.Fatalf("value of bucket(%d) = %d", us, v)
		}
	}
	if b := histBucket(^uint64(0)); b >= histBuckets {
		t.Fatalf("max bucket %d", b)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Millisecond)
	}
	var s histSnapshot
	h.snapshot(&s)
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, time.Second}} {
		got, ok := s.quantile(tc.q)
		if !ok || got < tc.want*97/100 || got > tc.want*103/100 {
			t.Errorf("q%.2f = %v, want about %v", tc.q, got, tc.want)
		}
	}
	var empty histSnapshot
	if _, ok := empty.quantile(0.5); ok {
		t.Error("quantile of nothing")
	}
	d := s.sub(&s)
	if d.count() != 0 {
		t.Error("sub")
	}
}
