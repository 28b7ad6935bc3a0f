// Package flowtest runs a flow's test file: sample records with the exact
// documents, targets or failures they must give. It is what
// `mdrsflow test` runs, and what the shipped flows' Go tests run both in
// this process and through a plugin subprocess.
//
//	flow: corelight.yaml      # the flow under test, relative to this file
//	tenant: acme              # optional: a static tenant step runs first,
//	                          # as in a site flow
//	env: {VAR: value}         # optional: environment for ${VAR} in flows
//	cases:
//	  - name: conn over tcp
//	    path: conn            # optional log-type hint, as an input gives
//	    input: {...}          # the record: a mapping, or a string holding
//	                          # the raw line
//	    expect: {...}         # the whole document, exactly
//	    target: logs-corelight.conn-acme
//	  - name: unparsable ts
//	    input: {...}
//	    error: ts             # the event fails; error.message contains it
//	    expect_fields: {event.kind: pipeline_error}   # a subset, by path
//
// Numbers compare as numbers (80 equals 80.0); everything else exactly.
package flowtest

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/mdrsflow/mdrsflow/runtime/chain"
	"github.com/mdrsflow/mdrsflow/runtime/event"
	"github.com/mdrsflow/mdrsflow/runtime/flow"
	"github.com/mdrsflow/mdrsflow/runtime/stage"
	"github.com/mdrsflow/mdrsflow/sdk"
)

// File is a loaded test file.
type File struct {
	Path   string
	Flow   string            `yaml:"flow"`
	Tenant string            `yaml:"tenant"`
	Env    map[string]string `yaml:"env"`
	Cases  []Case            `yaml:"cases"`
}

// Case is one sample record and what it must give.
type Case struct {
	Name         string         `yaml:"name"`
	Path         string         `yaml:"path"`
	Input        any            `yaml:"input"`
	Expect       map[string]any `yaml:"expect"`
	ExpectFields map[string]any `yaml:"expect_fields"`
	Target       string         `yaml:"target"`
	Error        string         `yaml:"error"`
	Quarantine   string         `yaml:"quarantine"`
	Dropped      bool           `yaml:"dropped"`
	Line         int            `yaml:"-"`
}

// Load reads a test file.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f := &File{Path: path}
	if looksLikeFlow(&root) {
		return nil, fmt.Errorf("%s is a flow, not a test file: a test file names the flow "+
			"under test with `flow:` and lists `cases:` (see docs/flows.md, Testing a flow)", path)
	}
	if err := sdk.DecodeSettings(&root, f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if f.Flow == "" {
		return nil, fmt.Errorf("%s: name the flow under test with `flow:`", path)
	}
	if len(f.Cases) == 0 {
		return nil, fmt.Errorf("%s: no cases: a test without cases tests nothing; "+
			"add at least one under `cases:`", path)
	}
	// Remember each case's line for failure messages.
	if doc := root.Content[0]; doc.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(doc.Content); i += 2 {
			if doc.Content[i].Value == "cases" {
				for j, c := range doc.Content[i+1].Content {
					if j < len(f.Cases) {
						f.Cases[j].Line = c.Line
					}
				}
			}
		}
	}
	return f, nil
}

// looksLikeFlow reports whether the YAML document has a flow's keys and
// none of a test file's.
func looksLikeFlow(root *yaml.Node) bool {
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return false
	}
	doc, flowKeys := root.Content[0], 0
	for i := 0; i+1 < len(doc.Content); i += 2 {
		switch doc.Content[i].Value {
		case "flow", "cases":
			return false
		case "name", "inputs", "filters", "outputs", "routing":
			flowKeys++
		}
	}
	return flowKeys > 0
}

