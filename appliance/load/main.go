package load

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	maxViewers = 1_000_000
	// fdReserve is the descriptors kept for everything but viewers.
	fdReserve = 64
)

const usageText = `usage: livedge load [-c N] [-ramp D] [-d D] [-timeout D] [-source IP] [-json] URL

Opens N viewers of a live stream and reports whether it is delivered in real
time: URL ending in .m3u8 is played as HLS, any other as HTTP MPEG-TS.
Exit status: 0 no stalls and no errors, 1 otherwise, 2 usage error.

`

// config is the parsed command line.
type config struct {
	url      *url.URL
	hls      bool
	viewers  int
	ramp     time.Duration
	duration time.Duration
	timeout  time.Duration
	source   netip.Addr
	json     bool
}

// Main runs `livedge load ARGS...` and returns the exit status: 0 when every
// viewer stayed on time without errors, 1 otherwise, 2 for usage errors.
func Main(args []string, stdout, stderr io.Writer) int {
	// Progress, logs and the summary may share a writer across goroutines.
	var mu sync.Mutex
	stdout = &lockedWriter{mu: &mu, w: stdout}
	stderr = &lockedWriter{mu: &mu, w: stderr}

	cfg, err := parseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	if err := raiseFileLimit(uint64(cfg.viewers) + fdReserve); err != nil {
		fmt.Fprintf(stderr, "livedge load: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	progress := stdout
	if cfg.json {
		progress = stderr // stdout carries only the JSON summary
	}
	s := newRun(cfg, stderr).execute(ctx, progress)
	if cfg.json {
		if err := json.NewEncoder(stdout).Encode(s); err != nil {
			fmt.Fprintf(stderr, "livedge load: write summary: %v\n", err)
			return 1
		}
	} else {
		writeText(stdout, s)
	}
	if s.OK {
		return 0
	}
	return 1
}

// parseArgs parses flags and the URL; flags may also follow the URL. Errors
// are already reported on stderr.
func parseArgs(args []string, stderr io.Writer) (config, error) {
	cfg := config{}
	fs := flag.NewFlagSet("livedge load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageText)
		fs.PrintDefaults()
	}
	fs.IntVar(&cfg.viewers, "c", 1, "number of viewers")
	fs.DurationVar(&cfg.ramp, "ramp", 0, "spread the viewers' starts evenly over this time")
	fs.DurationVar(&cfg.duration, "d", 30*time.Second, "test duration; then all viewers close and the summary is printed")
	fs.DurationVar(&cfg.timeout, "timeout", 10*time.Second, "connect, first-byte and idle-read timeout")
	source := fs.String("source", "", "local IP address to connect from (127.0.0.x spreads ephemeral ports)")
	fs.BoolVar(&cfg.json, "json", false, "print the summary as one JSON object on stdout (progress goes to stderr)")

	var positional []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			return cfg, err
		}
		rest = fs.Args()
		if len(rest) == 0 {
			break
		}
		positional = append(positional, rest[0])
		rest = rest[1:]
	}
	fail := func(format string, a ...any) (config, error) {
		err := fmt.Errorf(format, a...)
		fmt.Fprintf(stderr, "livedge load: %v\n(run livedge load -h for usage)\n", err)
		return cfg, err
	}
	if len(positional) != 1 {
		return fail("want exactly one URL, got %d arguments", len(positional))
	}
	u, err := url.Parse(positional[0])
	if err != nil {
		return fail("URL: %v", err)
	}
	if u.Scheme != "http" || u.Host == "" {
		return fail("URL %q: only http://HOST/... URLs are supported", positional[0])
	}
	cfg.url = u
	cfg.hls = strings.HasSuffix(strings.ToLower(u.Path), ".m3u8")
	switch {
	case cfg.viewers < 1 || cfg.viewers > maxViewers:
		return fail("-c %d: want 1 to %d viewers", cfg.viewers, maxViewers)
	case cfg.duration <= 0:
		return fail("-d %s: want a positive duration", cfg.duration)
	case cfg.ramp < 0:
		return fail("-ramp %s: want zero or a positive duration", cfg.ramp)
	case cfg.timeout <= 0:
		return fail("-timeout %s: want a positive duration", cfg.timeout)
	}
	if *source != "" {
		a, err := netip.ParseAddr(*source)
		if err != nil {
			return fail("-source %q: not an IP address", *source)
		}
		cfg.source = a.Unmap()
	}
	return cfg, nil
}

// lockedWriter serializes writes from the reporter and the viewers' logs.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
