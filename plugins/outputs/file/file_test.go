package file

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/mdrsflow/mdrsflow/sdk"
	"github.com/mdrsflow/mdrsflow/sdk/plugintest"
)

// build makes the output the way the engine does: registry, YAML, Validate.
func build(t *testing.T, settings string) *File {
	t.Helper()
	reg, ok := sdk.Lookup(sdk.KindOutput, "file")
	if !ok {
		t.Fatal("file output is not registered")
	}
	p := reg.New()
	if err := sdk.DecodeSettingsText([]byte(settings), p); err != nil {
		t.Fatalf("decode settings: %v", err)
	}
	if err := p.(sdk.Validator).Validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	return p.(*File)
}

// start builds and starts an output writing into dir.
func start(t *testing.T, dir, extra string, log *slog.Logger) *File {
	t.Helper()
	o := build(t, fmt.Sprintf("path: %q\n%s", dir, extra))
	t.Cleanup(func() {
		if err := o.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	if err := o.Start(context.Background(), sdk.Env{Logger: log}); err != nil {
		t.Fatalf("start: %v", err)
	}
	return o
}

func rec(target, data string) sdk.Record {
	return sdk.Record{Data: []byte(data), Routes: []sdk.Route{{Output: 0, Target: target}}}
}

// files returns the content of every file under dir, by path relative to dir.
func files(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestWrite(t *testing.T) {
	long := strings.Repeat("a", MaxTargetLen+1)
	tests := []struct {
		name  string
		recs  []sdk.Record
		want  []string // Delivered, or the Rejected reason
		files map[string]string
	}{{
		name: "one file per target, in order",
		recs: []sdk.Record{rec("logs-zeek.conn-acme", `{"a":1}`), rec("b", `{"b":1}`),
			rec("logs-zeek.conn-acme", `{"a":2}`)},
		want: []string{"delivered", "delivered", "delivered"},
		files: map[string]string{
			"logs-zeek.conn-acme.ndjson": "{\"a\":1}\n{\"a\":2}\n",
			"b.ndjson":                   "{\"b\":1}\n",
		},
	}, {
		name:  "event over several lines is compacted",
		recs:  []sdk.Record{rec("t", "{\n  \"a\": \"x\\ny\"\n}")},
		want:  []string{"delivered"},
		files: map[string]string{"t.ndjson": "{\"a\":\"x\\ny\"}\n"},
	}, {
		name:  "allowed characters",
		recs:  []sdk.Record{rec("0a_b+c-d.e", `{}`)},
		want:  []string{"delivered"},
		files: map[string]string{"0a_b+c-d.e.ndjson": "{}\n"},
	}, {
		name: "bad targets are rejected and nothing is written",
		recs: []sdk.Record{
			{Data: []byte(`{}`)},
			rec("", `{}`),
			rec("../escape", `{}`),
			rec("a/b", `{}`),
			rec(`a\b`, `{}`),
			rec(".hidden", `{}`),
			rec("-flag", `{}`),
			rec("a..b", `{}`),
			rec("Acme", `{}`),
			rec("café", `{}`),
			rec(long, `{}`),
		},
		want: []string{
			"no target: the record has no route to this output",
			"no target: the record has no route to this output",
			`target "../escape" must start with a lowercase letter or a digit to be a file name`,
			`target "a/b" holds '/'; a file name allows a-z, 0-9, '.', '_', '+' and '-'`,
			`target "a\\b" holds '\\'; a file name allows a-z, 0-9, '.', '_', '+' and '-'`,
			`target ".hidden" must start with a lowercase letter or a digit to be a file name`,
			`target "-flag" must start with a lowercase letter or a digit to be a file name`,
			`target "a..b" contains "..", which a file name may not`,
			`target "Acme" must start with a lowercase letter or a digit to be a file name`,
			`target "café" holds 'é'; a file name allows a-z, 0-9, '.', '_', '+' and '-'`,
			fmt.Sprintf("target %q is 201 bytes; a file name allows 200",
				strings.Repeat("a", 60)+"…"),
		},
		files: map[string]string{},
	}, {
		name: "bad events are rejected",
		recs: []sdk.Record{rec("t", "{\n"), rec("t", " "), rec("t", `{"ok":1}`)},
		want: []string{
			"event is not valid JSON: unexpected end of JSON input",
			"event is empty",
			"delivered",
		},
		files: map[string]string{"t.ndjson": "{\"ok\":1}\n"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "out")
			o := start(t, dir, "", nil)

			res := o.Write(context.Background(), tc.recs)

			for i, r := range res {
				got := r.Reason
				if r.Status == sdk.Delivered {
					got = "delivered"
				} else if r.Status != sdk.Rejected {
					t.Errorf("record %d: status %v", i, r.Status)
				}
				if got != tc.want[i] {
					t.Errorf("record %d:\n got %s\nwant %s", i, got, tc.want[i])
				}
			}
			if got := files(t, root); !reflect.DeepEqual(got, prefixed("out/", tc.files)) {
				t.Errorf("files %q, want %q", got, tc.files)
			}
		})
	}
}

func prefixed(prefix string, m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[prefix+k] = v
	}
	return out
}

func TestAppendAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 3; i++ {
		o := build(t, fmt.Sprintf("path: %q\nsync: true\n", dir))
		if err := o.Start(context.Background(), sdk.Env{}); err != nil {
			t.Fatal(err)
		}
		res := o.Write(context.Background(), []sdk.Record{rec("t", fmt.Sprintf(`{"n":%d}`, i))})
		if res[0].Status != sdk.Delivered {
			t.Fatalf("write %d: %v %s", i, res[0].Status, res[0].Reason)
		}
		if err := o.Close(); err != nil {
			t.Fatal(err)
		}
	}
	want := "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n"
	if got := files(t, dir)["t.ndjson"]; got != want {
		t.Errorf("file %q, want %q", got, want)
	}
}

