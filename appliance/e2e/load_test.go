package e2e

import (
	"encoding/json"
	"os/exec"
	"testing"
)

// TestLoadTool runs `livedge load` against a local stream: it must count
// every viewer and, on a machine this lightly loaded, see no stall. It runs
// alone (not parallel) so the other tests do not load the machine.
func TestLoadTool(t *testing.T) {
	s := startServer(t, "stream lt { input testsrc://?bitrate=500k&size=320x176; static; }\n")
	for _, path := range []string{"/lt/mpegts", "/lt/index.m3u8"} {
		out, err := exec.Command(binPath, "load", "-c", "50", "-ramp", "1s", "-d", "8s", "-json", s.base+path).Output()
		var sum struct {
			ViewersUpEnd int  `json:"viewers_up_end"`
			Stalls       int  `json:"stalls"`
			Errors       int  `json:"errors"`
			OK           bool `json:"ok"`
		}
		if jerr := json.Unmarshal(out, &sum); jerr != nil {
			t.Fatalf("load %s: %v, output %q", path, jerr, out)
		}
		if err != nil || !sum.OK || sum.ViewersUpEnd != 50 || sum.Stalls != 0 || sum.Errors != 0 {
			t.Fatalf("load %s: exit %v, summary %s", path, err, out)
		}
	}
}
