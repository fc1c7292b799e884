package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// maxBody bounds what get and wait read: a bench segment is a few MB.
const maxBody = 64 << 20

// freePort prints a TCP port that was free on 127.0.0.1 a moment ago.
func freePort() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen 127.0.0.1:0: %w", err)
	}
	defer l.Close()
	fmt.Println(l.Addr().(*net.TCPAddr).Port)
	return nil
}

var client = &http.Client{Timeout: 10 * time.Second}

// fetch GETs url and returns its body, or an error unless the status is 200.
func fetch(url string) ([]byte, error) {
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", url, err)
	}
	if len(body) > maxBody {
		return nil, fmt.Errorf("%s: body over %d bytes", url, maxBody)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: status %s", url, resp.Status)
	}
	if resp.ContentLength >= 0 && int64(len(body)) != resp.ContentLength {
		return nil, fmt.Errorf("%s: got %d bytes, Content-Length %d", url, len(body), resp.ContentLength)
	}
	return body, nil
}

func getCmd(args []string) error {
	if len(args) != 2 {
		return errors.New("usage: get URL FILE")
	}
	body, err := fetch(args[0])
	if err != nil {
		return err
	}
	if args[1] == "-" {
		_, err = os.Stdout.Write(body)
		return err
	}
	if err := os.WriteFile(args[1], body, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", args[1], err)
	}
	return nil
}

func waitCmd(args []string) error {
	if len(args) < 2 || len(args) > 3 {
		return errors.New("usage: wait URL TIMEOUT [WORD]")
	}
	timeout, err := time.ParseDuration(args[1])
	if err != nil {
		return fmt.Errorf("timeout %q: %w", args[1], err)
	}
	var word []byte
	if len(args) == 3 {
		word = []byte(args[2])
	}
	deadline := time.Now().Add(timeout)
	for {
		body, err := fetch(args[0])
		if err == nil && bytes.Contains(body, word) {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("body has no %q yet", word)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %w", args[0], timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// target splits an http:// URL into the address to dial and the request
// target, for the raw client of idle.
func target(rawURL string) (addr, path string, err error) {
	rest, ok := strings.CutPrefix(rawURL, "http://")
	if !ok {
		return "", "", fmt.Errorf("%q: only http:// URLs", rawURL)
	}
	addr, path, _ = strings.Cut(rest, "/")
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", "", fmt.Errorf("%q: host needs a port: %w", rawURL, err)
	}
	return addr, "/" + path, nil
}
