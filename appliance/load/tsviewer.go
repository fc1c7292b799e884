package load

import (
	"context"
	"errors"
	"fmt"
)

// playTS is one HTTP MPEG-TS session: it reads the stream until it fails
// or the run ends, following its media clock.
func (v *viewer) playTS(ctx context.Context) error {
	v.beginSession(tsStallThreshold)
	u, err := v.get(ctx, v.r.cfg.url, modeTS)
	if err != nil {
		return err
	}
	if st := v.resp.status; st != 200 {
		return classified(errStatus, fmt.Errorf("GET %s: status %d", u.Redacted(), st))
	}
	return classified(errClosed, fmt.Errorf("GET %s: the server ended the stream", u.Redacted()))
}

var errNoClock = errors.New("no PCR or PTS in the stream")

// onStream feeds stream bytes to the TS clock and reports its advance.
func (v *viewer) onStream(now int64, b []byte) error {
	v.ts.feed(b)
	if !v.ts.started {
		if now-v.firstByteAt > int64(v.r.cfg.timeout) {
			return classified(errProtocol, fmt.Errorf("%w within %s of data", errNoClock, v.r.cfg.timeout))
		}
		return nil
	}
	if !v.clockOn || v.ts.ticks != v.tsTicks {
		v.clockOn = true
		d := ticksToNanos(v.ts.ticks) - ticksToNanos(v.tsTicks)
		v.tsTicks = v.ts.ticks
		v.mediaArrived(now, d)
	}
	return nil
}
