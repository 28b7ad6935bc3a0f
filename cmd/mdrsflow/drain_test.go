package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mdrsflow/mdrsflow/plugins/outputs/elasticsearch/estest"
)

// startStuck runs a flow whose only output is a cluster that answers every
// bulk request with 429, so a stop can never drain, and returns once the
// output has tried.
func startStuck(t *testing.T, extra ...string) (*exec.Cmd, *lockedBuffer) {
	t.Helper()
	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "events.log"),
		`{"n":1,"@timestamp":"2024-05-01T12:00:00Z","data_stream":{"type":"logs","dataset":"test"}}`+"\n")
	writeTestFile(t, filepath.Join(dir, "site.yaml"), `
name: site
inputs:
  - file: {paths: ["events.log"], mode: follow}
filters:
  - tenant: {static: acme}
outputs:
  - elasticsearch:
      hosts: ["${ES_URL}"]
`)
	cluster := estest.New(t)
	cluster.FailRequests(1<<30, 429)

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, append([]string{"run", "--in-process", "--data-dir", "data", "site.yaml"}, extra...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MDRSFLOW_TEST_MAIN=1", "MDRSFLOW_HTTP=", "ES_URL="+cluster.URL)
	e := &lockedBuffer{}
	cmd.Stderr = e
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	deadline := time.Now().Add(time.Minute)
	for len(cluster.BulkRequests()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the output never tried the cluster:\n%s", e.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cmd, e
}

func waitExit(t *testing.T, cmd *exec.Cmd, within time.Duration, stderr *lockedBuffer) (code int) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(within):
		t.Fatalf("no exit within %s\n%s", within, stderr.String())
	}
	return -1
}

// --drain-timeout bounds the wait for an output that cannot deliver; the
// exit is an error that says the batches will be read again.
func TestDrainTimeoutFlag(t *testing.T) {
	cmd, stderr := startStuck(t, "--drain-timeout", "1s")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd, 30*time.Second, stderr); code == 0 {
		t.Errorf("a drain that timed out exited 0:\n%s", stderr)
	}
	if !strings.Contains(stderr.String(), "read again") {
		t.Errorf("the exit does not say what happens to the batches in flight:\n%s", stderr)
	}
}

// A second SIGTERM exits at once instead of waiting out the drain.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	cmd, stderr := startStuck(t, "--drain-timeout", "1h")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stderr.String(), "stopping: draining") {
		if time.Now().After(deadline) {
			t.Fatalf("the first signal started no drain:\n%s", stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd, 30*time.Second, stderr); code != 130 {
		t.Errorf("exit code %d after a second signal, want 130:\n%s", code, stderr)
	}
	if !strings.Contains(stderr.String(), "second signal") {
		t.Errorf("the exit is not explained:\n%s", stderr)
	}
}
