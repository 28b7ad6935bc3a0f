//go:build unix

package wire

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestRemoveStaleSocketDirs(t *testing.T) {
	base := t.TempDir()
	// mk makes a folder as a host would: a lock file, and a socket a
	// killed plugin left; extra names a file that is not a socket.
	mk := func(name string, lock bool, extra string) string {
		dir := filepath.Join(base, name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if lock {
			if err := os.WriteFile(filepath.Join(dir, sockLock), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		l, err := net.Listen("unix", filepath.Join(dir, "plugin1"))
		if err != nil {
			t.Fatal(err)
		}
		l.(*net.UnixListener).SetUnlinkOnClose(false)
		l.Close()
		if extra != "" {
			if err := os.WriteFile(filepath.Join(dir, extra), []byte("precious"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	stale := mk(sockPrefix+"1", true, "")
	held := mk(sockPrefix+"2", true, "")
	withData := mk(sockPrefix+"3", true, "notes.txt")
	noLock := mk(sockPrefix+"4", false, "")
	notOurs := mk("mdrsflow-2024-12-04-backup", true, "notes.txt")
	handMade := mk(sockPrefix+"5", true, "") // made by hand: not mode 0700
	if err := os.Chmod(handMade, 0o755); err != nil {
		t.Fatal(err)
	}

	// A running host holds its folder's lock, here or in another PID
	// namespace sharing the folder.
	f, err := os.Open(filepath.Join(held, sockLock))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}

	removeStaleSocketDirs(base)
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the folder of a host that no longer runs is still there (%v)", err)
	}
	for _, dir := range []string{held, withData, noLock, notOurs, handMade} {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("%s was removed: %v", filepath.Base(dir), err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(withData, "notes.txt")); err != nil || string(b) != "precious" {
		t.Errorf("a file in a folder named like ours was touched: %q %v", b, err)
	}
}

func TestSocketDirIsPrivateAndLocked(t *testing.T) {
	dir, err := socketDir()
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o700 || !strings.HasPrefix(filepath.Base(dir), sockPrefix) {
		t.Errorf("socket folder %s, mode %v; want %s… with mode 0700", dir, info.Mode().Perm(), sockPrefix)
	}
	// Another host's stale-folder sweep leaves it alone while this
	// process runs.
	removeStaleSocketDirs(filepath.Dir(dir))
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("a live host's socket folder was removed: %v", err)
	}
}

func TestSocketDirTooLong(t *testing.T) {
	base := filepath.Join(t.TempDir(), strings.Repeat("d", 100))
	if err := os.Mkdir(base, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, _, err := makeSocketDir(base); err == nil || !strings.Contains(err.Error(), "too long") {
		t.Fatalf("a folder too long for socket paths: %v, want an error saying so", err)
	}
	if entries, _ := os.ReadDir(base); len(entries) != 0 {
		t.Errorf("left %d entries behind", len(entries))
	}
}
