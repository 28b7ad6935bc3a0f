//go:build unix

package wire

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestRemoveStaleSocketDirs(t *testing.T) {
	base := t.TempDir()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skip("cannot run true:", err)
	}
	mk := func(name string) string {
		p := filepath.Join(base, name)
		if err := os.MkdirAll(filepath.Join(p, "sub"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "plugin123"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	stale := mk(sockPrefix + strconv.Itoa(dead.Process.Pid) + "-abc")
	live := mk(sockPrefix + strconv.Itoa(os.Getpid()) + "-def")
	other := mk("mdrsflow-notapid-x")
	foreign := mk("something-else")

	removeStaleSocketDirs(base)
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the folder of an exited process is still there (%v)", err)
	}
	for _, p := range []string{live, other, foreign} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", filepath.Base(p), err)
		}
	}
}

func TestSocketDirIsPrivate(t *testing.T) {
	dir, err := socketDir()
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o700 {
		t.Errorf("socket folder mode %v, want 0700", info.Mode().Perm())
	}
	if !strings.HasPrefix(filepath.Base(dir), sockPrefix+strconv.Itoa(os.Getpid())+"-") {
		t.Errorf("socket folder %s is not named after this process", dir)
	}
}
