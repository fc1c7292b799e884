package appliance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/livedge/livedge/appliance/config"
	"github.com/livedge/livedge/engine"
)

// configStore owns the running configuration. Every change, from the API or
// from SIGHUP, goes through it under one mutex: validated, written back to
// the config file (API changes), published and applied to the stream
// registry by the same reconciler call. Readers take the published snapshot
// without locking.
type configStore struct {
	src     ConfigSource
	streams *engine.Registry
	log     *slog.Logger
	// persistHook is passed to writeFileAtomic (tests simulate crashes).
	persistHook func(stage string) error

	mu sync.Mutex // serializes changes
	// disk is the config file's content as livedge last read or wrote it;
	// guarded by mu. A file that differs from it was edited by hand.
	disk  []byte
	state atomic.Pointer[configState]
	// backend is the config_external backend's desired set of streams, the
	// last one it gave; guarded by mu. Used while config_external is on.
	backend []engine.StreamConfig
	// ext runs the config_external client; guarded by mu (configext.go).
	ext externalRunner
	// owns says whether this server captures a cluster_ingest stream now
	// (nil: no cluster, it does); onPublish sees every published config.
	// Both are set before start.
	owns      func(stream, captureAt string) bool
	onPublish func(*config.Config)
}

// configState is one published configuration; it is never modified.
type configState struct {
	// file is the configuration as the file (or the embedded default) has
	// it, before environment overrides: what the API edits and writes back.
	file *config.Config
	// effective is file with environment overrides and, while
	// config_external is on, the backend's streams merged in: what runs.
	effective *config.Config
	// external names the streams of effective that the config backend gave.
	external map[string]bool
	// byName orders effective.Streams by name.
	byName  []int
	version uint64 // accepted changes since start
}

// persisted says whether changes are written to a config file.
func (cs *configStore) persisted() bool { return !cs.src.Embedded }

func newConfigStore(src ConfigSource, streams *engine.Registry, log *slog.Logger) (*configStore, error) {
	cs := &configStore{src: src, streams: streams, log: log}
	cs.ext = externalRunner{log: log, apply: cs.applyExternal, running: func() []string {
		running := streams.Running()
		names := make([]string, len(running))
		for i, s := range running {
			names[i] = s.Name()
		}
		return names
	}}
	var file *config.Config
	if src.Embedded {
		file = config.Default()
	} else {
		data, err := readConfigFile(src.Path)
		if err != nil {
			return nil, err
		}
		if file, err = config.Parse(src.Path, data); err != nil {
			return nil, err
		}
		cs.disk = data
		removeStaleTemps(src.Path)
	}
	st, err := cs.newState(file, 0)
	if err != nil {
		return nil, err
	}
	cs.state.Store(st)
	return cs, nil
}

func readConfigFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, config.MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("load config %s: %w", path, err)
	}
	return data, nil
}

// newState derives the effective config of file.
func (cs *configStore) newState(file *config.Config, version uint64) (*configState, error) {
	eff, err := cloneConfig(file)
	if err != nil {
		return nil, err
	}
	if err := eff.ApplyEnv(cs.src.Environ); err != nil {
		return nil, err
	}
	var external map[string]bool
	if eff.ConfigExternal != "" && len(cs.backend) > 0 {
		eff.Streams, external = mergeExternal(eff.Streams, cs.backend)
	}
	st := &configState{file: file, effective: eff, external: external, version: version, byName: make([]int, len(eff.Streams))}
	for i := range st.byName {
		st.byName[i] = i
	}
	sort.Slice(st.byName, func(a, b int) bool {
		return eff.Streams[st.byName[a]].Name < eff.Streams[st.byName[b]].Name
	})
	return st, nil
}

// cloneConfig deep-copies a config through its JSON form, the form the API
// edits, so a clone is exactly what the API can see and change.
func cloneConfig(c *config.Config) (*config.Config, error) {
	data, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("copy config: %w", err)
	}
	var out config.Config
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("copy config: %w", err)
	}
	return &out, nil
}

func (cs *configStore) current() *configState { return cs.state.Load() }

// start applies the loaded config to the registry.
func (cs *configStore) start() engine.ReconcileResult {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.apply(cs.current())
}

// apply reconciles the registry with st; cs.mu is held.
func (cs *configStore) apply(st *configState) engine.ReconcileResult {
	return cs.streams.Apply(ownedStreams(st.effective.Streams, cs.owns))
}

// reapply reconciles the registry with the current config again, e.g. when
// the ownership of cluster_ingest streams moved.
func (cs *configStore) reapply(msg string) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	res := cs.apply(cs.current())
	if len(res.Started)+len(res.Restarted)+len(res.Stopped) > 0 {
		cs.log.Info(msg, "started", res.Started, "restarted", res.Restarted, "stopped", res.Stopped)
	}
}

