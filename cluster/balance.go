package cluster

import (
	"cmp"
	"fmt"
	"math/bits"

	"github.com/livedge/livedge/perf"
)

// Candidate is a server the balancer may send a viewer to.
type Candidate struct {
	// Peer is the server's name, Public where viewers reach it.
	Peer, Public string
	Load         perf.Load
	// MaxBitrateKbit is the server's output limit (0 = none known).
	MaxBitrateKbit uint64
}

// ParseMode reads a cluster_balance value: "clients", "bitrate", "usage",
// or "" for the default.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case "", ModeClients, ModeBitrate, ModeUsage:
		return m, nil
	}
	return "", fmt.Errorf("balance mode %q is not clients, bitrate or usage", s)
}

// Overloaded tells whether a server is at or over its output limit; a
// server without a limit (0) never is.
func Overloaded(load perf.Load, maxBitrateKbit uint64) bool {
	return maxBitrateKbit > 0 && load.OutputKbit >= maxBitrateKbit
}

// Pick is the least loaded candidate by mode; equally loaded candidates win
// at random, each with the same chance, by rnd(n) (a uniform integer in
// [0, n), e.g. math/rand/v2.IntN; nil keeps the first). false when there is
// no candidate.
//
// Modes: ModeClients compares viewers, ModeBitrate output kbit/s, ModeUsage
// output / max bitrate. In ModeUsage a candidate without a known limit ranks
// after every candidate with one (its headroom is unknown), and candidates
// without limits compare by output bitrate. Mode "" is ModeUsage when some
// candidate has a limit, else ModeClients. Another mode is ModeClients.
func Pick(mode Mode, candidates []Candidate, rnd func(n int) int) (Candidate, bool) {
	if mode == "" {
		mode = ModeClients
		for i := range candidates {
			if candidates[i].MaxBitrateKbit > 0 {
				mode = ModeUsage
				break
			}
		}
	}
	best, ties := -1, 0
	for i := range candidates {
		if best < 0 {
			best, ties = i, 1
			continue
		}
		c, b := &candidates[i], &candidates[best]
		switch compareLoad(mode, c.Load, c.MaxBitrateKbit, b.Load, b.MaxBitrateKbit) {
		case -1:
			best, ties = i, 1
		case 0:
			ties++
			if rnd != nil && rnd(ties) == 0 {
				best = i
			}
		}
	}
	if best < 0 {
		return Candidate{}, false
	}
	return candidates[best], true
}

// compareLoad is -1 when server a is less loaded than b by mode, 0 when
// they are equal, 1 when a is more loaded.
func compareLoad(mode Mode, a perf.Load, aMax uint64, b perf.Load, bMax uint64) int {
	switch mode {
	case ModeBitrate:
		return cmp.Compare(a.OutputKbit, b.OutputKbit)
	case ModeUsage:
		switch {
		case aMax > 0 && bMax > 0:
			// a.out/aMax against b.out/bMax, exactly: a.out*bMax against
			// b.out*aMax in 128 bits.
			aHi, aLo := bits.Mul64(a.OutputKbit, bMax)
			bHi, bLo := bits.Mul64(b.OutputKbit, aMax)
			if c := cmp.Compare(aHi, bHi); c != 0 {
				return c
			}
			return cmp.Compare(aLo, bLo)
		case aMax > 0:
			return -1
		case bMax > 0:
			return 1
		}
		return cmp.Compare(a.OutputKbit, b.OutputKbit)
	}
	switch {
	case a.Clients < b.Clients:
		return -1
	case a.Clients > b.Clients:
		return 1
	}
	return 0
}
