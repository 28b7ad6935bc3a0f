package zeeklog

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// sharedZeek is the team's corpus of real Zeek logs, kept next to the
// repository rather than in it; tests that need it skip when it is absent.
const sharedZeek = "../../../shared/testdata/zeek"

// TestSharedCorpus reads every log of the shared corpus and checks that
// each line that is neither blank nor a header gives one record of valid
// JSON, and that only the truncated file has a bad line.
func TestSharedCorpus(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(sharedZeek, "*", "*.log"))
	if len(files) == 0 {
		t.Skipf("no shared Zeek corpus at %s", sharedZeek)
	}
	for _, path := range files {
		name := filepath.Base(filepath.Dir(path)) + "/" + filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			recs := readAll(t, NewReader(bytes.NewReader(data), path))
			if want := countRecordLines(data); len(recs) != want {
				t.Errorf("%d records, want %d", len(recs), want)
			}
			bad := 0
			for _, r := range recs {
				if !json.Valid(r.Data) {
					t.Fatalf("line %d: not valid JSON: %.200s", r.Line, r.Data)
				}
				if r.Err != "" {
					bad++
					t.Logf("line %d: %s", r.Line, r.Err)
				}
				if r.Path == "" {
					t.Errorf("line %d: no log type", r.Line)
				}
			}
			wantBad := 0
			if strings.Contains(name, "truncated") {
				wantBad = 1
			}
			if bad != wantBad {
				t.Errorf("%d error records, want %d", bad, wantBad)
			}
		})
	}
}

// countRecordLines counts the lines that are neither blank nor headers.
func countRecordLines(data []byte) int {
	n := 0
	for line := range bytes.Lines(data) {
		line = bytes.TrimRight(line, "\r\n")
		if !blank(line) && line[0] != '#' {
			n++
		}
	}
	return n
}

// TestSameAsZeekJSON converts the TSV excerpts in testdata/tsv and
// compares them with what Zeek's JSON writer wrote for the same log
// entries (testdata/json). The streaming JSON carries _path and _write_ts,
// which the TSV has not, and writes time values as ISO-8601 strings; TSV
// keeps six decimals of an interval or double, so numbers are compared to
// within 1e-6.
func TestSameAsZeekJSON(t *testing.T) {
	files, _ := filepath.Glob("testdata/json/*.log")
	if len(files) == 0 {
		t.Fatal("no test data")
	}
	for _, jpath := range files {
		name := filepath.Base(jpath)
		t.Run(name, func(t *testing.T) {
			tsv, err := os.Open(filepath.Join("testdata/tsv", name))
			if err != nil {
				t.Fatal(err)
			}
			defer tsv.Close()
			recs := readAll(t, NewReader(tsv, name))
			want, err := os.ReadFile(jpath)
			if err != nil {
				t.Fatal(err)
			}
			lines := bytes.Split(bytes.TrimSpace(want), []byte("\n"))
			if len(recs) != len(lines) {
				t.Fatalf("%d records, want %d", len(recs), len(lines))
			}
			for i, r := range recs {
				got, exp := decode(t, r.Data), decode(t, lines[i])
				for _, k := range []string{"_path", "_write_ts"} {
					delete(got, k)
					delete(exp, k)
				}
				if !sameJSON(got, exp) {
					t.Errorf("record %d:\n got  %s\n want %s", i+1, r.Data, lines[i])
				}
			}
		})
	}
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return m
}

func sameJSON(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		if s, isStr := b.(string); isStr {
			// Zeek's streaming JSON writes time values as ISO-8601.
			tm, err := time.Parse(time.RFC3339Nano, s)
			y, ok = float64(tm.UnixMicro())/1e6, err == nil
		}
		return ok && math.Abs(x-y) <= 1e-6
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameJSON(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || !sameJSON(v, w) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

func TestTruncatedExcerpt(t *testing.T) {
	f, err := os.Open("testdata/tsv/smtp.truncated.log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs := readAll(t, NewReader(f, "smtp.truncated.log"))
	if len(recs) != 4 {
		t.Fatalf("%d records, want 4", len(recs))
	}
	last := recs[3]
	if last.Line != 12 || !strings.Contains(last.Err, "line has 9 columns") {
		t.Errorf("last record: line %d, error %q", last.Line, last.Err)
	}
	for _, r := range recs[:3] {
		if r.Err != "" || r.Path != "smtp" {
			t.Errorf("line %d: %q %q", r.Line, r.Err, r.Path)
		}
	}
}