// Spec builds the chain spec under test: the optional tenant step, the
// flow's filters, and a router with one output that uses the flow's
// routing templates.
func (f *File) Spec() (chain.Spec, error) {
	flowPath := f.Flow
	if !filepath.IsAbs(flowPath) {
		flowPath = filepath.Join(filepath.Dir(f.Path), flowPath)
	}
	env := func(k string) (string, bool) {
		if v, ok := f.Env[k]; ok {
			return v, true
		}
		return os.LookupEnv(k)
	}
	fl, err := flow.LoadWithEnv(flowPath, env)
	if err != nil {
		return chain.Spec{}, fmt.Errorf("%s: the flow under test (flow: %s): %w", f.Path, f.Flow, err)
	}
	fl.Complete()
	steps, err := chain.StepsFromFlow(fl.Filters)
	if err != nil {
		return chain.Spec{}, err
	}
	if f.Tenant != "" {
		settings, _ := yaml.Marshal(map[string]string{"static": f.Tenant})
		steps = append([]chain.StepSpec{{Name: "tenant", ID: "test-tenant", Where: f.Path,
			OnError: "fail", Settings: string(settings)}}, steps...)
	}
	return chain.Spec{
		Flow:  fl.Name,
		Steps: steps,
		Router: &chain.RouterSpec{Outputs: []chain.RouteSpec{{ID: "test",
			Target: fl.Routing.Target, Failures: fl.Routing.Failures, Quarantine: fl.Routing.Quarantine}}},
	}, nil
}

// Records turns the cases' inputs into records.
func (f *File) Records() ([]sdk.Record, error) {
	recs := make([]sdk.Record, len(f.Cases))
	for i, c := range f.Cases {
		var data []byte
		switch in := c.Input.(type) {
		case string:
			data = []byte(in)
		case nil:
			return nil, fmt.Errorf("%s:%d: case %q has no input", f.Path, c.Line, c.Name)
		default:
			b, err := json.Marshal(in)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: case %q: input: %w", f.Path, c.Line, c.Name, err)
			}
			data = b
		}
		recs[i] = sdk.Record{Data: data, Path: c.Path, Source: fmt.Sprintf("%s:%d", filepath.Base(f.Path), c.Line)}
	}
	return recs, nil
}

// Outcome is what happened to one case.
type Outcome struct {
	Case     Case
	Problems []string
}

// Passed reports whether the case passed.
func (o Outcome) Passed() bool { return len(o.Problems) == 0 }

// Run processes every case through filter, one record per batch so a
// dropped record is attributed to its case, and checks the results.
func (f *File) Run(ctx context.Context, filter stage.Filter) ([]Outcome, error) {
	recs, err := f.Records()
	if err != nil {
		return nil, err
	}
	out := make([]Outcome, len(f.Cases))
	for i, c := range f.Cases {
		res, err := filter.Process(ctx, sdk.Batch{ID: uint64(i + 1), Records: []sdk.Record{recs[i]}})
		if err != nil {
			return nil, fmt.Errorf("case %q: %w", c.Name, err)
		}
		out[i] = Outcome{Case: c}
		if res.Dropped > 0 || len(res.Batch.Records) == 0 {
			if !c.Dropped {
				out[i].Problems = append(out[i].Problems, "the event was dropped")
			}
			continue
		}
		out[i].Problems = check(c, res.Batch.Records[0])
	}
	return out, nil
}

