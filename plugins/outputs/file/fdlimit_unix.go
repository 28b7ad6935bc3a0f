//go:build unix

package file

import (
	"os"
	"syscall"
)

// openFileLimit returns the process's limit on open descriptors (the soft
// limit, which Go raises to the hard one at start), or 0 when unknown.
func openFileLimit() uint64 {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0
	}
	return l.Cur
}

// unlinked reports whether f's file has no name left in the file system:
// someone deleted it, or its folder, while it was open.
func unlinked(f *os.File) bool {
	st, err := f.Stat()
	if err != nil {
		return false
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	return ok && sys.Nlink == 0
}
