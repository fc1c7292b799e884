package load

import (
	"fmt"
	"syscall"
)

// raiseFileLimit lifts the soft RLIMIT_NOFILE to the hard limit (a viewer is
// a descriptor) and fails when need descriptors still do not fit.
func raiseFileLimit(need uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("read the open-file limit: %w", err)
	}
	if lim.Cur < lim.Max {
		want := syscall.Rlimit{Cur: lim.Max, Max: lim.Max}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil && need > lim.Cur && need <= lim.Max {
			// An unlimited hard limit can exceed fs.nr_open: ask for what is needed.
			want.Cur = need
			_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want)
		}
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return fmt.Errorf("read the open-file limit: %w", err)
		}
	}
	if need > lim.Cur {
		return fmt.Errorf("%d viewers need %d open files (one per viewer + %d), but the limit is %d (hard limit %d): "+
			"lower -c, raise the hard limit (ulimit -Hn, systemd LimitNOFILE=), or split the load over several processes",
			need-fdReserve, need, fdReserve, lim.Cur, lim.Max)
	}
	return nil
}
