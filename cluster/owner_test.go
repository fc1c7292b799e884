package cluster

import (
	"fmt"
	"slices"
	"testing"
)

func TestIngestOwner(t *testing.T) {
	live := []string{"edge1", "edge2", "edge3"}
	hashed := IngestOwner("cam1", "", live)
	if !slices.Contains(live, hashed) {
		t.Fatalf("IngestOwner(cam1) = %q, not a live server", hashed)
	}
	for _, tc := range []struct {
		name, stream, captureAt string
		live                    []string
		want                    string
	}{
		{"capture_at live", "cam1", "edge2", live, "edge2"},
		{"capture_at live, other order", "cam1", "edge3", []string{"edge3", "edge1", "edge2"}, "edge3"},
		{"capture_at dead: hashing", "cam1", "edge9", live, hashed},
		{"no capture_at: hashing", "cam1", "", live, hashed},
		{"order does not matter", "cam1", "", []string{"edge3", "edge2", "edge1"}, hashed},
		{"duplicates do not matter", "cam1", "", []string{"edge1", "edge2", "edge2", "edge3", "edge1"}, hashed},
		{"alone", "cam1", "", []string{"edge7"}, "edge7"},
		{"alone, capture_at dead", "cam1", "edge1", []string{"edge7"}, "edge7"},
		{"nobody live", "cam1", "", nil, ""},
		{"nobody live, capture_at", "cam1", "edge1", []string{}, ""},
	} {
		if got := IngestOwner(tc.stream, tc.captureAt, tc.live); got != tc.want {
			t.Errorf("%s: IngestOwner(%q, %q, %q) = %q, want %q", tc.name, tc.stream, tc.captureAt, tc.live, got, tc.want)
		}
	}
}

// TestIngestOwnerRemovingALoserChangesNothing is the property hand-overs
// rely on: a server that does not own a stream joining or leaving never
// moves it.
func TestIngestOwnerRemovingALoserChangesNothing(t *testing.T) {
	live := serverNames("edge%02d", 8)
	for s := range 2000 {
		stream := fmt.Sprintf("s%d", s)
		owner := IngestOwner(stream, "", live)
		for i, server := range live {
			if server == owner {
				continue
			}
			without := slices.Delete(slices.Clone(live), i, i+1)
			if got := IngestOwner(stream, "", without); got != owner {
				t.Fatalf("%s: owner %s, but %s after %s left", stream, owner, got, server)
			}
		}
	}
}

func serverNames(pattern string, n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf(pattern, i+1)
	}
	return names
}

func streamNames(pattern string, n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf(pattern, i)
	}
	return names
}

func owners(streams, live []string) map[string]string {
	m := make(map[string]string, len(streams))
	for _, s := range streams {
		m[s] = IngestOwner(s, "", live)
	}
	return m
}

// TestIngestOwnerSpread: 20 servers, 10,000 streams: every server owns
// within ±10 % of the mean, and a single join or leave moves about 1/N of
// the streams, only to the joiner or only from the leaver.
func TestIngestOwnerSpread(t *testing.T) {
	const nServers, nStreams = 20, 10000
	live := serverNames("edge%02d", nServers)
	streams := streamNames("stream%05d", nStreams)
	before := owners(streams, live)

	count := map[string]int{}
	for _, o := range before {
		count[o]++
	}
	mean := float64(nStreams) / nServers
	lo, hi := nStreams, 0
	for _, server := range live {
		c := count[server]
		lo, hi = min(lo, c), max(hi, c)
		if float64(c) < 0.9*mean || float64(c) > 1.1*mean {
			t.Errorf("%s owns %d streams, outside mean %.0f ±10 %%", server, c, mean)
		}
	}
	t.Logf("20 servers, 10000 streams: each owns %d..%d (mean %.0f)", lo, hi, mean)

	// Leave: only the leaver's streams move, about 1/N of all.
	for _, leaver := range []string{"edge01", "edge07", "edge20"} {
		without := slices.DeleteFunc(slices.Clone(live), func(s string) bool { return s == leaver })
		moved := countMoved(t, leaver+" left", streams, before, owners(streams, without),
			func(from, _ string) bool { return from == leaver })
		if moved != count[leaver] {
			t.Errorf("%s left: %d streams moved, it owned %d", leaver, moved, count[leaver])
		}
		checkMovedShare(t, leaver+" left", moved, nStreams, nServers)
	}

	// Join: only streams won by the joiner move, about 1/(N+1) of all.
	for _, joiner := range []string{"edge21", "edge-new", "10.0.0.9"} {
		moved := countMoved(t, joiner+" joined", streams, before, owners(streams, append(slices.Clone(live), joiner)),
			func(_, to string) bool { return to == joiner })
		checkMovedShare(t, joiner+" joined", moved, nStreams, nServers+1)
	}
}

// countMoved counts the streams whose owner differs between before and
// after, and fails at the first move that allowed rejects.
func countMoved(t *testing.T, what string, streams []string, before, after map[string]string, allowed func(from, to string) bool) int {
	t.Helper()
	moved := 0
	for _, s := range streams {
		if after[s] != before[s] {
			moved++
			if !allowed(before[s], after[s]) {
				t.Fatalf("%s, yet %s moved from %s to %s", what, s, before[s], after[s])
			}
		}
	}
	return moved
}

// checkMovedShare: moved is within [0.5/n, 1.5/n] of total.
func checkMovedShare(t *testing.T, what string, moved, total, n int) {
	t.Helper()
	share := float64(moved) / float64(total)
	if share < 0.5/float64(n) || share > 1.5/float64(n) {
		t.Errorf("%s: %d of %d streams moved (%.4f), want about 1/%d", what, moved, total, share, n)
	}
}

// TestIngestOwnerUniform checks the hash itself on several name sets: the
// per-server counts of 10,000 streams over 20 servers follow the binomial
// law of a uniform choice (Pearson's chi-square with 19 degrees of
// freedom under its 99.9 % quantile, 43.8). ±10 % of the mean is 2.3
// standard deviations at this size, so a name set may, rarely, miss it
// while the hash is uniform; this test tells the two apart.
func TestIngestOwnerUniform(t *testing.T) {
	const nServers, nStreams = 20, 10000
	for _, serverPattern := range []string{"edge%02d", "server-%d", "srv%d.example.com", "10.0.0.%d:8080"} {
		for _, streamPattern := range []string{"stream%05d", "tv/%d", "cam-%d"} {
			live := serverNames(serverPattern, nServers)
			count := map[string]int{}
			for _, o := range owners(streamNames(streamPattern, nStreams), live) {
				count[o]++
			}
			mean := float64(nStreams) / nServers
			chi2 := 0.0
			for _, server := range live {
				d := float64(count[server]) - mean
				chi2 += d * d / mean
			}
			if chi2 > 43.8 {
				t.Errorf("servers %s, streams %s: chi-square %.1f over 43.8: not uniform", serverPattern, streamPattern, chi2)
			}
		}
	}
}

func TestValidateServerName(t *testing.T) {
	// The config's rule for hostname and capture_at (engine.ValidateHost).
	for _, ok := range []string{"edge1", "edge1.example.com", "10.0.0.1", "[::1]", "a_b-c"} {
		if err := ValidateServerName(ok); err != nil {
			t.Errorf("ValidateServerName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a b", "a/b", "é", "a\n", "10.0.0.1:8080", "::1", string(make([]byte, 254))} {
		if ValidateServerName(bad) == nil {
			t.Errorf("ValidateServerName(%q) accepted", bad)
		}
	}
}
