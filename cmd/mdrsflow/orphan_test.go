package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// procStat is what /proc/<pid>/stat says about a process: its state, its
// parent and its start time (which tells a pid from a later process that
// reuses it).
type procStat struct {
	state byte
	ppid  int
	start uint64
}

func readProcStat(pid int) (procStat, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, false
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return procStat{}, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	start, err2 := strconv.ParseUint(f[19], 10, 64) // field 22 of stat
	if err1 != nil || err2 != nil || len(f[0]) != 1 {
		return procStat{}, false
	}
	return procStat{state: f[0][0], ppid: ppid, start: start}, true
}

// childrenOf lists the live processes whose parent is pid, with their
// start times.
func childrenOf(t *testing.T, pid int) map[int]uint64 {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	kids := map[int]uint64{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := readProcStat(p); ok && st.ppid == pid && st.state != 'Z' && st.state != 'X' {
			kids[p] = st.start
		}
	}
	return kids
}

// alive reports whether pid is still the process that started at start
// and has not exited (a zombie has exited).
func alive(pid int, start uint64) bool {
	st, ok := readProcStat(pid)
	return ok && st.start == start && st.state != 'Z' && st.state != 'X'
}

// A host killed without a chance to stop its plugins (SIGKILL, the OOM
// killer) leaves no plugin process behind: each notices its parent is gone
// and exits.
func TestPluginsExitWhenHostIsKilled(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc to find the plugin processes in")
	}
	root := repoRoot(t)
	tmp := t.TempDir()
	logs := copySample(t, root, "dns.log", filepath.Join(tmp, "logs"))
	want := dataLines(t, filepath.Join(logs, "dns.log"))

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// Files, not pipes, for the host's output: cmd.Wait then returns as
	// soon as the host is reaped, whatever its orphans still hold open.
	stderrPath := filepath.Join(tmp, "stderr")
	errFile, err := os.Create(stderrPath)
	if err != nil {
		t.Fatal(err)
	}
	defer errFile.Close()
	outFile, err := os.Create(filepath.Join(tmp, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer outFile.Close()
	stderr := func() string { b, _ := os.ReadFile(stderrPath); return string(b) }

	out := filepath.Join(tmp, "out")
	cmd := exec.Command(exe, "run", "--data-dir", filepath.Join(tmp, "data"), "flows/quickstart.yaml")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "MDRSFLOW_TEST_MAIN=1", "MDRSFLOW_HTTP=127.0.0.1:0", "MDRSFLOW_ES_URL=",
		"MDRSFLOW_MODE=follow", "MDRSFLOW_INPUT="+filepath.Join(logs, "*.log"), "MDRSFLOW_OUT="+out)
	cmd.Stdout, cmd.Stderr = outFile, errFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	host := cmd.Process.Pid
	reaped := false
	plugins := map[int]uint64{}
	// Whatever happens, nothing this test started outlives it.
	t.Cleanup(func() {
		for pid, start := range plugins {
			if alive(pid, start) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if !reaped {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})

	// Every plugin is running once the events have gone through input,
	// filters and output.
	deadline := time.Now().Add(2 * time.Minute)
	for countLines(filepath.Join(out, "logs-corelight.dns-default.ndjson")) < want {
		if time.Now().After(deadline) {
			t.Fatalf("flow did not deliver %d events in time\nstderr:\n%s", want, stderr())
		}
		time.Sleep(100 * time.Millisecond)
	}
	plugins = childrenOf(t, host)
	if len(plugins) == 0 {
		t.Fatalf("the host (pid %d) runs no plugin processes\nstderr:\n%s", host, stderr())
	}
	t.Logf("host %d, plugin processes %v", host, plugins)

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // "signal: killed"
	reaped = true

	deadline = time.Now().Add(20 * time.Second)
	for {
		var left []int
		for pid, start := range plugins {
			if alive(pid, start) {
				left = append(left, pid)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			var desc []string
			for _, pid := range left {
				cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
				st, _ := readProcStat(pid)
				desc = append(desc, fmt.Sprintf("pid %d (parent %d, state %c): %s",
					pid, st.ppid, st.state, bytes.ReplaceAll(bytes.TrimRight(cmdline, "\x00"), []byte{0}, []byte{' '})))
			}
			t.Fatalf("plugin processes still running 20s after their host was killed (killed by the cleanup):\n%s\nhost stderr:\n%s",
				strings.Join(desc, "\n"), stderr())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
