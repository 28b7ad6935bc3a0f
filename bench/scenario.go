package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// flowFile is the flow every scenario runs, inside the work folder's copy
// of flows/: file input (read once) → tenant → Corelight transform → file
// output, or Elasticsearch when MDRSFLOW_ES_URL is set.
const flowFile = "quickstart.yaml"

// Scenario is one way of running the flow.
type Scenario struct {
	Name      string `json:"name"`
	What      string `json:"what"`
	Events    int64  `json:"events"`
	Tenants   int    `json:"tenants"`
	InProcess bool   `json:"in_process"`
	ES        bool   `json:"elasticsearch"`
	// Outage, with ES, is how long the fake cluster answers every bulk
	// request 503 from the start of the run before it takes them again.
	Outage time.Duration `json:"outage_ns,omitempty"`
}

// Run is one measured run of a scenario.
type Run struct {
	Round      int   `json:"round"`
	Events     int64 `json:"events"`
	InputBytes int64 `json:"input_bytes"`
	// Reported is the host's own end-of-run count line.
	Reported map[string]int64 `json:"reported"`
	// Delivered is what reached the output: lines in the output folder,
	// or documents the Elasticsearch sink took.
	Delivered int64  `json:"delivered"`
	Problem   string `json:"problem,omitempty"`
	Measured
}

// Derived figures of a run.
func (r *Run) EventsPerSec() float64 { return float64(r.Events) / r.WallSeconds }
func (r *Run) MBPerSec() float64     { return float64(r.InputBytes) / 1e6 / r.WallSeconds }
func (r *Run) CPUPerMillion() float64 {
	return r.CPUSeconds() / (float64(r.Events) / 1e6)
}
func (r *Run) EventsPerCPUSec() float64 { return float64(r.Events) / r.CPUSeconds() }

// env is what the scenarios share: the built binaries, the work folder
// and the Elasticsearch sink.
type env struct {
	work   string
	bin    string
	mixgen string
	flows  string
	seed   uint64
	sink   *esSink
	verb   io.Writer
}

// build compiles mdrsflow and mixgen into the work folder.
func (e *env) build(ctx context.Context) error {
	binDir := filepath.Join(e.work, "bin")
	e.bin = filepath.Join(binDir, "mdrsflow")
	e.mixgen = filepath.Join(binDir, "mixgen")
	for _, b := range []struct{ out, pkg string }{
		{e.bin, "./cmd/mdrsflow"}, {e.mixgen, "./bench/mixgen"},
	} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", b.out, b.pkg)
		cmd.Stdout, cmd.Stderr = e.verb, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build %s: %w", b.pkg, err)
		}
	}
	return nil
}

// snapshotFlows copies flows/ into the work folder.
func (e *env) snapshotFlows() error {
	e.flows = filepath.Join(e.work, "flows")
	if err := os.RemoveAll(e.flows); err != nil {
		return err
	}
	return os.CopyFS(e.flows, os.DirFS("flows"))
}

// mix returns the folder of a generated mix, generating it the first
// time; mix.json, written last, marks a complete one.
func (e *env) mix(ctx context.Context, events int64, tenants int) (string, mixManifest, error) {
	dir := filepath.Join(e.work, fmt.Sprintf("mix-n%d-t%d-s%d", events, tenants, e.seed))
	var m mixManifest
	if b, err := os.ReadFile(filepath.Join(dir, "mix.json")); err == nil && json.Unmarshal(b, &m) == nil {
		return dir, m, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", m, err
	}
	fmt.Fprintf(e.verb, "generating %d events, %d tenants in %s\n", events, tenants, dir)
	cmd := exec.CommandContext(ctx, e.mixgen, "-n", strconv.FormatInt(events, 10),
		"-tenants", strconv.Itoa(tenants), "-seed", strconv.FormatUint(e.seed, 10), "-out", dir)
	cmd.Stdout, cmd.Stderr = e.verb, e.verb
	if err := cmd.Run(); err != nil {
		return "", m, fmt.Errorf("mixgen: %w", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "mix.json"))
	if err != nil {
		return "", m, err
	}
	return dir, m, json.Unmarshal(b, &m)
}

type mixManifest struct {
	Events int64 `json:"events"`
	Bytes  int64 `json:"bytes"`
}

