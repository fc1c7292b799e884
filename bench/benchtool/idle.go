package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// idleCmd holds n idle keep-alive connections, each after one complete
// request, as players between playlist reloads do: the server's cost of an
// idle viewer is what remains.
func idleCmd(args []string) error {
	fs := flag.NewFlagSet("idle", flag.ContinueOnError)
	n := fs.Int("n", 1000, "connections")
	parallel := fs.Int("parallel", 64, "connections being opened at once")
	hold := fs.Duration("hold", 10*time.Minute, "give up holding after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *n < 1 || *n > 1_000_000 || *parallel < 1 {
		return errors.New("usage: idle -n N [-parallel P] [-hold D] URL")
	}
	addr, path, err := target(fs.Arg(0))
	if err != nil {
		return err
	}
	if err := raiseNoFile(uint64(*n) + 64); err != nil {
		return err
	}
	request := []byte("GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: benchtool-idle\r\n\r\n")

	conns := make([]net.Conn, *n)
	var failed atomic.Int64
	var firstErr sync.Once
	next := make(chan int)
	var wg sync.WaitGroup
	for range *parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c, err := openIdle(addr, request)
				if err != nil {
					failed.Add(1)
					firstErr.Do(func() { fmt.Fprintf(os.Stderr, "benchtool idle: first failure: %v\n", err) })
					continue
				}
				conns[i] = c
			}
		}()
	}
	for i := range conns {
		next <- i
	}
	close(next)
	wg.Wait()
	fmt.Printf("ready %d %d\n", int64(*n)-failed.Load(), failed.Load())

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-sigs:
	case <-time.After(*hold):
	}
	open, closed := 0, 0
	for _, c := range conns {
		if c == nil {
			continue
		}
		if peerClosed(c) {
			closed++
		} else {
			open++
		}
		c.Close()
	}
	fmt.Printf("open %d closed %d\n", open, closed)
	return nil
}

// openIdle connects, sends one request and reads its whole response.
func openIdle(addr string, request []byte) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	if err := c.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		c.Close()
		return nil, err
	}
	if _, err := c.Write(request); err != nil {
		c.Close()
		return nil, fmt.Errorf("write request: %w", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("read response: %w", err)
	}
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("read body: %w", err)
	}
	if resp.Close {
		c.Close()
		return nil, fmt.Errorf("server closes the connection after %s", resp.Status)
	}
	if err := c.SetDeadline(time.Time{}); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// peerClosed tells, without blocking, whether the server closed c: a peek
// that reads end of file (or an error other than "nothing yet").
func peerClosed(c net.Conn) bool {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return false
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return true
	}
	closed := false
	var buf [1]byte
	err = raw.Read(func(fd uintptr) bool {
		n, _, rerr := unix.Recvfrom(int(fd), buf[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		closed = n == 0 && rerr == nil || rerr != nil && rerr != unix.EAGAIN
		return true
	})
	return closed || err != nil
}

// raiseNoFile lifts the soft open-file limit to the hard one and checks
// that need descriptors fit.
func raiseNoFile(need uint64) error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("read the open-file limit: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			return fmt.Errorf("raise the open-file limit: %w", err)
		}
	}
	if need > lim.Cur {
		return fmt.Errorf("need %d open files, the limit is %d", need, lim.Cur)
	}
	return nil
}
