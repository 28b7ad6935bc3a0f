package file

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mdrsflow/mdrsflow/sdk"
)

// build makes a file input the way the engine does: through the registry,
// from YAML settings, validated and started with dataDir.
func build(t *testing.T, settings, dataDir string) *File {
	t.Helper()
	f, err := buildErr(t, settings, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func buildErr(t *testing.T, settings, dataDir string) (*File, error) {
	t.Helper()
	f, _, err := buildLogs(t, settings, dataDir)
	return f, err
}

// buildLogs is build that also returns what the plugin logs.
func buildLogs(t *testing.T, settings, dataDir string) (*File, *logs, error) {
	t.Helper()
	reg, ok := sdk.Lookup(sdk.KindInput, "file")
	if !ok {
		t.Fatal("input file is not registered")
	}
	f := reg.New().(*File)
	if err := sdk.DecodeSettingsText([]byte(settings), f); err != nil {
		return nil, nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, nil, err
	}
	f.drainGrace = 200 * time.Millisecond
	l := &logs{t: t}
	log := slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
	env := sdk.Env{Logger: log, DataDir: dataDir, Flow: "test", ID: "file"}
	if err := f.Start(context.Background(), env); err != nil {
		return f, l, err
	}
	t.Cleanup(func() { f.Close() })
	return f, l, nil
}

// logs passes log lines to t.Log and keeps them.
type logs struct {
	t  *testing.T
	mu sync.Mutex
	b  strings.Builder
}

func (l *logs) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logs) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Contains(l.b.String(), s)
}

// collector is an emit function that keeps the batches and acks them
// when autoAck is set.
type collector struct {
	f       *File
	autoAck bool
	mu      sync.Mutex
	batches []sdk.Batch
}

func (c *collector) emit(ctx context.Context, b sdk.Batch) error {
	c.mu.Lock()
	c.batches = append(c.batches, b)
	c.mu.Unlock()
	if c.autoAck {
		c.f.Ack(b.ID) // would deadlock if Run held its lock around emit
	}
	return nil
}

func (c *collector) records() []sdk.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []sdk.Record
	for _, b := range c.batches {
		out = append(out, b.Records...)
	}
	return out
}

