package load

import "sync"

// stallClock tracks whether one viewer's media arrives in real time.
//
// covered is the wall-clock instant (run nanoseconds) up to which the media
// received so far would play: it starts at the arrival of the first media
// plus that media's duration, and every later arrival of d nanoseconds of
// media moves it d further. The viewer is behind by now-covered; more than
// threshold starts a stall episode. While stalled, the next arrival ends the
// episode and restarts the clock from that instant, as a player resumes after
// rebuffering, so a stream that keeps arriving late stalls again and each
// episode is counted once.
//
// The viewer goroutine reports arrivals and the reporter checks every
// second, so an episode is seen even while the viewer waits on the network.
type stallClock struct {
	mu        sync.Mutex
	covered   int64 // 0: no media yet in this session
	threshold int64 // nanoseconds of lateness tolerated
	stalled   bool
	episodes  int64 // stall episodes of this viewer over the run
}

// start begins a session with the given tolerance.
func (s *stallClock) start(threshold int64) {
	s.mu.Lock()
	s.covered, s.threshold, s.stalled = 0, threshold, false
	s.mu.Unlock()
}

// stop ends the session: no media clock until the next start.
func (s *stallClock) stop() {
	s.mu.Lock()
	s.covered, s.stalled = 0, false
	s.mu.Unlock()
}

// raiseThreshold makes the tolerance at least t.
func (s *stallClock) raiseThreshold(t int64) {
	s.mu.Lock()
	s.threshold = max(s.threshold, t)
	s.mu.Unlock()
}

// arrived records d nanoseconds of media received at now; it reports whether
// that arrival revealed a new stall episode.
func (s *stallClock) arrived(now, d int64) (newStall bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.covered == 0 {
		s.covered = now + d
		return false
	}
	newStall = s.lateLocked(now)
	if s.stalled {
		s.covered = now + d
		s.stalled = false
		return newStall
	}
	s.covered += d
	return newStall
}

// check looks at the clock at now; newStall reports a new episode, stalled
// whether the viewer is in one.
func (s *stallClock) check(now int64) (newStall, stalled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.covered == 0 {
		return false, false
	}
	newStall = s.lateLocked(now)
	return newStall, s.stalled
}

func (s *stallClock) lateLocked(now int64) bool {
	if s.stalled || now-s.covered <= s.threshold {
		return false
	}
	s.stalled = true
	s.episodes++
	return true
}

func (s *stallClock) episodeCount() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.episodes
}
