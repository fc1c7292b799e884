package appliance

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var tmps []string
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			tmps = append(tmps, e.Name())
		}
	}
	return tmps
}

func TestWriteFileAtomicKeepsBackupAndMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "livedge.conf")
	if err := os.WriteFile(path, []byte("old\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(path, []byte("new\n"), []byte("old\n"), nil); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); got != "new\n" {
		t.Fatalf("file = %q", got)
	}
	if got := readFile(t, path+".bak"); got != "old\n" {
		t.Fatalf("backup = %q", got)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v, want 0640", fi.Mode().Perm())
	}
	if tmps := tempFiles(t, dir); len(tmps) != 0 {
		t.Fatalf("temp files left: %v", tmps)
	}
}

// A crash between writing the temp file and renaming it leaves the old
// file whole; the leftover temp file is removed at the next start.
func TestWriteFileAtomicCrashBeforeRename(t *testing.T) {
	for _, stage := range []string{stageTempWritten, stageBackedUp} {
		t.Run(stage, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "livedge.conf")
			if err := os.WriteFile(path, []byte("old\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			crash := func(s string) error {
				if s == stage {
					return errSimulatedCrash
				}
				return nil
			}
			err := writeFileAtomic(path, []byte("new\n"), []byte("old\n"), crash)
			if !errors.Is(err, errSimulatedCrash) {
				t.Fatalf("err = %v", err)
			}
			if got := readFile(t, path); got != "old\n" {
				t.Fatalf("after crash the file is %q", got)
			}
			if tmps := tempFiles(t, dir); len(tmps) != 1 {
				t.Fatalf("want the crashed temp file left, got %v", tmps)
			}
			removeStaleTemps(path)
			if tmps := tempFiles(t, dir); len(tmps) != 0 {
				t.Fatalf("stale temp files not removed: %v", tmps)
			}
		})
	}
}

// The store refuses a change whose write crashed: the file, the running
// config and the registry stay as they were, and the next change works.
func TestStoreChangeCrashLeavesConfig(t *testing.T) {
	n := newTestNode(t, "stream a { input testsrc://; }\n")
	before := readFile(t, n.path)
	n.node.store.persistHook = func(s string) error {
		if s == stageTempWritten {
			return errSimulatedCrash
		}
		return nil
	}
	code, body := n.do("PUT", "/streamer/api/v3/streams/b", `{"inputs":[{"url":"testsrc://"}]}`)
	if code != 500 || !strings.Contains(body, "config_not_saved") {
		t.Fatalf("crashed write answered %d %s", code, body)
	}
	if got := readFile(t, n.path); got != before {
		t.Fatalf("file changed by a crashed write:\n%s", got)
	}
	if _, ok := n.node.store.current().streamByName("b"); ok {
		t.Fatal("crashed change was published")
	}
	if _, ok := n.node.streams.Configured("b"); ok {
		t.Fatal("crashed change was applied")
	}
	n.node.store.persistHook = nil
	if code, body := n.do("PUT", "/streamer/api/v3/streams/b", `{"inputs":[{"url":"testsrc://"}]}`); code != 200 {
		t.Fatalf("change after crash: %d %s", code, body)
	}
	if !strings.Contains(readFile(t, n.path), "stream b {") {
		t.Fatalf("change not written:\n%s", readFile(t, n.path))
	}
}