func TestCopyTruncate(t *testing.T) {
	dir := t.TempDir()
	o := start(t, dir, "", nil)
	o.Write(context.Background(), []sdk.Record{rec("t", `{"n":1}`)})

	// What logrotate's copytruncate does while the file is open.
	if err := os.Truncate(filepath.Join(dir, "t.ndjson"), 0); err != nil {
		t.Fatal(err)
	}
	o.Write(context.Background(), []sdk.Record{rec("t", `{"n":2}`)})

	if got := files(t, dir)["t.ndjson"]; got != "{\"n\":2}\n" {
		t.Errorf("file %q after truncation", got)
	}
}

func TestMaxOpenFiles(t *testing.T) {
	dir := t.TempDir()
	o := start(t, dir, "max_open_files: 2\n", nil)
	want := map[string]string{}
	for round := 0; round < 3; round++ {
		var recs []sdk.Record
		for _, target := range []string{"a", "b", "c", "d", "a"} {
			line := fmt.Sprintf(`{"r":%d,"t":%q}`, round, target)
			recs = append(recs, rec(target, line))
			want[target+".ndjson"] += line + "\n"
		}
		for _, r := range o.Write(context.Background(), recs) {
			if r.Status != sdk.Delivered {
				t.Fatalf("round %d: %v %s", round, r.Status, r.Reason)
			}
		}
		if n := len(o.files); n > 2 {
			t.Errorf("round %d: %d files open, limit 2", round, n)
		}
	}
	if got := files(t, dir); !reflect.DeepEqual(got, want) {
		t.Errorf("files %q, want %q", got, want)
	}
}

func TestPartialLineIsCutOff(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "t.ndjson"), []byte("{\"a\":1}\n{\"b\":"),
		0o640); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	o := start(t, dir, "", slog.New(slog.NewJSONHandler(&logs, nil)))

	o.Write(context.Background(), []sdk.Record{rec("t", `{"c":3}`)})

	if got, want := files(t, dir)["t.ndjson"], "{\"a\":1}\n{\"c\":3}\n"; got != want {
		t.Errorf("file %q, want %q", got, want)
	}
	if !strings.Contains(logs.String(), "removed a partial last line") {
		t.Errorf("logs:\n%s", logs.String())
	}
}

func TestWriteFailure(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("needs /dev/full")
	}
	dir := t.TempDir()
	link := filepath.Join(dir, "full.ndjson")
	if err := os.Symlink("/dev/full", link); err != nil {
		t.Skip(err)
	}
	var logs syncBuffer
	o := start(t, dir, "", slog.New(slog.NewJSONHandler(&logs, nil)))

	res := o.Write(context.Background(), []sdk.Record{rec("full", `{}`), rec("ok", `{}`)})

	if res[0].Status != sdk.Retry || !strings.Contains(res[0].Reason, "file: write ") ||
		!strings.Contains(res[0].Reason, "full.ndjson") ||
		!strings.Contains(res[0].Reason, "no space left on device") {
		t.Errorf("failed target: %v %q", res[0].Status, res[0].Reason)
	}
	if res[1].Status != sdk.Delivered {
		t.Errorf("other target: %v %q", res[1].Status, res[1].Reason)
	}
	if _, open := o.files["full"]; open {
		t.Error("the failed file is still open")
	}

	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	res = o.Write(context.Background(), []sdk.Record{rec("full", `{}`)})
	if res[0].Status != sdk.Delivered {
		t.Errorf("after the fix: %v %q", res[0].Status, res[0].Reason)
	}
	for _, msg := range []string{"write failed; events will be retried", "writing again"} {
		if !strings.Contains(logs.String(), msg) {
			t.Errorf("logs lack %q:\n%s", msg, logs.String())
		}
	}
}

