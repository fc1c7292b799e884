package appliance

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Stages of writeFileAtomic that a test hook can interrupt.
const (
	stageTempWritten = "temp_written" // the new content is in a synced temp file
	stageBackedUp    = "backed_up"    // the previous content is in PATH.bak
)

// errSimulatedCrash, returned by a test hook, makes writeFileAtomic stop
// where it is and leave everything behind, as a killed process would.
var errSimulatedCrash = errors.New("simulated crash")

// writeFileAtomic replaces the file at path with data so that a crash at any
// moment leaves either the old or the new content at path, never a mix and
// never nothing: data goes to a temp file in the same directory, which is
// fsynced and renamed over path; the previous content (prev, as the caller
// read it) is first kept as path+".bak" the same way; the directory is fsynced
// last so that the renames survive a power cut. The new file keeps the mode
// and, when permitted, the owner of the old one. hook, when not nil, is
// called after each stage; an error from it aborts the write.
func writeFileAtomic(path string, data, prev []byte, hook func(stage string) error) error {
	mode, uid, gid := fs.FileMode(0o600), -1, -1 // a new config may hold passwords
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			uid, gid = int(st.Uid), int(st.Gid)
		}
	}
	tmp, err := writeTemp(path, data, mode, uid, gid)
	if err != nil {
		return err
	}
	if err := runHook(hook, stageTempWritten); err != nil {
		return keepOnCrash(err, tmp)
	}
	if prev != nil {
		bak, err := writeTemp(path+".bak", prev, mode, uid, gid)
		if err != nil {
			os.Remove(tmp)
			return err
		}
		if err := os.Rename(bak, path+".bak"); err != nil {
			os.Remove(tmp)
			os.Remove(bak)
			return fmt.Errorf("keep previous config: %w", err)
		}
	}
	if err := runHook(hook, stageBackedUp); err != nil {
		return keepOnCrash(err, tmp)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("replace config: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

func runHook(hook func(string) error, stage string) error {
	if hook == nil {
		return nil
	}
	return hook(stage)
}

// keepOnCrash cleans up after a hook error, except for a simulated crash,
// which must leave its temp file behind like a real one.
func keepOnCrash(err error, tmp string) error {
	if !errors.Is(err, errSimulatedCrash) {
		os.Remove(tmp)
	}
	return err
}

// tempPrefix names the temp files of path; leftovers of a crash are found by it.
func tempPrefix(path string) string {
	return "." + filepath.Base(path) + ".tmp-"
}

// writeTemp writes data to a new temp file next to path and syncs it.
func writeTemp(path string, data []byte, mode fs.FileMode, uid, gid int) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), tempPrefix(path)+"*")
	if err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	name := f.Name()
	fail := func(err error) (string, error) {
		f.Close()
		os.Remove(name)
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(mode); err != nil {
		return fail(err)
	}
	if uid >= 0 && (uid != os.Getuid() || gid != os.Getgid()) {
		// Only root may give a file away; otherwise the file stays ours.
		_ = f.Chown(uid, gid)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return name, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// removeStaleTemps deletes temp files a crash left next to path.
func removeStaleTemps(path string) {
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		return
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix(path)) || strings.HasPrefix(e.Name(), tempPrefix(path+".bak")) {
			os.Remove(filepath.Join(filepath.Dir(path), e.Name()))
		}
	}
}
