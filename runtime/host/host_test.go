package host_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mdrsflow/mdrsflow/runtime/flow"
	"github.com/mdrsflow/mdrsflow/runtime/host"
	"github.com/mdrsflow/mdrsflow/runtime/stage"
	"github.com/mdrsflow/mdrsflow/runtime/wire"
	"github.com/mdrsflow/mdrsflow/sdk"
	"github.com/mdrsflow/mdrsflow/sdk/serve"

	_ "github.com/mdrsflow/mdrsflow/plugins/filters/tenant"
)

// The test binary doubles as the plugin process: the host re-runs it
// with go-plugin's cookie set, and TestMain serves plugins instead of
// running tests.
func TestMain(m *testing.M) {
	if os.Getenv(wire.Handshake.MagicCookieKey) == wire.Handshake.MagicCookieValue &&
		len(os.Args) > 1 && os.Args[1] == "-external-asset" {
		// An integrator's plugin, built with the public SDK.
		serve.Filter("asset", func() sdk.Filter { return &assetFilter{} })
		os.Exit(0)
	}
	if os.Getenv(wire.Handshake.MagicCookieKey) == wire.Handshake.MagicCookieValue {
		logger := wire.PluginLogger(slog.LevelInfo)
		wire.Serve(&wire.Opener{
			Input: func(ctx context.Context, c stage.Config) (stage.Input, error) {
				return stage.OpenInput(ctx, c, logger)
			},
			Filter: func(ctx context.Context, c stage.Config) (stage.Filter, error) {
				return stage.OpenFilter(ctx, c, logger)
			},
			Output: func(ctx context.Context, c stage.Config) (stage.Output, error) {
				return stage.OpenOutput(ctx, c, logger)
			},
		})
		os.Exit(0)
	}
	code := m.Run()
	wire.RemoveSocketDir()
	os.Exit(code)
}

func selfCommand(t testing.TB) func() *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return func() *exec.Cmd { return exec.Command(exe) }
}

// ---------------------------------------------------------------------
// Test plugins.

func init() {
	sdk.Register(sdk.Registration{Kind: sdk.KindInput, Name: "testgen", New: func() any { return &genInput{Batch: 10} }})
	sdk.Register(sdk.Registration{Kind: sdk.KindFilter, Name: "testcrash", New: func() any { return &crashFilter{} }})
	sdk.Register(sdk.Registration{Kind: sdk.KindFilter, Name: "testhang", New: func() any { return &hangFilter{} }})
	sdk.Register(sdk.Registration{Kind: sdk.KindFilter, Name: "testmark", New: func() any { return &markFilter{} }})
	sdk.Register(sdk.Registration{Kind: sdk.KindOutput, Name: "testsink", New: func() any { return &sinkOutput{} }})
	sdk.Register(sdk.Registration{Kind: sdk.KindOutput, Name: "testdie", New: func() any { return &dieOutput{} }})
}

// genInput emits Count records {"n":i} in batches, Delay apart, and
// appends each acked batch id to <DataDir>/acks.
type genInput struct {
	Count  int           `yaml:"count"`
	Batch  int           `yaml:"batch"`
	Delay  time.Duration `yaml:"delay"`
	Tenant string        `yaml:"tenant"`
	// Pad adds a field of that many bytes to each record.
	Pad int `yaml:"pad"`
	dir string
	mu  sync.Mutex
}

func (g *genInput) Start(_ context.Context, env sdk.Env) error {
	g.dir = env.DataDir
	env.Logger.Info("testgen starting", "offset", int64(43570816), "share", 0.5)
	return nil
}

func (g *genInput) Run(ctx context.Context, emit sdk.Emit) error {
	id := uint64(0)
	for i := 0; i < g.Count; {
		id++
		b := sdk.Batch{ID: id}
		for j := 0; j < g.Batch && i < g.Count; j, i = j+1, i+1 {
			data := fmt.Sprintf(`{"n":%d}`, i)
			if g.Tenant != "" {
				data = fmt.Sprintf(`{"n":%d,"_system_name":"s-%s"}`, i, g.Tenant)
			}
			if g.Pad > 0 {
				data = fmt.Sprintf(`{"n":%d,"pad":"%s"}`, i, strings.Repeat("x", g.Pad))
			}
			b.Records = append(b.Records, sdk.Record{Data: []byte(data), Source: fmt.Sprintf("gen:%d", i)})
		}
		if err := emit(ctx, b); err != nil {
			return nil
		}
		if g.Delay > 0 {
			select {
			case <-time.After(g.Delay):
			case <-ctx.Done():
				return nil
			}
		}
	}
	return nil
}