func TestLifecycle(t *testing.T) {
	t.Run("write before start", func(t *testing.T) {
		res := New().Write(context.Background(), []sdk.Record{rec("t", `{}`)})
		if res[0].Status != sdk.Retry {
			t.Errorf("%v %q", res[0].Status, res[0].Reason)
		}
	})
	t.Run("start creates nested folders", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "a", "b")
		start(t, dir, "", nil)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			t.Errorf("folder not created: %v", err)
		}
	})
	t.Run("path is a file", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		o := build(t, fmt.Sprintf("path: %q\n", p))
		err := o.Start(context.Background(), sdk.Env{})
		if err == nil || !strings.Contains(err.Error(), "file: create folder (setting path)") {
			t.Errorf("Start() = %v", err)
		}
		if err := o.Close(); err != nil {
			t.Errorf("close after failed start: %v", err)
		}
		if err := o.Close(); err != nil {
			t.Errorf("second close: %v", err)
		}
	})
	t.Run("cancelled write", func(t *testing.T) {
		o := start(t, t.TempDir(), "", nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		res := o.Write(ctx, []sdk.Record{rec("t", `{}`)})
		if res[0].Status != sdk.Retry || !strings.Contains(res[0].Reason, "cancel") {
			t.Errorf("%v %q", res[0].Status, res[0].Reason)
		}
	})
}

func TestValidate(t *testing.T) {
	tests := []struct{ name, settings, want string }{
		{"no path", "", "file: path is required"},
		{"no open files", "path: x\nmax_open_files: 0\n", "max_open_files is 0"},
		{"unknown setting", "path: x\nfsync: true\n", `unknown setting "fsync"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := New()
			err := sdk.DecodeSettingsText([]byte(tc.settings), o)
			if err == nil {
				err = o.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func BenchmarkWrite(b *testing.B) {
	o := New()
	o.Path = b.TempDir()
	if err := o.Start(context.Background(), sdk.Env{}); err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	recs := make([]sdk.Record, 1000)
	for i := range recs {
		recs[i] = rec(fmt.Sprintf("logs-zeek.conn-t%d", i%4),
			`{"@timestamp":"2024-05-01T12:00:00Z","source":{"ip":"10.0.0.1"},"n":1}`)
	}
	b.ReportAllocs()
	n := 0
	for ; b.Loop(); n++ {
		o.Write(context.Background(), recs)
	}
	b.ReportMetric(float64(n*len(recs))/b.Elapsed().Seconds(), "events/s")
}

// TestSample holds the plugin to the contract every plugin passes.
func TestSample(t *testing.T) {
	plugintest.Contract(t, sdk.KindOutput, "file", ".")
}

// The output folder (or a file in it) deleted while the flow runs: the
// batch that finds out is retried, not reported delivered into a file
// nobody can read, and the retry lands in a new folder and file.
func TestDeletedWhileOpen(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("open files cannot be deleted on Windows")
	}
	parent := t.TempDir()
	dir := filepath.Join(parent, "out")
	var logs syncBuffer
	o := start(t, dir, "", slog.New(slog.NewTextHandler(&logs, nil)))
	if r := o.Write(context.Background(), []sdk.Record{rec("t", `{"n":1}`)}); r[0].Status != sdk.Delivered {
		t.Fatalf("first write: %v %s", r[0].Status, r[0].Reason)
	}

	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	r := o.Write(context.Background(), []sdk.Record{rec("t", `{"n":2}`), rec("u", `{"n":3}`)})
	if r[0].Status != sdk.Retry || !strings.Contains(r[0].Reason, "deleted") {
		t.Fatalf("write into the deleted file: %v %q, want a retry saying it was deleted", r[0].Status, r[0].Reason)
	}
	if r[1].Status != sdk.Delivered {
		t.Fatalf("write of a new target after the folder went: %v %s", r[1].Status, r[1].Reason)
	}

	// The host retries the batch's unsent records.
	if r := o.Write(context.Background(), []sdk.Record{rec("t", `{"n":2}`)}); r[0].Status != sdk.Delivered {
		t.Fatalf("retry: %v %s", r[0].Status, r[0].Reason)
	}
	got := files(t, dir)
	if got["t.ndjson"] != "{\"n\":2}\n" || got["u.ndjson"] != "{\"n\":3}\n" {
		t.Errorf("files after the folder was deleted: %q", got)
	}
	if !strings.Contains(logs.String(), "made it again") {
		t.Errorf("no warning that the folder was made again; log:\n%s", logs.String())
	}
}

// The folder deleted and replaced by a file: the retry's reason says why
// no new file can be made, not only that the old one went.
func TestDeletedAndReplacedByAFile(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("open files cannot be deleted on Windows")
	}
	dir := filepath.Join(t.TempDir(), "out")
	o := start(t, dir, "", nil)
	o.Write(context.Background(), []sdk.Record{rec("t", `{"n":1}`)})
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := o.Write(context.Background(), []sdk.Record{rec("t", `{"n":2}`)})
	if r[0].Status != sdk.Retry || !strings.Contains(r[0].Reason, "cannot be made") ||
		!strings.Contains(r[0].Reason, "not a directory") {
		t.Fatalf("write: %v %q; want a retry naming why no new file can be made", r[0].Status, r[0].Reason)
	}
}
