//go:build unix

package wire

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// The plugins of one host process make their sockets in one folder of its
// own, mdrsflow-<host pid>-<random> in the temporary folder (or in
// PLUGIN_UNIX_SOCKET_DIR when the environment sets it), made with mode
// 0700. A plugin removes its socket when it stops cleanly; one that is
// killed leaves it behind, so the host removes the folder as it exits
// (RemoveSocketDir), and a host that was itself killed leaves a folder that
// the next host removes as it makes its own.
var sockets struct {
	once sync.Once
	dir  string
	err  error
}

const sockPrefix = "mdrsflow-"

// socketDir makes this process's socket folder on first use.
func socketDir() (string, error) {
	sockets.once.Do(func() {
		base := os.Getenv("PLUGIN_UNIX_SOCKET_DIR")
		if base == "" {
			base = os.TempDir()
		}
		removeStaleSocketDirs(base)
		sockets.dir, sockets.err = os.MkdirTemp(base, sockPrefix+strconv.Itoa(os.Getpid())+"-")
		if sockets.err != nil {
			sockets.err = fmt.Errorf("make a folder for plugin sockets in %s: %w "+
				"(set TMPDIR or PLUGIN_UNIX_SOCKET_DIR to a writable folder)", base, sockets.err)
		}
	})
	return sockets.dir, sockets.err
}

// RemoveSocketDir removes this process's socket folder, with any socket a
// killed plugin left in it. The host calls it as it exits.
func RemoveSocketDir() {
	if sockets.dir != "" {
		_ = os.RemoveAll(sockets.dir)
	}
}

// removeStaleSocketDirs removes the socket folders of mdrsflow processes
// that no longer run (killed before they could remove their own). A folder
// whose process runs, or whose name is not one of ours, is left alone.
func removeStaleSocketDirs(base string) {
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), sockPrefix)
		if !ok || !e.IsDir() {
			continue
		}
		pidText, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid <= 0 || processRuns(pid) {
			continue
		}
		dir := filepath.Join(base, e.Name())
		if info, err := os.Lstat(dir); err != nil || !ownedByUs(info) {
			continue
		}
		_ = os.RemoveAll(dir)
	}
}

// processRuns reports whether a process with this id exists (signal 0
// checks without sending anything; EPERM means it exists as another user).
func processRuns(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}

// ownedByUs reports whether info is of a file of this process's user.
func ownedByUs(info os.FileInfo) bool {
	st, ok := info.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid()
}