func (g *genInput) Ack(id uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	f, err := os.OpenFile(filepath.Join(g.dir, "acks"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		panic(err)
	}
	fmt.Fprintln(f, id)
	f.Close()
}

// crashFilter kills its own process on an event with "poison": true.
type crashFilter struct{}

func (crashFilter) Apply(ev *sdk.Event) error {
	if ev.Fields()["poison"] == true {
		os.Exit(3)
	}
	return nil
}

// hangFilter never returns on an event with "poison": true.
type hangFilter struct{}

func (hangFilter) Apply(ev *sdk.Event) error {
	if ev.Fields()["poison"] == true {
		select {}
	}
	return nil
}

// markFilter sets the data stream fields and marks poison; the flows put
// the real tenant filter before it.
type markFilter struct {
	PoisonN []int64 `yaml:"poison_n"`
}

func (m *markFilter) Apply(ev *sdk.Event) error {
	n, _ := ev.Fields()["n"].(int64)
	for _, p := range m.PoisonN {
		if n == p {
			ev.Fields()["poison"] = true
		}
	}
	ev.Fields()["data_stream"] = map[string]any{"type": "logs", "dataset": "test"}
	return nil
}

// sinkOutput appends each record as {"target":…, "data":…} to Path.
type sinkOutput struct {
	Path string `yaml:"path"`
	mu   sync.Mutex
}

func (s *sinkOutput) Write(_ context.Context, recs []sdk.Record) []sdk.Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := os.OpenFile(s.Path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	res := make([]sdk.Result, len(recs))
	if err != nil {
		for i := range res {
			res[i] = sdk.Result{Status: sdk.Retry, Reason: err.Error()}
		}
		return res
	}
	defer f.Close()
	for _, r := range recs {
		line, _ := json.Marshal(map[string]any{"target": r.Routes[0].Target, "data": json.RawMessage(r.Data),
			"error": r.Error, "quarantine": r.Quarantine})
		fmt.Fprintf(f, "%s\n", line)
	}
	return res
}

// dieOutput kills its process at the first write, and cannot start again
// afterwards: a plugin whose restart fails.
type dieOutput struct {
	Marker string `yaml:"marker"`
}

func (d *dieOutput) Start(context.Context, sdk.Env) error {
	if _, err := os.Stat(d.Marker); err == nil {
		return fmt.Errorf("testdie: cannot start again")
	}
	return nil
}

func (d *dieOutput) Write(context.Context, []sdk.Record) []sdk.Result {
	_ = os.WriteFile(d.Marker, nil, 0o644)
	os.Exit(3)
	return nil
}

// assetFilter is an external enrichment: it tags events with a site.
type assetFilter struct {
	Site string `yaml:"site"`
}

func (a *assetFilter) Validate() error {
	if a.Site == "" {
		return fmt.Errorf("site is required")
	}
	return nil
}

func (a *assetFilter) Start(_ context.Context, env sdk.Env) error {
	env.Logger.Info("asset inventory loaded", "site", a.Site)
	return nil
}

func (a *assetFilter) Apply(ev *sdk.Event) error {
	ev.Fields()["site"] = a.Site
	return nil
}

// ---------------------------------------------------------------------

type sunk struct {
	Target     string         `json:"target"`
	Data       map[string]any `json:"data"`
	Error      string         `json:"error"`
	Quarantine string         `json:"quarantine"`
}

func readSink(t *testing.T, path string) []sunk {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []sunk
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var s sunk
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatalf("sink line %q: %v", sc.Text(), err)
		}
		out = append(out, s)
	}
	return out
}

