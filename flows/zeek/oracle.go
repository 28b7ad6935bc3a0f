// Package zeek holds what the tests of flows/zeek.yaml share: reading the
// oracle fixtures (documents that Elastic's own Zeek pipelines produced
// from Zeek lines) and comparing a document with its expected one by the
// oracle's rule. The flow itself is YAML beside this file.
//
// The fixtures are third-party test data kept outside the repository, in
// the shared folder beside it; nothing here copies them.
package zeek

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/mdrsflow/mdrsflow/runtime/event"
	"github.com/mdrsflow/mdrsflow/runtime/flowtest"
)

// OracleSubdir is where the fixtures sit inside the shared folder.
const OracleSubdir = "testdata/oracle/elastic-integrations-zeek"

// SharedDir returns the shared folder: $MDRSFLOW_SHARED when set, else
// ../shared beside the repository whose root is repoRoot. It reports
// false when the folder does not exist.
func SharedDir(repoRoot string) (string, bool) {
	dir := os.Getenv("MDRSFLOW_SHARED")
	if dir == "" {
		dir = filepath.Join(repoRoot, "..", "shared")
	}
	st, err := os.Stat(dir)
	return dir, err == nil && st.IsDir()
}

// Fixture is one stream's fixture folder: input lines and, for each, the
// document Elastic's pipeline produced.
type Fixture struct {
	// Stream is the folder's name, the Elastic data stream ("connection").
	Stream string
	// Log is the Zeek log the lines come from ("conn"), the log-type hint
	// an input would give.
	Log      string
	Lines    []string
	Expected []map[string]any
}

// LoadOracle reads every fixture folder under dir, sorted by stream.
func LoadOracle(dir string) ([]Fixture, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []Fixture
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		f, err := loadFixture(filepath.Join(dir, e.Name()), e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Stream < out[j].Stream })
	return out, nil
}

func loadFixture(dir, stream string) (Fixture, error) {
	f := Fixture{Stream: stream, Log: stream}
	if stream == "connection" {
		f.Log = "conn"
	}
	logs, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil || len(logs) != 1 {
		return f, fmt.Errorf("%s: want exactly one *.log input, found %d", dir, len(logs))
	}
	data, err := os.ReadFile(logs[0])
	if err != nil {
		return f, err
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(l) != "" {
			f.Lines = append(f.Lines, strings.TrimRight(l, "\r"))
		}
	}
	exp, err := os.ReadFile(logs[0] + "-expected.json")
	if err != nil {
		return f, err
	}
	var wrap struct {
		Expected []json.RawMessage `json:"expected"`
	}
	if err := json.Unmarshal(exp, &wrap); err != nil {
		return f, fmt.Errorf("%s: %w", logs[0]+"-expected.json", err)
	}
	for i, raw := range wrap.Expected {
		doc, err := event.DecodeObject(raw)
		if err != nil {
			return f, fmt.Errorf("%s: document %d: %w", logs[0]+"-expected.json", i+1, err)
		}
		f.Expected = append(f.Expected, doc)
	}
	if len(f.Expected) != len(f.Lines) {
		return f, fmt.Errorf("%s: %d input lines but %d expected documents", dir, len(f.Lines), len(f.Expected))
	}
	return f, nil
}

// ignoredPrefixes are the fields the oracle's rule leaves out: they vary
// by run or by shipper.
var ignoredPrefixes = []string{
	"event.ingested", "event.created", "event.original", "log.offset", "log.file.",
	"input.", "fileset.", "agent.", "tags", "ecs.version", "data_stream.",
}

// Ignored reports whether a flattened key is outside the comparison: a
// field listed by the oracle's rule, or a GeoIP/ASN result (*.geo.*,
// *.as.*), which depends on the database.
func Ignored(key string) bool {
	for _, p := range ignoredPrefixes {
		if key == strings.TrimSuffix(p, ".") || strings.HasPrefix(key, p) {
			return true
		}
	}
	segs := strings.Split(key, ".")
	for _, s := range segs[1:] {
		if s == "geo" || s == "as" {
			return true
		}
	}
	return false
}

