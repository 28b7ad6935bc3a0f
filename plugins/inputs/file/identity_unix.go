//go:build unix

package file

import (
	"fmt"
	"os"
	"syscall"
)

// identity returns a key that stays the same when a file is renamed:
// its device and inode numbers.
func identity(path string, fi os.FileInfo) string {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fmt.Sprintf("%d:%d", uint64(st.Dev), uint64(st.Ino))
	}
	return "path:" + path
}
