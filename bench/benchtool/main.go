// Command benchtool holds the small helpers of `make bench` (bench/run.sh)
// that a fresh Debian machine may lack as commands (curl, jq) or that bash
// cannot do: a free port, an HTTP GET to a file, waiting for a URL, reading
// fields of a JSON document, and holding many idle keep-alive connections.
//
//	benchtool freeport                  print a free TCP port on 127.0.0.1
//	benchtool get URL FILE              GET URL into FILE ("-": stdout); exit 1 unless 200
//	benchtool wait URL TIMEOUT [WORD]   poll URL until it answers 200 (and its body holds WORD)
//	benchtool json FILE PATH...         print the value at each dotted PATH, one per line
//	benchtool idle -n N URL             open N keep-alive connections, GET URL once on each,
//	                                    print "ready OK FAILED", hold them until SIGTERM/SIGINT,
//	                                    then print "open STILL_OPEN closed CLOSED_BY_SERVER"
package main

import (
	"fmt"
	"os"
)

const usage = `usage: benchtool freeport | get URL FILE | wait URL TIMEOUT [WORD] | json FILE PATH... | idle -n N URL`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	args := os.Args[2:]
	switch os.Args[1] {
	case "freeport":
		err = freePort()
	case "get":
		err = getCmd(args)
	case "wait":
		err = waitCmd(args)
	case "json":
		err = jsonCmd(args)
	case "idle":
		err = idleCmd(args)
	default:
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchtool %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
