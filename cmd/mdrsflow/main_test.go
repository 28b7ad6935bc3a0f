package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the mdrsflow binary: with MDRSFLOW_TEST_MAIN
// set it runs main, and so do the plugin processes it starts (they
// inherit the variable), exactly as the real binary would.
func TestMain(m *testing.M) {
	if os.Getenv("MDRSFLOW_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// mdrsflow runs the binary (this test binary as main) in dir.
func mdrsflow(t *testing.T, dir string, env []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "MDRSFLOW_TEST_MAIN=1", "MDRSFLOW_HTTP=127.0.0.1:0"), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// copySample copies the bundled JSON sample name into dir, made if need
// be, and returns dir.
func copySample(t *testing.T, root, name, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(root, "testdata/zeek/json", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), src, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// dataLines counts the lines of a Zeek log that are records: not blank,
// not a TSV header.
func dataLines(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		n++
	}
	return n
}

var totalsRE = regexp.MustCompile(`events in: (\d+)  out: (\d+)  failed: (\d+)  quarantined: (\d+)  dropped: (\d+)  dead-lettered: (\d+)`)

// The README's first command, as a user runs it: every bundled record
// becomes one document in the output folder or one counted failure, and
// the run ends with the counts.
func TestQuickstartEndToEnd(t *testing.T) {
	root := repoRoot(t)
	tmp := t.TempDir()
	out := filepath.Join(tmp, "out")
	stdout, stderr, err := mdrsflow(t, root, []string{"MDRSFLOW_OUT=" + out, "MDRSFLOW_ES_URL="},
		"run", "--data-dir", filepath.Join(tmp, "data"), "flows/quickstart.yaml")
	if err != nil {
		t.Fatalf("run failed: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}

	files, _ := filepath.Glob(filepath.Join(root, "testdata/zeek/*/*.log"))
	want := 0
	for _, f := range files {
		want += dataLines(t, f)
	}

	m := totalsRE.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no totals line on stderr:\n%s", stderr)
	}
	n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	if n(1) != want {
		t.Errorf("events in = %d, want %d (data lines in testdata/zeek)", n(1), want)
	}
	if n(2)+n(3)+n(4)+n(5)+n(6) != want {
		t.Errorf("out+failed+quarantined+dropped+dead-lettered = %d, want %d:\n%s",
			n(2)+n(3)+n(4)+n(5)+n(6), want, stdout)
	}

	// What the summary says is what the files hold.
	docs, failures := 0, 0
	written, _ := filepath.Glob(filepath.Join(out, "*.ndjson"))
	if len(written) == 0 {
		t.Fatalf("no output files in %s", out)
	}
	for _, p := range written {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 4<<20)
		for sc.Scan() {
			var doc map[string]any
			if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
				t.Fatalf("%s: invalid JSON line: %v", p, err)
			}
			docs++
			if e, ok := doc["error"].(map[string]any); ok && e["message"] != nil {
				failures++
			}
		}
		f.Close()
	}
	if docs != want {
		t.Errorf("output files hold %d documents, want %d", docs, want)
	}
	if failures != n(3)+n(4) {
		t.Errorf("%d documents carry error.message, the summary counts %d failed+quarantined", failures, n(3)+n(4))
	}
	if !strings.Contains(stderr, "logs-corelight.conn-default") {
		t.Errorf("no conn target for the default tenant in the summary:\n%s", stderr)
	}

	// A second run reads nothing: positions were saved.
	stdout2, stderr2, err := mdrsflow(t, root, []string{"MDRSFLOW_OUT=" + out, "MDRSFLOW_ES_URL="},
		"run", "--data-dir", filepath.Join(tmp, "data"), "flows/quickstart.yaml")
	if err != nil {
		t.Fatalf("second run failed: %v\n%s\n%s", err, stdout2, stderr2)
	}
	if m2 := totalsRE.FindStringSubmatch(stderr2); m2 == nil || m2[1] != "0" {
		t.Errorf("second run read events again:\n%s", stderr2)
	}
	if !strings.Contains(stderr2, "no events read: the inputs found nothing new") ||
		!strings.Contains(stderr2, filepath.Join(tmp, "data")) {
		t.Errorf("the second run does not say why it read nothing, and where positions are:\n%s", stderr2)
	}
}

func TestCheckNamesFileAndLine(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("inputs:\n  - stdin: {}\nfilters:\n  - rename:\n      feilds: {a: b}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := mdrsflow(t, dir, nil, "check", bad)
	if err == nil {
		t.Fatal("check accepted a flow with an unknown setting")
	}
	if !strings.Contains(stderr, "bad.yaml") || !strings.Contains(stderr, "line 5") || !strings.Contains(stderr, "feilds") {
		t.Errorf("error does not name file, line and key:\n%s", stderr)
	}

	stdout, stderr, err := mdrsflow(t, repoRoot(t), nil, "check", "flows/quickstart.yaml")
	if err != nil || !strings.Contains(stdout, "ok") {
		t.Errorf("quickstart does not check: %v\n%s%s", err, stdout, stderr)
	}
}

// SIGTERM on a following flow drains what is in flight, saves positions,
// prints the counts and exits cleanly.
func TestSIGTERMDrainsAndExits(t *testing.T) {
	root := repoRoot(t)
	tmp := t.TempDir()
	logs := copySample(t, root, "dns.log", filepath.Join(tmp, "logs"))
	want := dataLines(t, filepath.Join(logs, "dns.log"))

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "out")
	cmd := exec.Command(exe, "run", "--data-dir", filepath.Join(tmp, "data"), "flows/quickstart.yaml")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "MDRSFLOW_TEST_MAIN=1", "MDRSFLOW_HTTP=127.0.0.1:0", "MDRSFLOW_ES_URL=",
		"MDRSFLOW_MODE=follow", "MDRSFLOW_INPUT="+filepath.Join(logs, "*.log"), "MDRSFLOW_OUT="+out)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	// Wait until everything is written, then stop it.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if countLines(filepath.Join(out, "logs-corelight.dns-default.ndjson")) >= want {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("flow did not deliver %d events in time\nstderr:\n%s", want, e.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\nstderr:\n%s", err, e.String())
		}
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("no exit within a minute of SIGTERM\nstderr:\n%s", e.String())
	}
	m := totalsRE.FindStringSubmatch(e.String())
	if m == nil || m[1] != strconv.Itoa(want) || m[2] != strconv.Itoa(want) {
		t.Fatalf("totals after SIGTERM: %q, want %d in and out\n%s", m, want, e.String())
	}
	if !strings.Contains(e.String(), "stopping: draining") {
		t.Errorf("no drain logged:\n%s", e.String())
	}
}

