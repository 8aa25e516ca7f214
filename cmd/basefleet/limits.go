package main

import (
	"fmt"
	"syscall"
)

// fdsPerBase is about how many file descriptors a running base holds: its
// broker connection and its SIP sockets (UDP, and the TCP listener); 7,256
// bases held 19,999.
const fdsPerBase = 3

// raiseFileLimit makes room for bases' descriptors: the soft limit is
// raised to what they need (up to the hard limit, or past it when the
// process may). An error says how many are needed and what the limit is.
func raiseFileLimit(bases int) error {
	need := uint64(bases*fdsPerBase + 512)
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return fmt.Errorf("open files limit: %w", err)
	}
	if l.Cur >= need {
		return nil
	}
	want := l
	want.Cur = need
	if want.Max < need {
		want.Max = need // root only
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		if l.Max > l.Cur {
			l.Cur = l.Max
			_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
		}
		return fmt.Errorf("%d bases need about %d open files; the limit is %d and could not be raised (%v): ulimit -n %d", bases, need, l.Cur, err, need)
	}
	return nil
}
