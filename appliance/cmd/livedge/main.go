// Command livedge is the live-video edge server.
//
//	livedge [-c FILE] [-default]   run
//	livedge -t [-c FILE]           check a config and exit
//	livedge load [flags] URL       open many viewers of a stream (see appliance/load)
//	livedge configext check URL    probe a config_external backend (see configext)
package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"

	"github.com/livedge/livedge/appliance"
	"github.com/livedge/livedge/appliance/load"
	"github.com/livedge/livedge/configext"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "load" {
		os.Exit(load.Main(os.Args[2:], os.Stdout, os.Stderr))
	}
	if len(os.Args) > 2 && os.Args[1] == "configext" && os.Args[2] == "check" {
		os.Exit(configext.CheckMain(os.Args[3:], os.Stdout, os.Stderr))
	}
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	flags := flag.NewFlagSet("livedge", flag.ContinueOnError)
	path := flags.String("c", "", "config file (default "+appliance.DefaultConfigPath+", else the embedded default)")
	check := flags.Bool("t", false, "check the config and exit")
	embedded := flags.Bool("default", false, "run the embedded default config (demo stream)")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	cs := appliance.ConfigSource{Path: *path, Environ: os.Environ(), Embedded: *embedded}
	if cs.Path == "" && !cs.Embedded {
		cs.Path = appliance.DefaultConfigPath
		if _, err := os.Stat(cs.Path); errors.Is(err, fs.ErrNotExist) {
			cs.Path, cs.Embedded = "", true
		}
	}
	if *check {
		if _, err := cs.Load(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("%s: ok\n", cs.Name())
		return 0
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := appliance.Run(cs, log); err != nil {
		log.Error("livedge failed", "err", err)
		return 1
	}
	return 0
}