func countLines(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return bytes.Count(b, []byte{'\n'})
}

// The stdout output, running as a plugin process, writes to the host's
// standard output; the run's counts stay on stderr, so stdout is pure
// NDJSON.
func TestStdoutOutputAsSubprocess(t *testing.T) {
	root := repoRoot(t)
	dir := t.TempDir()
	flowText := fmt.Sprintf(`name: tostdout
inputs:
  - file: {paths: [%q], positions: false}
filters:
  - tenant: {static: acme}
  - use: %q
outputs:
  - stdout: {}
`, filepath.Join(root, "testdata/zeek/json/capture_loss.log"), filepath.Join(root, "flows/corelight.yaml"))
	path := filepath.Join(dir, "f.yaml")
	if err := os.WriteFile(path, []byte(flowText), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := mdrsflow(t, dir, nil, "run", "--data-dir", filepath.Join(dir, "data"), path)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr)
	}
	want := dataLines(t, filepath.Join(root, "testdata/zeek/json/capture_loss.log"))
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != want {
		t.Fatalf("stdout has %d lines, want %d:\n%s\nstderr:\n%s", len(lines), want, stdout, stderr)
	}
	for _, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Fatalf("stdout line is not JSON: %q", l)
		}
	}
}

// A queue or worker count below one would stall the flow or fall back to a
// default silently; run refuses it before starting anything.
func TestRunRefusesEmptyQueueAndWorkers(t *testing.T) {
	root := repoRoot(t)
	for _, args := range [][]string{{"--queue", "0"}, {"--workers", "-1"}} {
		full := append([]string{"run", "flows/quickstart.yaml", "--data-dir", t.TempDir()}, args...)
		_, stderr, err := mdrsflow(t, root, nil, full...)
		if err == nil {
			t.Errorf("run %v started", args)
			continue
		}
		if !strings.Contains(stderr, args[0]) || !strings.Contains(stderr, "1 or more") {
			t.Errorf("run %v: the error does not name the flag and the fix:\n%s", args, stderr)
		}
	}
	// A stage timeout of 0 would quietly mean the default; it is refused.
	_, stderr, err := mdrsflow(t, root, nil, "run", "flows/quickstart.yaml", "--data-dir", t.TempDir(),
		"--stage-timeout", "0")
	if err == nil || !strings.Contains(stderr, "--stage-timeout 0s") || !strings.Contains(stderr, "more than 0") {
		t.Errorf("run --stage-timeout 0: %v\n%s", err, stderr)
	}
}