func (c *collector) sources() []string {
	var out []string
	for _, r := range c.records() {
		out = append(out, r.Source)
	}
	return out
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// jsonLines returns n JSON log lines numbered from first.
func jsonLines(first, n int) string {
	var b strings.Builder
	for i := first; i < first+n; i++ {
		fmt.Fprintf(&b, `{"ts":1713520800.%06d,"uid":"C%05d","n":%d}`+"\n", i, i, i)
	}
	return b.String()
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, path, content string) {
	t.Helper()
	fh, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fh.WriteString(content); err != nil {
		t.Fatal(err)
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
}

func gzipBytes(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSample(t *testing.T) {
	f := New()
	if err := sdk.DecodeSettingsText(sample, f); err != nil {
		t.Fatalf("sample.yaml does not decode: %v", err)
	}
	if err := f.Validate(); err != nil {
		t.Fatalf("sample.yaml does not validate: %v", err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(readme, sample) {
		t.Error("README.md does not contain sample.yaml as it is")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name, yaml, err string
	}{
		{"no paths", "mode: follow", "paths: at least one glob is required"},
		{"bad glob", `paths: ["/logs/[a-"]`, `paths[0] "/logs/[a-": syntax error`},
		{"bad exclude", "paths: [x]\nexclude: ['[']", "exclude[0]"},
		{"bad mode", "paths: [x]\nmode: tail", `mode: "tail" is not a mode`},
		{"end with read_once", "paths: [x]\nstart_at: end", "only applies to mode: follow"},
		{"bad start_at", "paths: [x]\nmode: follow\nstart_at: middle", "not a place"},
		{"batch size", "paths: [x]\nbatch_size: 0", "batch_size: 0 is too small"},
		{"timeout", "paths: [x]\nbatch_timeout: 0s", "batch_timeout"},
		{"poll", "paths: [x]\npoll_interval: -1s", "poll_interval"},
		{"line limit", "paths: [x]\nmax_line_bytes: 0", "max_line_bytes"},
		{"unknown key", "paths: [x]\nfrom_beginning: true", `unknown setting "from_beginning"`},
		{"ok", "paths: [x]\nmode: follow\nstart_at: end\nbatch_timeout: 1s", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := New()
			err := sdk.DecodeSettingsText([]byte(tt.yaml), f)
			if err == nil {
				err = f.Validate()
			}
			if tt.err == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("got %v, want an error containing %q", err, tt.err)
			}
		})
	}
}

func TestReadOnce(t *testing.T) {
	tsv := readTestdata(t, "smtp.tsv.log")
	js := readTestdata(t, "smtp.json.log")
	tests := []struct {
		name    string
		files   map[string][]byte
		records int
		paths   map[string]int // log type → records
		errs    []string       // sources of error records
	}{
		{
			name:    "json and tsv",
			files:   map[string][]byte{"smtp.log": tsv, "smtp.json": js},
			records: 40,
			paths:   map[string]int{"smtp": 40},
		},
		{
			name:    "gzip",
			files:   map[string][]byte{"smtp.2024-04-12-19-00-00.log.gz": gzipBytes(t, tsv)},
			records: 20,
			paths:   map[string]int{"smtp": 20},
		},
		{
			name: "malformed lines",
			files: map[string][]byte{
				"conn.log": []byte(jsonLines(1, 2) + "not json\n" + jsonLines(3, 1) + `{"cut":`),
			},
			records: 5,
			paths:   map[string]int{"conn": 5},
			errs:    []string{"conn.log:3", "conn.log:5"},
		},
		{
			name: "excluded and blank",
			files: map[string][]byte{
				"conn.log":     []byte("\n" + jsonLines(1, 3) + "\n"),
				"skip.old.log": []byte(jsonLines(1, 3)),
			},
			records: 3,
			paths:   map[string]int{"conn": 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			f := build(t, fmt.Sprintf("paths: [%q]\nexclude: ['*.old.log']\nbatch_size: 7",
				filepath.Join(dir, "*")), t.TempDir())
			c := &collector{f: f, autoAck: true}
			if err := f.Run(context.Background(), c.emit); err != nil {
				t.Fatal(err)
			}

			recs := c.records()
			if len(recs) != tt.records {
				t.Fatalf("%d records, want %d", len(recs), tt.records)
			}
			for i, b := range c.batches {
				if b.ID != uint64(i+1) || len(b.Records) > 7 {
					t.Errorf("batch %d: id %d, %d records", i, b.ID, len(b.Records))
				}
			}
			paths := map[string]int{}
			var errs []string
			for _, r := range recs {
				paths[r.Path]++
				if r.Error != "" {
					errs = append(errs, r.Source)
					continue
				}
				if !json.Valid(r.Data) {
					t.Errorf("%s: not JSON: %s", r.Source, r.Data)
				}
			}
			if fmt.Sprint(paths) != fmt.Sprint(tt.paths) {
				t.Errorf("log types %v, want %v", paths, tt.paths)
			}
			if !slices.Equal(errs, tt.errs) {
				t.Errorf("error records at %v, want %v", errs, tt.errs)
			}
		})
	}
}

func TestReadOnceNoFiles(t *testing.T) {
	f := build(t, fmt.Sprintf("paths: [%q]", filepath.Join(t.TempDir(), "*.log")),
		t.TempDir())
	err := f.Run(context.Background(), (&collector{}).emit)
	if err == nil || !strings.Contains(err.Error(), "no file matches") {
		t.Fatalf("got %v", err)
	}
}

// A path that names a directory instead of the files in it reads
// nothing; read_once says so instead of finishing with no records.
func TestReadOnceDirectoryIsAnError(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "conn.log"), []byte(`{"n":1}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := build(t, fmt.Sprintf("paths: [%q]", dir), t.TempDir())
	err := f.Run(context.Background(), (&collector{}).emit)
	if err == nil || !strings.Contains(err.Error(), "only directories") ||
		!strings.Contains(err.Error(), filepath.Join(dir, "*.log")) {
		t.Fatalf("got %v", err)
	}
}

// savedPosition returns the acknowledged position of the only file.
func savedPosition(t *testing.T, f *File) (offset, line int64, done bool) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.store.entries) != 1 {
		t.Fatalf("%d entries", len(f.store.entries))
	}
	for _, e := range f.store.entries {
		return e.Offset, e.Line, e.Done
	}
	return
}

func TestAcksOutOfOrder(t *testing.T) {
	dir := t.TempDir()
	content := jsonLines(1, 10)
	writeFile(t, filepath.Join(dir, "conn.log"), content)
	offsetOf := func(line int64) int64 {
		return int64(len(strings.Join(strings.SplitAfter(content, "\n")[:line], "")))
	}

	f := build(t, fmt.Sprintf("paths: [%q]\nbatch_size: 2", filepath.Join(dir, "*.log")),
		t.TempDir())
	c := &collector{f: f}
	if err := f.Run(context.Background(), c.emit); err != nil {
		t.Fatal(err)
	}
	if len(c.batches) != 5 {
		t.Fatalf("%d batches, want 5", len(c.batches))
	}

	steps := []struct {
		ack  uint64
		line int64 // saved line after the ack
		done bool
	}{
		{2, 0, false},
		{3, 0, false},
		{1, 6, false},
		{5, 6, false},
		{5, 6, false}, // a repeated ack changes nothing
		{99, 6, false},
		{4, 10, true},
	}
	for _, s := range steps {
		f.Ack(s.ack)
		offset, line, done := savedPosition(t, f)
		if line != s.line || offset != offsetOf(s.line) || done != s.done {
			t.Fatalf("after ack %d: offset %d line %d done %v, want line %d done %v",
				s.ack, offset, line, done, s.line, s.done)
		}
	}
}

func TestRestartRepeatsUnackedTail(t *testing.T) {
	tsv := readTestdata(t, "smtp.tsv.log")
	tests := []struct {
		name string
		file string
		data []byte
	}{
		{"json", "conn.log", []byte(jsonLines(1, 11))},
		{"tsv", "smtp.log", tsv},
		{"gzip tsv", "smtp.log.gz", gzipBytes(t, tsv)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, data := t.TempDir(), t.TempDir()
			writeFile(t, filepath.Join(dir, tt.file), string(tt.data))
			settings := fmt.Sprintf("paths: [%q]\nbatch_size: 3", filepath.Join(dir, "*"))

			// First run: everything is read; batches 1, 2 and 4 are acked.
			f1 := build(t, settings, data)
			c1 := &collector{f: f1}
			if err := f1.Run(context.Background(), c1.emit); err != nil {
				t.Fatal(err)
			}
			all := c1.records()
			if len(c1.batches) < 4 {
				t.Fatalf("only %d batches", len(c1.batches))
			}
			for _, id := range []uint64{1, 2, 4} {
				f1.Ack(id)
			}
			if err := f1.Close(); err != nil {
				t.Fatal(err)
			}

			// Second run: exactly the records from batch 3 on come again,
			// with the same data and line numbers.
			f2 := build(t, settings, data)
			c2 := &collector{f: f2, autoAck: true}
			if err := f2.Run(context.Background(), c2.emit); err != nil {
				t.Fatal(err)
			}
			again := c2.records()
			tail := all[6:]
			if len(again) != len(tail) {
				t.Fatalf("second run: %d records, want %d", len(again), len(tail))
			}
			for i := range tail {
				if again[i].Source != tail[i].Source || !bytes.Equal(again[i].Data, tail[i].Data) {
					t.Fatalf("record %d: %s %s, want %s %s", i, again[i].Source, again[i].Data,
						tail[i].Source, tail[i].Data)
				}
			}
			if c2.batches[0].ID != 1 {
				t.Errorf("batch ids restart at %d", c2.batches[0].ID)
			}
			if err := f2.Close(); err != nil {
				t.Fatal(err)
			}

			// Third run: the file is done; nothing is read again.
			f3 := build(t, settings, data)
			c3 := &collector{f: f3, autoAck: true}
			if err := f3.Run(context.Background(), c3.emit); err != nil {
				t.Fatal(err)
			}
			if n := len(c3.records()); n != 0 {
				t.Errorf("third run read %d records again", n)
			}

			// Appended lines are read on the next run (plain files).
			if strings.HasSuffix(tt.file, ".gz") {
				return
			}
			f3.Close()
			appendFile(t, filepath.Join(dir, tt.file), strings.SplitAfter(string(tt.data),
				"\n")[len(strings.SplitAfter(string(tt.data), "\n"))-2])
			f4 := build(t, settings, data)
			c4 := &collector{f: f4, autoAck: true}
			if err := f4.Run(context.Background(), c4.emit); err != nil {
				t.Fatal(err)
			}
			recs := c4.records()
			if len(recs) != 1 || recs[0].Error != "" ||
				!bytes.Equal(recs[0].Data, all[len(all)-1].Data) {
				t.Errorf("appended line: %+v", recs)
			}
		})
	}
}

func TestPositionsFile(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(dir, "conn.log"), jsonLines(1, 5))
	settings := fmt.Sprintf("paths: [%q]", filepath.Join(dir, "*.log"))
	f := build(t, settings, data)
	c := &collector{f: f, autoAck: true}
	if err := f.Run(context.Background(), c.emit); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	names, _ := filepath.Glob(filepath.Join(data, "*"))
	if len(names) != 1 || filepath.Base(names[0]) != positionsFile {
		t.Fatalf("data dir holds %v, want only %s", names, positionsFile)
	}
	var saved savedPositions
	raw, _ := os.ReadFile(names[0])
	if err := json.Unmarshal(raw, &saved); err != nil {
		t.Fatalf("positions.json: %v\n%s", err, raw)
	}
	for _, e := range saved.Files {
		if e.Line != 5 || !e.Done || e.FingerprintBytes == 0 ||
			e.Path != filepath.Join(dir, "conn.log") {
			t.Errorf("entry %+v", e)
		}
	}

	// A damaged positions file stops Start with advice, and Close is clean.
	writeFile(t, names[0], "{not json")
	f2, err := buildErr(t, settings, data)
	if err == nil || !strings.Contains(err.Error(), "move it aside") {
		t.Fatalf("got %v", err)
	}
	if err := f2.Close(); err != nil {
		t.Errorf("Close after failed Start: %v", err)
	}
	if err := New().Close(); err != nil {
		t.Errorf("Close without Start: %v", err)
	}
}

func TestPositionsOff(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(dir, "conn.log"), jsonLines(1, 5))
	settings := fmt.Sprintf("paths: [%q]\npositions: false", filepath.Join(dir, "*.log"))
	for run := range 2 {
		f := build(t, settings, data)
		c := &collector{f: f, autoAck: true}
		if err := f.Run(context.Background(), c.emit); err != nil {
			t.Fatal(err)
		}
		if n := len(c.records()); n != 5 {
			t.Errorf("run %d: %d records, want 5", run, n)
		}
		f.Close()
	}
	if names, _ := filepath.Glob(filepath.Join(data, "*")); len(names) != 0 {
		t.Errorf("data dir holds %v", names)
	}
}

func TestCancel(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "conn.log"), jsonLines(1, 50))
	for _, mode := range []string{ModeReadOnce, ModeFollow} {
		t.Run(mode, func(t *testing.T) {
			f := build(t, fmt.Sprintf("paths: [%q]\nmode: %s\nbatch_size: 5",
				filepath.Join(dir, "*.log"), mode), t.TempDir())
			ctx, cancel := context.WithCancel(context.Background())
			// emit blocks like a full flow until the flow stops.
			emit := func(ctx context.Context, b sdk.Batch) error {
				cancel()
				<-ctx.Done()
				return ctx.Err()
			}
			done := make(chan error, 1)
			go func() { done <- f.Run(ctx, emit) }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return after cancel")
			}
		})
	}
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// read_once reads every file it can and then says, with sdk.ErrIncomplete,
// that one could not be read.
func TestReadOnceReportsUnreadableFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.log"), jsonLines(1, 3))
	bad := append([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, bytes.Repeat([]byte{0xff}, 64)...)
	if err := os.WriteFile(filepath.Join(dir, "b.log.gz"), bad, 0o644); err != nil {
		t.Fatal(err)
	}
	f := build(t, fmt.Sprintf("paths: [%q]", filepath.Join(dir, "*")), t.TempDir())
	c := &collector{}
	err := f.Run(context.Background(), c.emit)
	if !errors.Is(err, sdk.ErrIncomplete) || !strings.Contains(err.Error(), "1 read error") {
		t.Fatalf("got %v, want 1 read error wrapping sdk.ErrIncomplete", err)
	}
	if n := len(c.records()); n != 3 {
		t.Errorf("%d records from the readable file, want 3", n)
	}
}
