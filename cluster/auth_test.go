package cluster

import (
	"strings"
	"testing"
	"time"
)

var authEpoch = time.Unix(1700000000, 0)

func TestSignFormat(t *testing.T) {
	// sha1("1700000000:s3cret"), computed outside Go.
	want := "Cluster 1700000000:16bc14f98e6d28e54865826fdb1ea3f93ebb2c0d"
	if got := Sign("s3cret", authEpoch); got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
}

func TestVerifyRoundTripAndSkew(t *testing.T) {
	auth := Sign("s3cret", authEpoch)
	for _, tc := range []struct {
		name   string
		offset time.Duration
		ok     bool
	}{
		{"same second", 0, true},
		{"60 s later", 60 * time.Second, true},
		{"60 s earlier", -60 * time.Second, true},
		{"61 s later", 61 * time.Second, false},
		{"61 s earlier", -61 * time.Second, false},
		{"an hour later", time.Hour, false},
	} {
		err := Verify("s3cret", auth, authEpoch.Add(tc.offset))
		if (err == nil) != tc.ok {
			t.Errorf("%s: Verify = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "clock") {
			t.Errorf("%s: error %q does not say the clocks are off", tc.name, err)
		}
	}
}

func TestVerifyRejects(t *testing.T) {
	good := Sign("s3cret", authEpoch)
	digest := good[len("Cluster 1700000000:"):]
	for _, tc := range []struct {
		name, key, auth, wantErr string
	}{
		{"wrong key", "other", good, "wrong cluster_key"},
		{"no key here", "", good, "peering is off"},
		{"empty header", "s3cret", "", "missing"},
		{"other scheme", "s3cret", "Basic " + good[len("Cluster "):], "want Authorization"},
		{"scheme only", "s3cret", "Cluster", "want Authorization"},
		{"no colon", "s3cret", "Cluster 1700000000" + digest, "want Authorization"},
		{"empty timestamp", "s3cret", "Cluster :" + digest, "timestamp"},
		{"signed timestamp", "s3cret", "Cluster +1700000000:" + digest, "timestamp"},
		{"negative timestamp", "s3cret", "Cluster -1700000000:" + digest, "timestamp"},
		{"hex timestamp", "s3cret", "Cluster 0x6553f100:" + digest, "timestamp"},
		{"20-digit timestamp", "s3cret", "Cluster 17000000000000000000:" + digest, "timestamp"},
		{"19 digits out of range", "s3cret", "Cluster 9999999999999999999:" + digest, "timestamp"},
		{"short digest", "s3cret", good[:len(good)-2], "40 hex"},
		{"long digest", "s3cret", good + "00", "40 hex"},
		{"non-hex digest", "s3cret", good[:len(good)-1] + "g", "40 hex"},
		{"trailing space", "s3cret", good + " ", "40 hex"},
		{"two spaces", "s3cret", "Cluster  1700000000:" + digest, "timestamp"},
		{"too long", "s3cret", good + strings.Repeat("0", 200), "longer than"},
		{"digest of another timestamp", "s3cret", "Cluster 1700000001:" + digest, "wrong cluster_key"},
	} {
		err := Verify(tc.key, tc.auth, authEpoch)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: Verify(%q) = %v, want an error with %q", tc.name, tc.auth, err, tc.wantErr)
		}
	}
}

func TestVerifyAccepts(t *testing.T) {
	good := Sign("s3cret", authEpoch)
	for _, auth := range []string{
		good,
		"cluster " + good[len("Cluster "):],
		"CLUSTER " + strings.ToUpper(good[len("Cluster "):]),
	} {
		if err := Verify("s3cret", auth, authEpoch); err != nil {
			t.Errorf("Verify(%q) = %v", auth, err)
		}
	}
}

// FuzzVerify: no panic on any header; whatever verifies is the signature of
// a timestamp within the skew.
func FuzzVerify(f *testing.F) {
	good := Sign("s3cret", authEpoch)
	for _, seed := range []string{
		good, "", "Cluster", "Cluster :", "Cluster 1:", "Basic Zm9vOmJhcg==",
		"Cluster 1700000000:" + strings.Repeat("0", 40), "cluster 1700000000:ZZ",
		"Cluster 99999999999999999999:00", good + " ", strings.ToUpper(good),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, auth string) {
		if Verify("s3cret", auth, authEpoch) != nil {
			return
		}
		_, credentials, _ := strings.Cut(auth, " ")
		tsText, digest, _ := strings.Cut(credentials, ":")
		ts, err := parseUnixSeconds(tsText)
		if err != nil {
			t.Fatalf("%q verified with a bad timestamp: %v", auth, err)
		}
		want := Sign("s3cret", time.Unix(ts, 0))
		if !strings.EqualFold(want[len("Cluster "):], tsText+":"+digest) {
			t.Fatalf("%q verified but is not the signature of its timestamp %q", auth, want)
		}
	})
}
