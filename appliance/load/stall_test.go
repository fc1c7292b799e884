package load

import "testing"

const sec = int64(1e9)

func TestStallClock(t *testing.T) {
	type step struct {
		arrive   bool  // else check
		now, d   int64 // d: media arrived
		newStall bool
		stalled  bool // after the step (checks only)
	}
	for _, tc := range []struct {
		name      string
		threshold int64
		steps     []step
		episodes  int64
	}{
		{"on time with lead", 2 * sec, []step{
			{arrive: true, now: 1, d: 3 * sec},
			{arrive: true, now: 1 * sec, d: sec},
			{now: 5 * sec},
			{arrive: true, now: 5 * sec, d: sec},
			{now: 7 * sec}, // 2 s late: not more than the threshold
		}, 0},
		{"late then recovers", sec, []step{
			{arrive: true, now: 1, d: sec},
			{now: 2 * sec},                                // 1 s late: tolerated
			{now: 3 * sec, newStall: true, stalled: true}, // 2 s late
			{now: 4 * sec, stalled: true},                 // same episode
			{arrive: true, now: 5 * sec, d: sec},          // resumes: clock restarts here
			{now: 6 * sec},
			{arrive: true, now: 6 * sec, d: sec},
			{now: 7*sec + sec/2},
		}, 1},
		{"arrival reveals stall", sec, []step{
			{arrive: true, now: 1, d: sec},
			{arrive: true, now: 3 * sec, d: sec, newStall: true},
			{now: 3*sec + sec/2},
		}, 1},
		{"half speed stalls again", sec, []step{
			{arrive: true, now: 1, d: sec},
			{arrive: true, now: 2*sec + sec/2, d: sec, newStall: true},
			{arrive: true, now: 4*sec + sec/2, d: sec},                 // 1 s late: tolerated
			{arrive: true, now: 6*sec + sec/2, d: sec, newStall: true}, // 2 s late
			{now: 9 * sec, newStall: true, stalled: true},              // 1.5 s late again
		}, 3},
	} {
		var s stallClock
		s.start(tc.threshold)
		for i, st := range tc.steps {
			if st.arrive {
				if got := s.arrived(st.now, st.d); got != st.newStall {
					t.Errorf("%s: step %d arrival: new stall %v", tc.name, i, got)
				}
				continue
			}
			if n, stalled := s.check(st.now); n != st.newStall || stalled != st.stalled {
				t.Errorf("%s: step %d check: new %v stalled %v", tc.name, i, n, stalled)
			}
		}
		if got := s.episodeCount(); got != tc.episodes {
			t.Errorf("%s: %d episodes, want %d", tc.name, got, tc.episodes)
		}
	}
}

func TestStallClockStopped(t *testing.T) {
	var s stallClock
	s.start(sec)
	if n, stalled := s.check(100 * sec); n || stalled {
		t.Error("stall before any media")
	}
	s.arrived(1, sec)
	s.stop()
	if n, _ := s.check(100 * sec); n {
		t.Error("stall after stop")
	}
}