// Flatten turns a document into dotted keys. Arrays are values; an empty
// object has no key, so it leaves nothing.
func Flatten(doc map[string]any) map[string]any {
	out := map[string]any{}
	flatten("", doc, out)
	return out
}

func flatten(prefix string, v any, out map[string]any) {
	m, ok := v.(map[string]any)
	if !ok {
		out[prefix] = v
		return
	}
	for k, x := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		flatten(key, x, out)
	}
}

// Diff is how one document differs from its expected one. Each list holds
// flattened keys, sorted.
type Diff struct {
	Missing   []string // expected, not produced
	Extra     []string // produced, not expected
	Different []string // both, with other values
	// Detail says, per key of Different, what was produced and expected.
	Detail map[string]string
}

// Equal reports whether the document matched in every compared field.
func (d Diff) Equal() bool {
	return len(d.Missing) == 0 && len(d.Extra) == 0 && len(d.Different) == 0
}

// Compare compares got with want by the oracle's rule: both flattened to
// dotted keys, ignored fields left out, numbers compared as numbers,
// related.* arrays compared as sets, everything else exactly.
//
// envelope holds the fields Elastic adds outside its pipeline, from the
// data stream (event.dataset, event.module): the fixtures, being pipeline
// output, lack them. Where want lacks such a field, got's value is
// compared with the envelope's instead, so they are checked, not ignored.
func Compare(want, got, envelope map[string]any) Diff {
	w, g := Flatten(want), Flatten(got)
	for k, v := range envelope {
		if _, ok := w[k]; !ok {
			w[k] = v
		}
	}
	d := Diff{Detail: map[string]string{}}
	for k, wv := range w {
		if Ignored(k) {
			continue
		}
		gv, ok := g[k]
		switch {
		case !ok:
			d.Missing = append(d.Missing, k)
		case !same(k, wv, gv):
			d.Different = append(d.Different, k)
			d.Detail[k] = fmt.Sprintf("got %s, want %s", show(gv), show(wv))
		}
	}
	for k := range g {
		if _, ok := w[k]; !ok && !Ignored(k) {
			d.Extra = append(d.Extra, k)
		}
	}
	sort.Strings(d.Missing)
	sort.Strings(d.Extra)
	sort.Strings(d.Different)
	return d
}

func same(key string, want, got any) bool {
	if strings.HasPrefix(key, "related.") {
		wa, wok := want.([]any)
		ga, gok := got.([]any)
		if wok && gok {
			return sameSet(wa, ga)
		}
	}
	return flowtest.Equal(want, got)
}

func sameSet(a, b []any) bool {
	in := func(x any, s []any) bool {
		for _, y := range s {
			if flowtest.Equal(x, y) {
				return true
			}
		}
		return false
	}
	for _, x := range a {
		if !in(x, b) {
			return false
		}
	}
	for _, x := range b {
		if !in(x, a) {
			return false
		}
	}
	return true
}

func show(v any) string {
	b, err := event.AppendValue(nil, v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 120 {
		return string(b[:120]) + "…"
	}
	return string(b)
}

// ErrNoOracle is returned by FindOracle when the shared folder is absent.
var ErrNoOracle = errors.New("oracle fixtures not found")

// FindOracle returns the oracle folder for a repository root, or
// ErrNoOracle.
func FindOracle(repoRoot string) (string, error) {
	shared, ok := SharedDir(repoRoot)
	if !ok {
		return "", fmt.Errorf("%w: no shared folder (set MDRSFLOW_SHARED or put shared/ beside the repository)", ErrNoOracle)
	}
	dir := filepath.Join(shared, OracleSubdir)
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoOracle, err)
	}
	return dir, nil
}
