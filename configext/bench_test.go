package configext

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkCycle10k is one refresh cycle against a backend listing 10,000
// streams (pages of 1,000) with 2,000 more running here but not listed, of
// which the backend still configures half. The backend runs in-process, so
// ns/op includes its side; requests/op and bytes/op are the client's.
func BenchmarkCycle10k(b *testing.B) {
	for _, etag := range []bool{false, true} {
		b.Run(fmt.Sprintf("etag=%v", etag), func(b *testing.B) {
			be := newTestBackend(b)
			var listed []string
			for i := range 10000 {
				listed = append(listed, stream(fmt.Sprintf("live/channel-%05d", i), `"static":true,"segment_duration":2000,"transcoder":{"vb":"2000k"}`))
			}
			be.setListed(listed...)
			be.pageSize = 1000
			be.etags = etag
			running := make([]string, 0, 12000)
			for i := range 10000 {
				running = append(running, fmt.Sprintf("live/channel-%05d", i))
			}
			var known []string
			for i := range 2000 {
				name := fmt.Sprintf("dyn/viewer-requested-%05d", i)
				running = append(running, name)
				if i%2 == 0 {
					known = append(known, stream(name, `"static":false`))
				}
			}
			be.setKnown(known...)
			a := &applyRecorder{}
			c := newTestClient(b, be.url("/"), a, nil, func(o *Options) { o.Running = func() []string { return running } })
			ctx := context.Background()
			if err := c.Refresh(ctx); err != nil {
				b.Fatal(err)
			}
			if n := len(a.last()); n != 11000 {
				b.Fatalf("desired set of %d", n)
			}
			before := c.Counters()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := c.Refresh(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			after := c.Counters()
			n := float64(b.N)
			b.ReportMetric(float64(after.Requests-before.Requests)/n, "requests/op")
			b.ReportMetric(float64(after.Bytes-before.Bytes)/n, "bytes/op")
			if after.Applies != before.Applies {
				b.Fatal("an unchanged backend applied")
			}
		})
	}
}
