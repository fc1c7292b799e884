package appliance

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// procStats are the process figures Prometheus names process_*.
type procStats struct {
	CPUSeconds    float64 // user + system
	ResidentBytes uint64
	VirtualBytes  uint64
	StartTime     float64 // unix seconds
	Threads       uint64
	OpenFDs       int
	MaxFDs        uint64
}

// clockTicks is USER_HZ, the unit of /proc times: 100 on every Linux ABI Go
// runs on (sysconf(_SC_CLK_TCK) is not reachable without cgo).
const clockTicks = 100

// procReader reads /proc/self with reusable buffers; one renderer at a time
// uses it.
type procReader struct {
	stat  []byte // /proc/self/stat
	dents []byte // getdents64 buffer for /proc/self/fd
}

// read collects procStats. A figure that cannot be read is left zero and
// reported in err; the others are still good.
func (r *procReader) read() (procStats, error) {
	var st procStats
	var errs []error
	var err error
	if r.stat, err = readSmallFile(r.stat, "/proc/self/stat"); err != nil {
		errs = append(errs, err)
	} else if bt, err := bootTime(); err != nil {
		errs = append(errs, err)
	} else if st, err = parseProcStat(r.stat, bt, uint64(os.Getpagesize())); err != nil {
		errs = append(errs, err)
	}
	if st.OpenFDs, err = r.countFDs(); err != nil {
		errs = append(errs, err)
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err == nil {
		st.MaxFDs = lim.Cur
	}
	return st, errors.Join(errs...)
}

// maxProcFile bounds what is read of one /proc file.
const maxProcFile = 64 << 10

// readSmallFile reads a /proc file into buf (reused), at most maxProcFile.
func readSmallFile(buf []byte, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return buf[:0], err
	}
	defer f.Close()
	if cap(buf) < 4096 {
		buf = make([]byte, 0, 4096)
	}
	buf = buf[:0]
	for len(buf) < maxProcFile {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil || n == 0 {
			break
		}
	}
	return buf, nil
}

// parseProcStat reads /proc/self/stat (proc(5)): "pid (comm) state ppid
// ..." where comm may hold spaces and parentheses, so fields are counted
// from the last ')'. bootTime is the kernel's btime (unix seconds).
func parseProcStat(data []byte, bootTime int64, pageSize uint64) (procStats, error) {
	var st procStats
	end := bytes.LastIndexByte(data, ')')
	if end < 0 {
		return st, fmt.Errorf("/proc/self/stat: no command name")
	}
	// Fields from 3 (state) on; field N is rest[N-3].
	rest := bytes.Fields(data[end+1:])
	const (
		fUtime     = 14
		fStime     = 15
		fThreads   = 20
		fStartTime = 22
		fVsize     = 23
		fRSS       = 24
	)
	if len(rest) < fRSS-2 {
		return st, fmt.Errorf("/proc/self/stat: %d fields, want %d", len(rest)+2, fRSS)
	}
	field := func(n int) (uint64, error) {
		v, err := strconv.ParseUint(string(rest[n-3]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/self/stat field %d: %w", n, err)
		}
		return v, nil
	}
	var vals [fRSS + 1]uint64
	for _, n := range []int{fUtime, fStime, fThreads, fStartTime, fVsize, fRSS} {
		v, err := field(n)
		if err != nil {
			return procStats{}, err
		}
		vals[n] = v
	}
	st.CPUSeconds = float64(vals[fUtime]+vals[fStime]) / clockTicks
	st.Threads = vals[fThreads]
	st.StartTime = float64(bootTime) + float64(vals[fStartTime])/clockTicks
	st.VirtualBytes = vals[fVsize]
	st.ResidentBytes = vals[fRSS] * pageSize
	return st, nil
}

var (
	bootTimeOnce sync.Once
	bootTimeSec  int64
	bootTimeErr  error
)

// bootTime is the "btime" line of /proc/stat; it never changes while the
// machine runs, so it is read once.
func bootTime() (int64, error) {
	bootTimeOnce.Do(func() {
		data, err := os.ReadFile("/proc/stat")
		if err != nil {
			bootTimeErr = err
			return
		}
		bootTimeSec, bootTimeErr = parseBootTime(data)
	})
	return bootTimeSec, bootTimeErr
}

func parseBootTime(data []byte) (int64, error) {
	for line := range bytes.SplitSeq(data, []byte{'\n'}) {
		if v, ok := bytes.CutPrefix(line, []byte("btime ")); ok {
			n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/stat btime: %w", err)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("/proc/stat: no btime line")
}

// countFDs counts /proc/self/fd entries with getdents64 into a reused
// buffer: a server with 100,000 connections has as many entries, and
// reading their names would allocate each one.
func (r *procReader) countFDs() (int, error) {
	fd, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("open /proc/self/fd: %w", err)
	}
	defer unix.Close(fd)
	if r.dents == nil {
		r.dents = make([]byte, 32<<10)
	}
	count := 0
	for {
		n, err := unix.Getdents(fd, r.dents)
		if err != nil {
			return 0, fmt.Errorf("read /proc/self/fd: %w", err)
		}
		if n <= 0 {
			break
		}
		count += countDirents(r.dents[:n])
	}
	// Less "." and "..", and the descriptor used to read the directory.
	return max(count-3, 0), nil
}

// countDirents counts linux_dirent64 records: d_ino u64, d_off s64,
// d_reclen u16, d_type u8, d_name.
func countDirents(buf []byte) int {
	const reclenOff = 16
	n := 0
	for len(buf) >= reclenOff+2 {
		reclen := int(binary.NativeEndian.Uint16(buf[reclenOff:]))
		if reclen <= 0 || reclen > len(buf) {
			break
		}
		n++
		buf = buf[reclen:]
	}
	return n
}
