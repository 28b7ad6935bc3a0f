//go:build unix

package file

import "syscall"

// openFileLimit returns the process's limit on open descriptors (the soft
// limit, which Go raises to the hard one at start), or 0 when unknown.
func openFileLimit() uint64 {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0
	}
	return l.Cur
}