// run measures one run of a scenario.
func (e *env) run(ctx context.Context, sc Scenario, round int, extra []string) (*Run, error) {
	mixDir, man, err := e.mix(ctx, sc.Events, sc.Tenants)
	if err != nil {
		return nil, err
	}
	runDir := filepath.Join(e.work, "runs", fmt.Sprintf("%s-%d", sc.Name, round))
	if err := os.RemoveAll(runDir); err != nil {
		return nil, err
	}
	defer os.RemoveAll(runDir)
	outDir := filepath.Join(runDir, "out")

	args := []string{"run", filepath.Join(e.flows, flowFile),
		"--data-dir", filepath.Join(runDir, "data"), "--http", ""}
	if sc.InProcess {
		args = append(args, "--in-process")
	}
	esURL := ""
	if sc.ES {
		e.sink.reset()
		esURL = e.sink.URL
		if sc.Outage > 0 {
			e.sink.downFor(sc.Outage)
		}
	}
	var cmd *exec.Cmd
	if len(extra) > 0 { // a wrapper such as perf record
		cmd = exec.Command(extra[0], append(append(extra[1:], e.bin), args...)...)
	} else {
		cmd = exec.Command(e.bin, args...)
	}
	cmd.Env = append(os.Environ(),
		"MDRSFLOW_INPUT="+filepath.Join(mixDir, "*.log"),
		"MDRSFLOW_MODE=read_once",
		"MDRSFLOW_OUT="+outDir,
		"MDRSFLOW_TENANT=default",
		"MDRSFLOW_ES_URL="+esURL,
		"MDRSFLOW_HTTP=",
	)
	roles := []string{"output", "chain", "input"}
	if sc.InProcess {
		roles = nil
	}
	rootRole := "host"
	if len(extra) > 0 {
		rootRole, roles = extra[0], append([]string{"host"}, roles...)
	}
	m, err := measure(ctx, cmd, rootRole, roles)
	if err != nil {
		if refused := e.sink.refusedRequests(); sc.ES && len(refused) > 0 {
			err = fmt.Errorf("%w\nthe fake Elasticsearch refused: %s", err, strings.Join(refused, ", "))
		}
		return nil, fmt.Errorf("%s: %w", sc.Name, err)
	}

	r := &Run{Round: round, Events: man.Events, InputBytes: man.Bytes, Measured: *m}
	// mdrsflow run writes its counts to stderr (to stdout in earlier builds).
	r.Reported = parseCounts(m.Stdout + "\n" + m.Stderr)
	if sc.ES {
		r.Delivered = e.sink.docs.Load()
	} else if r.Delivered, err = countLines(outDir); err != nil {
		return nil, err
	}
	r.Problem = check(r)
	if refused := e.sink.refusedRequests(); sc.ES && len(refused) > 0 {
		r.Problem = strings.TrimPrefix(r.Problem+"; the fake Elasticsearch refused "+
			strings.Join(refused, ", "), "; ")
	}
	return r, nil
}

// check says what is wrong with a run's counts, or "".
func check(r *Run) string {
	var p []string
	if in, ok := r.Reported["in"]; !ok {
		p = append(p, "no count line in the output of mdrsflow run")
	} else if in != r.Events {
		p = append(p, fmt.Sprintf("read %d events of %d", in, r.Events))
	}
	if r.Delivered != r.Events {
		p = append(p, fmt.Sprintf("%d documents delivered for %d events", r.Delivered, r.Events))
	}
	for _, k := range []string{"failed", "quarantined", "dropped", "dead-lettered"} {
		if r.Reported[k] > 0 {
			p = append(p, fmt.Sprintf("%s: %d", k, r.Reported[k]))
		}
	}
	return strings.Join(p, "; ")
}

var countRE = regexp.MustCompile(`([a-z-]+): (\d+)`)

// parseCounts reads the host's "events in: N  out: N  failed: N ..." line.
func parseCounts(stdout string) map[string]int64 {
	out := map[string]int64{}
	for _, line := range strings.Split(stdout, "\n") {
		if !strings.HasPrefix(line, "events in:") {
			continue
		}
		line = strings.TrimPrefix(line, "events ")
		for _, m := range countRE.FindAllStringSubmatch(line, -1) {
			out[m[1]], _ = strconv.ParseInt(m[2], 10, 64)
		}
	}
	return out
}

// countLines counts the lines of every file under dir.
func countLines(dir string) (int64, error) {
	var n int64
	buf := make([]byte, 1<<20)
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		for {
			k, err := f.Read(buf)
			n += int64(bytes.Count(buf[:k], []byte{'\n'}))
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
	})
	if os.IsNotExist(err) {
		return 0, nil
	}
	return n, err
}