// reload reads the config file again (SIGHUP). A broken file is refused and
// the running config stays.
func (cs *configStore) reload() error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	var file *config.Config
	var data []byte
	if cs.src.Embedded {
		file = config.Default()
	} else {
		var err error
		if data, err = readConfigFile(cs.src.Path); err != nil {
			return err
		}
		if file, err = config.Parse(cs.src.Path, data); err != nil {
			return err
		}
	}
	prev := cs.current()
	st, err := cs.newState(file, prev.version+1)
	if err != nil {
		return err
	}
	cs.disk = data
	cs.publish(prev, st, "config reloaded")
	return nil
}

// publish makes st current and reconciles the streams; cs.mu is held.
func (cs *configStore) publish(prev, st *configState, msg string) {
	if !slices.Equal(prev.effective.HTTP, st.effective.HTTP) {
		cs.log.Warn("http listeners change on restart only", "running", prev.effective.HTTP, "configured", st.effective.HTTP)
	}
	if st.effective.ConfigExternal == "" {
		cs.backend = nil // off: the backend's streams go
	}
	cs.ext.sync(st.effective.ConfigExternal)
	cs.state.Store(st)
	if cs.onPublish != nil {
		cs.onPublish(st.effective)
	}
	res := cs.apply(st)
	cs.log.Info(msg, "version", st.version, "started", res.Started, "restarted", res.Restarted, "stopped", res.Stopped)
}

// errConflict: the file changed on disk since livedge read or wrote it.
var errConflict = errors.New("config file changed on disk")

// change edits a copy of the file config's JSON document with edit, checks
// the result, writes it to the config file and applies it. Nothing changes
// unless every step succeeds. Errors carry model paths (Path of the *apiError).
func (cs *configStore) change(edit func(doc map[string]any) *apiError) (*configState, *apiError) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	prev := cs.current()
	doc, err := toDoc(prev.file)
	if err != nil {
		return nil, internalError(err)
	}
	if aerr := edit(doc); aerr != nil {
		return nil, aerr
	}
	var next config.Config
	if derr := decodeInto(doc, &next); derr != nil {
		return nil, &apiError{status: http.StatusBadRequest, code: derr.code(), title: derr.msg, path: derr.path}
	}
	if err := next.Validate(); err != nil {
		return nil, validationError(err)
	}
	st, err := cs.newState(&next, prev.version+1)
	if err != nil {
		return nil, &apiError{status: http.StatusBadRequest, code: config.CodeBadValue, title: err.Error()}
	}
	if cs.persisted() {
		data := next.Format()
		// The file must read back as what was validated: never write one
		// that would not load.
		back, err := config.Parse(cs.src.Path, data)
		if err != nil {
			return nil, internalError(fmt.Errorf("formatted config does not parse: %w", err))
		}
		if err := cs.write(data); err != nil {
			if errors.Is(err, errConflict) {
				return nil, &apiError{status: http.StatusConflict, code: "config_changed_on_disk",
					title: "the config file " + cs.src.Path + " changed since livedge read it: send SIGHUP to load it, then retry"}
			}
			cs.log.Error("config not saved", "path", cs.src.Path, "err", err)
			return nil, &apiError{status: http.StatusInternalServerError, code: "config_not_saved", title: err.Error()}
		}
		st.file = back // what the file now holds, as a restart will read it
	}
	cs.publish(prev, st, "config changed by API")
	return st, nil
}

// write replaces the config file unless someone else changed it; cs.mu is held.
func (cs *configStore) write(data []byte) error {
	onDisk, err := readConfigFile(cs.src.Path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if !bytes.Equal(onDisk, cs.disk) {
		return errConflict
	}
	if err := writeFileAtomic(cs.src.Path, data, onDisk, cs.persistHook); err != nil {
		return err
	}
	cs.disk = data
	return nil
}

// restart stops a stream and, when static, starts it again.
func (cs *configStore) restart(name string) bool {
	if _, ok := cs.current().streamByName(name); !ok {
		return false
	}
	// A cluster_ingest stream another server captures is not in the
	// registry: nothing runs here to restart.
	cs.streams.Restart(name)
	cs.log.Info("stream stopped by API", "stream", name)
	return true
}

// streamByName finds a stream of the effective config.
func (st *configState) streamByName(name string) (engine.StreamConfig, bool) {
	i := sort.Search(len(st.byName), func(i int) bool { return st.effective.Streams[st.byName[i]].Name >= name })
	if i < len(st.byName) && st.effective.Streams[st.byName[i]].Name == name {
		return st.effective.Streams[st.byName[i]], true
	}
	return engine.StreamConfig{}, false
}
