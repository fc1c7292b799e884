package cluster

import (
	"math/rand/v2"
	"testing"

	"github.com/livedge/livedge/perf"
)

func candidate(name string, clients int, kbit, maxKbit uint64) Candidate {
	return Candidate{Peer: name, Public: name + ".example.com", Load: perf.Load{Clients: clients, OutputKbit: kbit}, MaxBitrateKbit: maxKbit}
}

func TestPick(t *testing.T) {
	a := candidate("a", 10, 9000, 10000) // usage 0.9
	b := candidate("b", 50, 5000, 0)     // no limit
	c := candidate("c", 30, 8000, 20000) // usage 0.4
	d := candidate("d", 5, 12000, 60000) // usage 0.2
	for _, tc := range []struct {
		name  string
		mode  Mode
		cands []Candidate
		want  string
	}{
		{"clients", ModeClients, []Candidate{a, b, c, d}, "d"},
		{"bitrate", ModeBitrate, []Candidate{a, b, c, d}, "b"},
		{"usage", ModeUsage, []Candidate{a, b, c, d}, "d"},
		{"usage: unknown limit ranks last", ModeUsage, []Candidate{b, a}, "a"},
		{"usage: all unknown compare bitrate", ModeUsage, []Candidate{candidate("x", 1, 700, 0), candidate("y", 9, 600, 0)}, "y"},
		{"default with a limit is usage", "", []Candidate{a, b, c, d}, "d"},
		{"default without limits is clients", "", []Candidate{candidate("x", 3, 1, 0), candidate("y", 2, 900, 0)}, "y"},
		{"unknown mode is clients", "weird", []Candidate{a, b, c, d}, "d"},
		{"one", ModeBitrate, []Candidate{c}, "c"},
		{"usage exact at huge figures", ModeUsage, []Candidate{
			candidate("x", 0, 1<<62, 1<<63),   // 0.5
			candidate("y", 0, 1<<61+1, 1<<62), // just over 0.5
		}, "x"},
	} {
		got, ok := Pick(tc.mode, tc.cands, rand.IntN)
		if !ok || got.Peer != tc.want {
			t.Errorf("%s: Pick = %q %v, want %q", tc.name, got.Peer, ok, tc.want)
		}
	}
	if _, ok := Pick(ModeUsage, nil, rand.IntN); ok {
		t.Error("Pick of no candidate succeeded")
	}
}

// TestPickTies: equally loaded candidates each win about as often; a
// less loaded one always wins.
func TestPickTies(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, mode := range []Mode{ModeClients, ModeBitrate, ModeUsage} {
		tied := []Candidate{
			candidate("a", 7, 700, 1000),
			candidate("b", 7, 700, 1000),
			candidate("c", 7, 700, 1000),
			candidate("busy", 8, 800, 1000),
		}
		wins := map[string]int{}
		const rounds = 3000
		for range rounds {
			got, _ := Pick(mode, tied, rnd.IntN)
			wins[got.Peer]++
		}
		if wins["busy"] != 0 {
			t.Errorf("%s: the busier candidate won %d times", mode, wins["busy"])
		}
		for _, name := range []string{"a", "b", "c"} {
			// Each wins 1000 times on average (sd 26): 850 is 6 sd off.
			if wins[name] < 850 || wins[name] > 1150 {
				t.Errorf("%s: %s won %d of %d ties, want about a third", mode, name, wins[name], rounds)
			}
		}
	}
	// Without rnd the first of the tied wins.
	got, _ := Pick(ModeClients, []Candidate{candidate("x", 1, 0, 0), candidate("y", 1, 0, 0)}, nil)
	if got.Peer != "x" {
		t.Errorf("Pick without rnd = %s, want the first", got.Peer)
	}
}

func TestOverloaded(t *testing.T) {
	for _, tc := range []struct {
		kbit, max uint64
		want      bool
	}{{0, 0, false}, {1 << 40, 0, false}, {999, 1000, false}, {1000, 1000, true}, {1001, 1000, true}} {
		if got := Overloaded(perf.Load{OutputKbit: tc.kbit}, tc.max); got != tc.want {
			t.Errorf("Overloaded(%d, %d) = %v", tc.kbit, tc.max, got)
		}
	}
}

func TestParseMode(t *testing.T) {
	for _, ok := range []string{"", "clients", "bitrate", "usage"} {
		if m, err := ParseMode(ok); err != nil || string(m) != ok {
			t.Errorf("ParseMode(%q) = %q, %v", ok, m, err)
		}
	}
	if _, err := ParseMode("Usage"); err == nil {
		t.Error("ParseMode(Usage) accepted")
	}
}
