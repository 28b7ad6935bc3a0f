package stdin

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/mdrsflow/mdrsflow/sdk"
)

// build makes a stdin input the way the engine does, reading in.
func build(t *testing.T, settings string, in io.Reader) *Stdin {
	t.Helper()
	reg, ok := sdk.Lookup(sdk.KindInput, "stdin")
	if !ok {
		t.Fatal("input stdin is not registered")
	}
	s := reg.New().(*Stdin)
	if err := sdk.DecodeSettingsText([]byte(settings), s); err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	s.In = in
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := s.Start(context.Background(), sdk.Env{Logger: log}); err != nil {
		t.Fatal(err)
	}
	return s
}

// collector keeps emitted batches.
type collector struct {
	mu      sync.Mutex
	batches []sdk.Batch
}

func (c *collector) emit(_ context.Context, b sdk.Batch) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batches = append(c.batches, b)
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

func jsonLines(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, `{"ts":1713520800.%06d,"n":%d}`+"\n", i, i)
	}
	return b.String()
}

func gz(t *testing.T, s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestSample(t *testing.T) {
	s := New()
	if err := sdk.DecodeSettingsText(sample, s); err != nil {
		t.Fatalf("sample.yaml does not decode: %v", err)
	}
	if err := s.Validate(); err != nil {
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
	tests := []struct{ name, yaml, err string }{
		{"format", "format: csv", `format: unknown format "csv"`},
		{"batch size", "batch_size: 0", "batch_size: 0 is too small"},
		{"timeout", "batch_timeout: 0s", "batch_timeout"},
		{"line limit", "max_line_bytes: -1", "max_line_bytes"},
		{"reader is no setting", "in: x", `unknown setting "in"`},
		{"ok", "path: conn\nformat: tsv\nbatch_size: 10", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New()
			err := sdk.DecodeSettingsText([]byte(tt.yaml), s)
			if err == nil {
				err = s.Validate()
			}
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("got %v, want %q", err, tt.err)
			}
		})
	}
}

func TestRun(t *testing.T) {
	tsv := "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n" +
		"#path\tdns\n#fields\tts\tquery\tanswers\n#types\ttime\tstring\tvector[string]\n" +
		"1713520800.000001\texample.com\ta,b\n1713520800.000002\t-\t(empty)\n"
	tests := []struct {
		name, settings, in string
		records, batches   int
		path               string
		errs               []string // sources of error records
	}{
		{"json", "path: conn\nbatch_size: 4", jsonLines(10), 10, 3, "conn", nil},
		{"tsv with path header", "path: conn", tsv, 2, 1, "dns", nil},
		{"gzip", "path: conn", gz(t, jsonLines(5)), 5, 1, "conn", nil},
		{"no path", "", jsonLines(1), 1, 1, "", nil},
		{"malformed", "path: conn", jsonLines(2) + "oops\n{\"a\":", 4, 1, "conn",
			[]string{"stdin:3", "stdin:4"}},
		{"json format", "format: json", "#x\n" + jsonLines(1), 2, 1, "", []string{"stdin:1"}},
		{"empty", "", "", 0, 0, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := iotest.HalfReader(strings.NewReader(tt.in))
			s := build(t, tt.settings, in)
			c := &collector{}
			if err := s.Run(context.Background(), c.emit); err != nil {
				t.Fatal(err)
			}
			recs := c.records()
			if len(recs) != tt.records || len(c.batches) != tt.batches {
				t.Fatalf("%d records in %d batches, want %d in %d", len(recs),
					len(c.batches), tt.records, tt.batches)
			}
			for i, b := range c.batches {
				if b.ID != uint64(i+1) {
					t.Errorf("batch %d has id %d", i, b.ID)
				}
			}
			var errs []string
			for _, r := range recs {
				if r.Path != tt.path {
					t.Errorf("%s: path %q, want %q", r.Source, r.Path, tt.path)
				}
				if !json.Valid(r.Data) {
					t.Errorf("%s: not JSON: %s", r.Source, r.Data)
				}
				if r.Error != "" {
					errs = append(errs, r.Source)
				}
			}
			if fmt.Sprint(errs) != fmt.Sprint(tt.errs) {
				t.Errorf("error records %v, want %v", errs, tt.errs)
			}
		})
	}
}

func TestTSVConverted(t *testing.T) {
	in := "#separator \\x09\n#path\tconn\n#fields\tts\tid.orig_p\tlocal_orig\n" +
		"#types\ttime\tport\tbool\n1713520800.100000\t443\tT\n"
	s := build(t, "", strings.NewReader(in))
	c := &collector{}
	if err := s.Run(context.Background(), c.emit); err != nil {
		t.Fatal(err)
	}
	recs := c.records()
	want := `{"ts":1713520800.100000,"id.orig_p":443,"local_orig":true}`
	if len(recs) != 1 || string(recs[0].Data) != want || recs[0].Source != "stdin:5" {
		t.Fatalf("got %+v, want %s", recs, want)
	}
}

func TestSlowStream(t *testing.T) {
	pr, pw := io.Pipe()
	s := build(t, "batch_size: 100\nbatch_timeout: 5ms", pr)
	c := &collector{}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background(), c.emit) }()

	// Two lines while the stream stays open: the timeout sends them.
	if _, err := pw.Write([]byte(jsonLines(2))); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(c.records()) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("records not sent while the stream is open")
		}
		time.Sleep(2 * time.Millisecond)
	}
	pw.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return at the end of the stream")
	}
}

func TestReadError(t *testing.T) {
	boom := errors.New("gzip: invalid checksum")
	in := io.MultiReader(strings.NewReader(jsonLines(3)), iotest.ErrReader(boom))
	s := build(t, "", in)
	c := &collector{}
	err := s.Run(context.Background(), c.emit)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "stdin after line 3") {
		t.Fatalf("got %v", err)
	}
	if n := len(c.records()); n != 3 {
		t.Errorf("%d records before the error, want 3", n)
	}
}

func TestStop(t *testing.T) {
	t.Run("cancel while idle", func(t *testing.T) {
		pr, pw := io.Pipe()
		defer pw.Close()
		s := build(t, "", pr)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx, (&collector{}).emit) }()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
	})
	t.Run("emit fails", func(t *testing.T) {
		s := build(t, "batch_size: 1", strings.NewReader(jsonLines(5)))
		calls := 0
		emit := func(context.Context, sdk.Batch) error {
			calls++
			return errors.New("flow stopping")
		}
		if err := s.Run(context.Background(), emit); err != nil || calls != 1 {
			t.Fatalf("Run: %v after %d emits", err, calls)
		}
	})
}
