//go:build unix

package wire

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// The plugins of one host process make their sockets in a folder of its
// own, mdrsflow-sockets-<random> in the temporary folder (or in
// PLUGIN_UNIX_SOCKET_DIR when the environment sets it), made with mode
// 0700. The host holds an exclusive lock on host.lock in it for as long as
// it runs, and removes the folder as it exits (RemoveSocketDir). A plugin
// removes its socket when it stops cleanly; one that is killed leaves it
// behind, and a host that is killed leaves its folder: the next host
// removes such a folder as it makes its own, but only when nobody holds
// its lock (the lock, unlike a process id, means the same in every PID
// namespace sharing the folder) and it holds nothing but sockets and the
// lock file.
var sockets struct {
	once sync.Once
	dir  string
	lock *os.File
	err  error
}

const (
	sockPrefix = "mdrsflow-sockets-"
	sockLock   = "host.lock"
	// maxSocketPath is the longest Unix socket path Linux takes (108
	// bytes with the terminating zero); go-plugin names a socket
	// plugin<up to 10 digits>.
	maxSocketPath   = 107
	socketNameBytes = len("/plugin") + 10
)

// socketDir makes this process's socket folder on first use.
func socketDir() (string, error) {
	sockets.once.Do(func() {
		base, setting := os.Getenv("PLUGIN_UNIX_SOCKET_DIR"), "PLUGIN_UNIX_SOCKET_DIR"
		if base == "" {
			base, setting = os.TempDir(), "TMPDIR"
		}
		removeStaleSocketDirs(base)
		sockets.dir, sockets.lock, sockets.err = makeSocketDir(base)
		if sockets.err != nil {
			sockets.err = fmt.Errorf("make a folder for plugin sockets in %s: %w (set %s to a writable folder "+
				"with a short path, such as /tmp)", base, sockets.err, setting)
		}
	})
	return sockets.dir, sockets.err
}

func makeSocketDir(base string) (string, *os.File, error) {
	dir, err := os.MkdirTemp(base, sockPrefix)
	if err != nil {
		return "", nil, err
	}
	if abs, err := filepath.Abs(dir); err == nil && len(abs)+socketNameBytes > maxSocketPath {
		_ = os.Remove(dir)
		return "", nil, fmt.Errorf("its path is %d bytes long, too long for the sockets in it "+
			"(a Unix socket path holds %d bytes at most)", len(abs), maxSocketPath)
	}
	lock, err := os.OpenFile(filepath.Join(dir, sockLock), os.O_CREATE|os.O_RDWR|syscall.O_NOFOLLOW, 0o600)
	if err == nil {
		err = syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	}
	if err != nil {
		if lock != nil {
			lock.Close()
		}
		_ = os.RemoveAll(dir)
		return "", nil, err
	}
	return dir, lock, nil
}

// RemoveSocketDir removes this process's socket folder, with any socket a
// killed plugin left in it. The host calls it as it exits.
func RemoveSocketDir() {
	if sockets.dir == "" {
		return
	}
	_ = os.RemoveAll(sockets.dir)
	_ = sockets.lock.Close()
}

// removeStaleSocketDirs removes the socket folders that hosts which no
// longer run left in base: ours by name, owner and mode (0700), unlocked,
// and holding nothing but sockets and the lock file. Anything else is left
// alone.
func removeStaleSocketDirs(base string) {
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), sockPrefix) || e.Type()&fs.ModeType != fs.ModeDir {
			continue
		}
		removeIfStale(filepath.Join(base, e.Name()))
	}
}

func removeIfStale(dir string) {
	info, err := os.Lstat(dir)
	if err != nil || !info.IsDir() || !ownedByUs(info) || info.Mode().Perm() != 0o700 {
		return // not a folder a host made
	}
	lock, err := os.OpenFile(filepath.Join(dir, sockLock), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return // not one of ours, or a host between making it and locking it
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return // its host runs
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	var sockets []string
	for _, e := range entries {
		if e.Name() == sockLock {
			continue
		}
		if e.Type()&fs.ModeSocket == 0 {
			return // something that is not a socket: not ours to remove
		}
		sockets = append(sockets, filepath.Join(dir, e.Name()))
	}
	for _, s := range sockets {
		if err := os.Remove(s); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return
		}
	}
	_ = os.Remove(filepath.Join(dir, sockLock))
	_ = os.Remove(dir)
}

// ownedByUs reports whether info is of a file of this process's user.
func ownedByUs(info os.FileInfo) bool {
	st, ok := info.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid()
}