// A backfill that could not read one of its files (a corrupt gzip) still
// delivers every other file, then exits with an error naming the input,
// not 0: a script must not take a run that lost data for a success.
// Plugins run as subprocesses here, so the signal crosses the wire.
func TestRunFailsWhenAFileCouldNotBeRead(t *testing.T) {
	root := repoRoot(t)
	dir := t.TempDir()
	logs := copySample(t, root, "capture_loss.log", filepath.Join(dir, "logs"))
	// A gzip header followed by bytes that are not deflate data.
	bad := append([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, bytes.Repeat([]byte{0xff}, 64)...)
	if err := os.WriteFile(filepath.Join(logs, "conn.log.gz"), bad, 0o644); err != nil {
		t.Fatal(err)
	}
	flowText := fmt.Sprintf(`name: backfill
inputs:
  - file: {paths: [%q], positions: false}
filters:
  - tenant: {static: acme}
outputs:
  - stdout: {}
`, filepath.Join(logs, "*"))
	path := filepath.Join(dir, "f.yaml")
	if err := os.WriteFile(path, []byte(flowText), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := mdrsflow(t, dir, nil, "run", "--data-dir", filepath.Join(dir, "data"), path)
	if err == nil {
		t.Fatalf("run exited 0 although a file could not be read:\n%s", stderr)
	}
	if !strings.Contains(stderr, "input file#1") || !strings.Contains(stderr, "left data unread") {
		t.Errorf("the error does not name the input and what happened:\n%s", stderr)
	}
	if strings.Contains(stderr, "rpc error") {
		t.Errorf("the error shows the wire's wording:\n%s", stderr)
	}
	want := dataLines(t, filepath.Join(root, "testdata/zeek/json/capture_loss.log"))
	if got := len(strings.Split(strings.TrimSpace(stdout), "\n")); got != want {
		t.Errorf("%d events delivered from the readable file, want %d", got, want)
	}
}

// An error a plugin process returns reaches the operator in the plugin's
// words, without gRPC's "rpc error: code = ... desc =" around them.
func TestPluginErrorsReadWithoutRPCWording(t *testing.T) {
	dir := t.TempDir()
	flowText := fmt.Sprintf(`name: nothing
inputs:
  - file: {paths: [%q]}
outputs:
  - stdout: {}
`, filepath.Join(dir, "none", "*.log"))
	path := filepath.Join(dir, "f.yaml")
	if err := os.WriteFile(path, []byte(flowText), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := mdrsflow(t, dir, nil, "run", "--data-dir", filepath.Join(dir, "data"), path)
	if err == nil || !strings.Contains(stderr, "no file matches paths") {
		t.Fatalf("run: %v\n%s", err, stderr)
	}
	if strings.Contains(stderr, "rpc error") || strings.Contains(stderr, "desc =") {
		t.Errorf("the error shows gRPC's wording:\n%s", stderr)
	}
}
