package load

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"sync"
	"time"
)

const (
	maxPlaylistBytes = 1 << 20
	// hlsStartSegments is how far behind the live edge a viewer starts, as
	// ffmpeg and hls.js do: these segments are its initial buffer.
	hlsStartSegments = 3
	maxMasterDepth   = 2
	minPollInterval  = 100 * time.Millisecond
)

// playlistBufs lends playlist bodies; a viewer holds one only from a
// playlist fetch until the new segments it lists are fetched.
var playlistBufs = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// playHLS is one HLS session: load the playlist (through a master playlist
// to its first variant), start hlsStartSegments behind the live edge, then
// reload every target duration/2 (jittered) and fetch each new segment once.
func (v *viewer) playHLS(ctx context.Context) error {
	v.beginSession(0)
	u := v.r.cfg.url
	for depth := 0; ; depth++ {
		final, err := v.loadPlaylist(ctx, u)
		if err != nil {
			return err
		}
		if v.pl.variant == nil {
			u = final
			break
		}
		if depth == maxMasterDepth {
			return classified(errProtocol, fmt.Errorf("%s: master playlists nested deeper than %d", final.Redacted(), maxMasterDepth))
		}
		next, err := final.Parse(string(v.pl.variant))
		if err != nil {
			return classified(errProtocol, fmt.Errorf("%s: variant %q: %w", final.Redacted(), truncate(v.pl.variant), err))
		}
		u = next
	}
	last := v.startSequence()
	for {
		if err := v.fetchNewSegments(ctx, u, &last); err != nil {
			return err
		}
		ended, td := v.pl.endList, v.pl.targetDuration
		v.releasePlaylist()
		if ended {
			return classified(errClosed, fmt.Errorf("%s: the playlist ended (EXT-X-ENDLIST)", u.Redacted()))
		}
		if v.firstByteAt == 0 && v.r.now()-v.sessionStart > int64(v.r.cfg.timeout) {
			return classified(errTimeout, fmt.Errorf("%s: no segment within %s", u.Redacted(), v.r.cfg.timeout))
		}
		if !v.sleep(ctx, pollInterval(td)) {
			return ctx.Err()
		}
		final, err := v.loadPlaylist(ctx, u)
		if err != nil {
			return err
		}
		if v.pl.variant != nil {
			return classified(errProtocol, fmt.Errorf("%s: the media playlist became a master playlist", final.Redacted()))
		}
		u = final
		if n := len(v.pl.segments); n > 0 && v.pl.segments[n-1].seq < last {
			// Sequence numbers went back: the stream restarted.
			last = v.startSequence()
		}
	}
}

// startSequence returns the sequence number just before the segments a new
// viewer starts with.
func (v *viewer) startSequence() int64 {
	segs := v.pl.segments
	if len(segs) == 0 {
		return v.pl.mediaSeq - 1
	}
	return segs[max(0, len(segs)-hlsStartSegments)].seq - 1
}

// fetchNewSegments fetches, in order, the listed segments after *last. A
// segment that fails with a status is counted and skipped, as a player
// skips it; a connection failure ends the session.
func (v *viewer) fetchNewSegments(ctx context.Context, playlistURL *url.URL, last *int64) error {
	for i := range v.pl.segments {
		s := &v.pl.segments[i]
		if s.seq <= *last {
			continue
		}
		*last = s.seq
		d := int64(s.duration * float64(time.Second))
		v.stall.raiseThreshold(max(d, minHLSThreshold))
		su, err := playlistURL.Parse(string(s.uri))
		if err != nil {
			return classified(errProtocol, fmt.Errorf("%s: segment %q: %w", playlistURL.Redacted(), truncate(s.uri), err))
		}
		final, err := v.get(ctx, su, modeSegment)
		if err != nil {
			return err
		}
		if st := v.resp.status; st != 200 {
			v.r.recordError(v, classified(errSegment, fmt.Errorf("GET %s: status %d", final.Redacted(), st)))
			continue
		}
		v.mediaArrived(v.r.now(), d)
	}
	return nil
}

// loadPlaylist fetches and parses a playlist into v.pl; the body stays
// borrowed in v.plBuf until releasePlaylist.
func (v *viewer) loadPlaylist(ctx context.Context, u *url.URL) (*url.URL, error) {
	v.releasePlaylist()
	v.plBuf = playlistBufs.Get().(*[]byte)
	*v.plBuf = (*v.plBuf)[:0]
	final, err := v.get(ctx, u, modePlaylist)
	if err != nil {
		return final, err
	}
	if st := v.resp.status; st != 200 {
		return final, classified(errStatus, fmt.Errorf("GET %s: status %d", final.Redacted(), st))
	}
	if err := v.pl.parse(*v.plBuf); err != nil {
		return final, classified(errProtocol, fmt.Errorf("GET %s: %w", final.Redacted(), err))
	}
	return final, nil
}

func (v *viewer) releasePlaylist() {
	if v.plBuf == nil {
		return
	}
	// Segment URIs point into the body: drop them with it.
	clear(v.pl.segments)
	v.pl.segments = v.pl.segments[:0]
	v.pl.variant = nil
	playlistBufs.Put(v.plBuf)
	v.plBuf = nil
}

// pollInterval is half the target duration, jittered by ±25 % so viewers
// started together do not poll together.
func pollInterval(targetDuration float64) time.Duration {
	if targetDuration <= 0 {
		targetDuration = 2
	}
	half := targetDuration / 2 * float64(time.Second)
	return max(time.Duration(half*(0.75+0.5*rand.Float64())), minPollInterval)
}