func check(c Case, rec sdk.Record) []string {
	var probs []string
	if c.Dropped {
		probs = append(probs, "expected the event to be dropped, it was kept")
	}
	doc, err := event.DecodeObject(rec.Data)
	if err != nil {
		return append(probs, fmt.Sprintf("output is not a JSON object: %v", err))
	}
	switch {
	case c.Error != "":
		if rec.Error == "" {
			probs = append(probs, fmt.Sprintf("expected a failure containing %q; the event passed", c.Error))
		} else if !strings.Contains(rec.Error, c.Error) {
			probs = append(probs, fmt.Sprintf("failure %q does not contain %q", rec.Error, c.Error))
		}
	case c.Quarantine != "":
		if !strings.Contains(rec.Quarantine, c.Quarantine) {
			probs = append(probs, fmt.Sprintf("quarantine reason %q does not contain %q", rec.Quarantine, c.Quarantine))
		}
	default:
		if rec.Error != "" {
			probs = append(probs, "unexpected failure: "+rec.Error)
		}
		if rec.Quarantine != "" {
			probs = append(probs, "unexpected quarantine: "+rec.Quarantine)
		}
	}
	if c.Target != "" {
		var got []string
		for _, r := range rec.Routes {
			got = append(got, r.Target)
		}
		if len(got) != 1 || got[0] != c.Target {
			probs = append(probs, fmt.Sprintf("target: got %v, want %s", got, c.Target))
		}
	}
	if c.Expect != nil {
		probs = append(probs, Diff(normalizeYAML(c.Expect), doc)...)
	}
	for path, want := range c.ExpectFields {
		p, err := event.ParsePath(path)
		if err != nil {
			probs = append(probs, fmt.Sprintf("expect_fields: %v", err))
			continue
		}
		got, ok := event.FromMap(doc).Get(p)
		if !ok {
			probs = append(probs, fmt.Sprintf("%s: missing, want %s", path, show(want)))
			continue
		}
		if !Equal(normalizeYAML(want), got) {
			probs = append(probs, fmt.Sprintf("%s: got %s, want %s", path, show(got), show(want)))
		}
	}
	return probs
}

// Diff lists the differences between want and got, one line per field,
// as dotted paths.
func Diff(want, got any) []string {
	var out []string
	diff("", want, got, &out)
	sort.Strings(out)
	return out
}

func diff(path string, want, got any, out *[]string) {
	wm, wok := want.(map[string]any)
	gm, gok := got.(map[string]any)
	if wok && gok {
		for k, wv := range wm {
			gv, ok := gm[k]
			if !ok {
				*out = append(*out, fmt.Sprintf("missing %s (want %s)", join(path, k), show(wv)))
				continue
			}
			diff(join(path, k), wv, gv, out)
		}
		for k, gv := range gm {
			if _, ok := wm[k]; !ok {
				*out = append(*out, fmt.Sprintf("extra %s = %s", join(path, k), show(gv)))
			}
		}
		return
	}
	if !Equal(want, got) {
		*out = append(*out, fmt.Sprintf("%s: got %s, want %s", path, show(got), show(want)))
	}
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

// Equal compares JSON-like values, numbers as numbers.
func Equal(a, b any) bool {
	if fa, ok := number(a); ok {
		fb, ok := number(b)
		return ok && (fa == fb || math.Abs(fa-fb) <= 1e-9*math.Max(math.Abs(fa), math.Abs(fb)))
	}
	switch at := a.(type) {
	case map[string]any:
		bt, ok := b.(map[string]any)
		if !ok || len(at) != len(bt) {
			return false
		}
		for k, v := range at {
			if !Equal(v, bt[k]) {
				return false
			}
		}
		return true
	case []any:
		bt, ok := b.([]any)
		if !ok || len(at) != len(bt) {
			return false
		}
		for i := range at {
			if !Equal(at[i], bt[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

func number(v any) (float64, bool) {
	switch t := v.(type) {
	case int:
		return float64(t), true
	case int64:
		return float64(t), true
	case float64:
		return t, true
	case uint64:
		return float64(t), true
	}
	return 0, false
}

// normalizeYAML turns YAML-decoded values into event value types, and
// expands dotted keys, so an expectation may be written either way.
func normalizeYAML(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = normalizeYAML(x)
		}
		ev := event.FromMap(m)
		_ = ev.Expand()
		return ev.Fields()
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = normalizeYAML(x)
		}
		return out
	case int:
		return int64(t)
	}
	return v
}

func show(v any) string {
	b, err := event.AppendValue(nil, v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}