func writeFlow(t *testing.T, dir, text string) *flow.Flow {
	t.Helper()
	p := filepath.Join(dir, "flow.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := flow.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// markFlow writes the flow most tests run: one input, the tenant step
// (acme) and testmark, one output; input and output are the YAML of one
// list entry each.
func markFlow(t *testing.T, dir, input, output string) *flow.Flow {
	t.Helper()
	return writeFlow(t, dir, fmt.Sprintf(`
inputs:
  - %s
filters:
  - tenant: {static: acme}
  - testmark: {}
outputs:
  - %s
`, input, output))
}

func TestRunDeliversEveryEventOnce(t *testing.T) {
	for _, mode := range []struct {
		name      string
		inProcess bool
	}{{"in-process", true}, {"subprocess", false}} {
		t.Run(mode.name, func(t *testing.T) {
			dir := t.TempDir()
			sink := filepath.Join(dir, "sink.ndjson")
			f := markFlow(t, dir, "testgen: {count: 95, batch: 10}", fmt.Sprintf("testsink: {path: %q}", sink))
			r, err := host.New(f, host.Options{InProcess: mode.inProcess, Command: selfCommand(t),
				DataDir: filepath.Join(dir, "data"), Logger: quietLogger()})
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			got := readSink(t, sink)
			seen := map[float64]int{}
			for _, s := range got {
				if s.Target != "logs-test-acme" {
					t.Errorf("target %q, want logs-test-acme", s.Target)
				}
				seen[s.Data["n"].(float64)]++
			}
			for i := 0; i < 95; i++ {
				if seen[float64(i)] != 1 {
					t.Errorf("event %d delivered %d times", i, seen[float64(i)])
				}
			}
			tot := r.Stats().Totals()
			if tot.In != 95 || tot.Out != 95 {
				t.Errorf("totals %+v", tot)
			}
			acks := readLines(t, filepath.Join(dir, "data", "flow", "testgen_1", "acks"))
			if len(acks) != 10 {
				t.Errorf("got %d acks, want 10 (one per batch): %v", len(acks), acks)
			}
		})
	}
}

// Batches far larger than the HTTP/2 flow-control windows of the plugin
// connections (wire.callWindow, wire.streamWindow) cross every hop whole:
// the input's stream, the chain's call and the output's.
func TestBatchesLargerThanFlowWindows(t *testing.T) {
	dir := t.TempDir()
	sink := filepath.Join(dir, "sink.ndjson")
	const count, pad = 120, 150_000 // 60 records a batch: 9 MB
	f := markFlow(t, dir, fmt.Sprintf("testgen: {count: %d, batch: 60, pad: %d}", count, pad), fmt.Sprintf("testsink: {path: %q}", sink))
	r, err := host.New(f, host.Options{Command: selfCommand(t),
		DataDir: filepath.Join(dir, "data"), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	seen := map[float64]int{}
	for _, s := range readSink(t, sink) {
		if p, _ := s.Data["pad"].(string); len(p) != pad {
			t.Errorf("event %v arrived with a pad of %d bytes, want %d", s.Data["n"], len(p), pad)
		}
		seen[s.Data["n"].(float64)]++
	}
	for i := range count {
		if seen[float64(i)] != 1 {
			t.Errorf("event %d delivered %d times", i, seen[float64(i)])
		}
	}
}

// An output process that dies and cannot be started again stops the flow
// with that error, even while its input waits for more data, instead of
// leaving it running with nothing delivered.
func TestFailedRestartStopsTheFlow(t *testing.T) {
	dir := t.TempDir()
	f := markFlow(t, dir, "testgen: {count: 1000000, batch: 10, delay: 50ms}", fmt.Sprintf("testdie: {marker: %q}", filepath.Join(dir, "died")))
	r, err := host.New(f, host.Options{Command: selfCommand(t), DataDir: filepath.Join(dir, "data"),
		Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = r.Run(ctx)
	if ctx.Err() != nil {
		t.Fatal("the flow kept running after its output could not be restarted")
	}
	if err == nil || !strings.Contains(err.Error(), "cannot start again") {
		t.Fatalf("run ended with %v, want the output's start error", err)
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// A poison event kills the filter process every time. The host restarts
// the process, splits the batch to find the event, sets it aside with
// the reason, and delivers every other event once.
func TestPoisonEventIsIsolated(t *testing.T) {
	dir := t.TempDir()
	sink := filepath.Join(dir, "sink.ndjson")
	f := writeFlow(t, dir, fmt.Sprintf(`
inputs:
  - testgen: {count: 40, batch: 16}
filters:
  - tenant: {static: acme}
  - testmark: {poison_n: [21]}
  - testcrash: {}
outputs:
  - testsink: {path: %q}
`, sink))
	r, err := host.New(f, host.Options{Command: selfCommand(t), DataDir: filepath.Join(dir, "data"), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	got := readSink(t, sink)
	if len(got) != 40 {
		t.Fatalf("sink holds %d records, want 40", len(got))
	}
	for _, s := range got {
		eo, _ := s.Data["event"].(map[string]any)
		if s.Quarantine != "" {
			if !strings.Contains(s.Error, "died on this record") || eo == nil ||
				!strings.Contains(eo["original"].(string), `"n":21`) {
				t.Errorf("quarantined record %+v is not the poison one with its reason", s)
			}
			if s.Target != "quarantine-mdrsflow-default" {
				t.Errorf("poison record went to %q", s.Target)
			}
			continue
		}
		if n := s.Data["n"].(float64); n == 21 {
			t.Errorf("poison record delivered as normal: %+v", s)
		}
	}
	if tot := r.Stats().Totals(); tot.PluginRestarts == 0 || tot.Quarantined != 1 || tot.Out != 39 {
		t.Errorf("totals %+v", tot)
	}
}

// Killing the filter process from outside mid-run loses nothing: the
// batch in flight is retried in a new process.
func TestKillFilterProcessMidRun(t *testing.T) {
	dir := t.TempDir()
	sink := filepath.Join(dir, "sink.ndjson")
	const n = 400
	f := markFlow(t, dir, fmt.Sprintf("testgen: {count: %d, batch: 5, delay: 5ms}", n), fmt.Sprintf("testsink: {path: %q}", sink))
	r, err := host.New(f, host.Options{Command: selfCommand(t), DataDir: filepath.Join(dir, "data"), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()

	killed := 0
	deadline := time.After(time.Minute)
	for killed < 2 {
		select {
		case err := <-done:
			t.Fatalf("flow ended before the filter was killed twice (%d): %v", killed, err)
		case <-deadline:
			t.Fatal("filter process never came up")
		case <-time.After(100 * time.Millisecond):
		}
		if pids := r.FilterPIDs(); len(pids) == 1 && pids[0] > 0 {
			if err := syscall.Kill(pids[0], syscall.SIGKILL); err == nil {
				killed++
			}
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	seen := map[float64]int{}
	for _, s := range readSink(t, sink) {
		if s.Quarantine != "" {
			t.Errorf("record quarantined after a kill from outside: %+v", s)
			continue
		}
		seen[s.Data["n"].(float64)]++
	}
	for i := 0; i < n; i++ {
		if seen[float64(i)] != 1 {
			t.Errorf("event %d delivered %d times", i, seen[float64(i)])
		}
	}
	if r.Stats().Totals().PluginRestarts < 2 {
		t.Errorf("expected at least 2 restarts, stats %+v", r.Stats().Totals())
	}
}

// An external plugin, named by path and pinned by digest, runs as its own
// process between the built-in chains; its log lines reach the host's log
// under its name; a binary whose digest differs is refused.
func TestExternalPlugin(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	sum := fmt.Sprintf("%x", sha256.Sum256(b))
	for _, c := range []struct {
		name, sum string
		wantErr   string
	}{
		{"pinned", sum, ""},
		{"unpinned", "", ""},
		{"wrong digest", strings.Repeat("ab", 32), "refusing to start it"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			sink := filepath.Join(dir, "sink.ndjson")
			f := writeFlow(t, dir, fmt.Sprintf(`
inputs:
  - testgen: {count: 30, batch: 7}
filters:
  - tenant: {static: acme}
  - testmark: {}
  - external:
      path: %q
      args: ["-external-asset"]
      sha256: %q
      settings: {site: hq}
    id: asset
outputs:
  - testsink: {path: %q}
`, exe, c.sum, sink))
			var logs bytes.Buffer
			logger := slog.New(slog.NewJSONHandler(&syncWriter{w: &logs}, &slog.HandlerOptions{Level: slog.LevelInfo}))
			r, err := host.New(f, host.Options{Command: selfCommand(t), DataDir: filepath.Join(dir, "data"), Logger: logger})
			if err != nil {
				t.Fatal(err)
			}
			err = r.Run(context.Background())
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("got %v, want an error with %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := readSink(t, sink)
			if len(got) != 30 {
				t.Fatalf("%d records delivered, want 30", len(got))
			}
			for _, s := range got {
				if s.Data["site"] != "hq" || s.Target != "logs-test-acme" {
					t.Fatalf("record not enriched or misrouted: %+v", s)
				}
			}
			if !strings.Contains(logs.String(), `"msg":"asset inventory loaded"`) ||
				!strings.Contains(logs.String(), `"plugin":"asset"`) {
				t.Errorf("the plugin's log line did not reach the host log under its name:\n%s", logs.String())
			}
		})
	}
}

// inProcessRunner makes a quiet in-process runner of f with its data in
// dir/data.
func inProcessRunner(t *testing.T, f *flow.Flow, dir string) *host.Runner {
	t.Helper()
	r, err := host.New(f, host.Options{InProcess: true, DataDir: filepath.Join(dir, "data"), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// An event no output's when: takes is never fanned out to other outputs
// (one per customer cluster, say): it is kept in the local dead-letter
// queue, counted, and its batch acknowledged.
func TestUnroutedEventsGoToTheDeadLetterQueue(t *testing.T) {
	dir := t.TempDir()
	sink := filepath.Join(dir, "globex.ndjson")
	f := writeFlow(t, dir, fmt.Sprintf(`
inputs:
  - testgen: {count: 12, batch: 5}
filters:
  - tenant: {static: acme}
  - testmark: {}
outputs:
  - testsink: {path: %q}
    when: 'meta("tenant") == "globex"'
`, sink))
	r := inProcessRunner(t, f, dir)
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sink); !os.IsNotExist(err) {
		t.Fatalf("an acme event reached globex's output: %v", err)
	}
	if tot := r.Stats().Totals(); tot.Rejected != 12 || tot.Out != 0 {
		t.Errorf("totals %+v, want 12 dead-lettered", tot)
	}
	if dl := r.DeadLetters(); dl.Written != 12 {
		t.Errorf("dead letters written %d, want 12", dl.Written)
	}
	if acks := readLines(t, filepath.Join(dir, "data", "flow", "testgen_1", "acks")); len(acks) != 3 {
		t.Errorf("%d acks, want 3", len(acks))
	}
}

// Two processes running one flow on one data directory would read the
// same positions and write everything twice: the second refuses to start.
func TestOneRunnerPerFlowAndDataDir(t *testing.T) {
	dir := t.TempDir()
	f := markFlow(t, dir, "testgen: {count: 1000, batch: 1, delay: 10ms}", fmt.Sprintf("testsink: {path: %q}", filepath.Join(dir, "sink.ndjson")))
	opts := host.Options{InProcess: true, DataDir: filepath.Join(dir, "data"), Logger: quietLogger()}
	first, err := host.New(f, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- first.Run(ctx) }()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if ok, _ := first.Ready(); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("first runner never became ready")
		}
	}

	second, err := host.New(f, opts)
	if err != nil {
		t.Fatal(err)
	}
	err = second.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("second runner: %v, want an 'already running' error", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A filter process that hangs on a record is killed after the stage
// timeout and handled like one that died: the record is found and set
// aside, everything else delivered once.
func TestHungFilterIsKilled(t *testing.T) {
	dir := t.TempDir()
	sink := filepath.Join(dir, "sink.ndjson")
	f := writeFlow(t, dir, fmt.Sprintf(`
inputs:
  - testgen: {count: 20, batch: 8}
filters:
  - tenant: {static: acme}
  - testmark: {poison_n: [5]}
  - testhang: {}
outputs:
  - testsink: {path: %q}
`, sink))
	r, err := host.New(f, host.Options{Command: selfCommand(t), DataDir: filepath.Join(dir, "data"),
		Logger: quietLogger(), StageTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	got := readSink(t, sink)
	if len(got) != 20 {
		t.Fatalf("%d records, want 20", len(got))
	}
	quarantined := 0
	for _, s := range got {
		if s.Quarantine != "" {
			quarantined++
			if eo, _ := s.Data["event"].(map[string]any); eo == nil || !strings.Contains(eo["original"].(string), `"n":5`) {
				t.Errorf("the wrong record was set aside: %+v", s)
			}
		}
	}
	if quarantined != 1 {
		t.Errorf("%d records set aside, want 1", quarantined)
	}
}

// A plugin's log line names its flow, plugin and kind once, in-process as
// in a subprocess, and a whole number it logs reads as one.
func TestPluginLogLinesNameThePluginOnce(t *testing.T) {
	for _, mode := range []string{"in-process", "subprocess"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			f := writeFlow(t, dir, fmt.Sprintf(`
inputs:
  - testgen: {count: 3}
filters:
  - tenant: {static: acme}
outputs:
  - testsink: {path: %q}
`, filepath.Join(dir, "sink.ndjson")))
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, &slog.HandlerOptions{Level: slog.LevelInfo}))
			opts := host.Options{DataDir: filepath.Join(dir, "data"), Logger: logger}
			if mode == "in-process" {
				opts.InProcess = true
			} else {
				opts.Command = selfCommand(t)
			}
			r, err := host.New(f, opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			var line string
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, "testgen starting") {
					line = l
				}
			}
			if line == "" {
				t.Fatalf("the plugin's line is not in the log:\n%s", logs.String())
			}
			for _, kv := range []string{" flow=flow ", " plugin=testgen#1 ", " kind=input ", " offset=43570816 ", " share=0.5"} {
				key := kv[:strings.IndexByte(kv, '=')+1]
				if !strings.Contains(line+" ", kv) || strings.Count(line, key) != 1 {
					t.Errorf("want %q once in: %s", strings.TrimSpace(kv), line)
				}
			}
			// A step of a filter chain (the tenant step warns: static,
			// no allow list) is named as the step, under its chain.
			var step string
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, "without an allow list") {
					step = l
				}
			}
			for _, key := range []string{" flow=", " plugin=", " kind=", " step=tenant#1 "} {
				if strings.Count(step+" ", key) != 1 {
					t.Errorf("want %q once in the step's line: %s", strings.TrimSpace(key), step)
				}
			}
		})
	}
}

// A run stopped in the middle of its input accounts for every event it
// counted in: each is delivered and its batch acknowledged, and a batch
// the stop turned away at the queue is not counted at all (the input
// reads it again at the next start).
func TestStopMidStreamAddsUp(t *testing.T) {
	dir := t.TempDir()
	sink := filepath.Join(dir, "sink.ndjson")
	f := markFlow(t, dir, "testgen: {count: 1000000, batch: 50}", fmt.Sprintf("testsink: {path: %q}", sink))
	r := inProcessRunner(t, f, dir)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	waitFor := time.Now().Add(30 * time.Second)
	for r.Stats().Totals().Out < 2000 && time.Now().Before(waitFor) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	tot := r.Stats().Totals()
	if tot.Out < 2000 || tot.In == 1000000 {
		t.Fatalf("the stop did not land mid-stream: %+v", tot)
	}
	if tot.In != tot.Out || tot.In != tot.Acked {
		t.Errorf("totals after a stop: in %d, out %d, acknowledged %d; want all equal", tot.In, tot.Out, tot.Acked)
	}
	if got := len(readLines(t, sink)); uint64(got) != tot.Out {
		t.Errorf("the sink holds %d events, the totals say %d out", got, tot.Out)
	}
	var b strings.Builder
	r.Stats().Print(&b)
	if strings.Contains(b.String(), "in flight") {
		t.Errorf("the summary reports events in flight after a full drain:\n%s", b.String())
	}
}
