package flows_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/mdrsflow/mdrsflow/flows/zeek"
	"github.com/mdrsflow/mdrsflow/runtime/chain"
	"github.com/mdrsflow/mdrsflow/runtime/event"
	"github.com/mdrsflow/mdrsflow/runtime/flow"
	"github.com/mdrsflow/mdrsflow/sdk"

	_ "github.com/mdrsflow/mdrsflow/plugins/filters/all"
)

// The -update flag rewrites the conformance table in flows/zeek/README.md
// and the baseline flows/zeek/conformance.json from this run. Other test
// files of this package may declare -update too; whoever comes first
// registers it and both read it.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files and tables from this run")
	}
}

func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

const (
	zeekConformanceTenant = "conformance"
	zeekBaselineFile      = "zeek/conformance.json"
	zeekReadme            = "zeek/README.md"
	tableBegin            = "<!-- conformance table: written by `go test ./flows -run TestZeekConformance -update` -->"
	tableEnd              = "<!-- end of conformance table -->"
)

// zeekExplained says why a stream's fixture and this flow still differ in
// some fields, for the README table. A difference with no entry shows as
// unexplained. Each entry names a field or a prefix of fields ("tls.").
var zeekExplained = []struct{ stream, field, why string }{
	{"capture_loss", "event.type",
		"fixture recorded at 8.3.0 writes the string \"info\"; the current pipeline (8.17.0) appends, giving [\"info\"]"},
	{"intel", "threat.indicator.",
		"fixture recorded at 1.12.0, before the pipeline filled threat.indicator.* from the seen indicator (8.17.0 does)"},
	{"smb_files", "file.path",
		"fixture recorded at 1.11.0, whose script doubled the backslashes of path; the current pipeline joins path, \\ and name as they are"},
	{"ssl", "tls.server.x509.",
		"fixture recorded at 8.3.0 writes each name part as a string; the current pipeline (8.17.0, as kerberos at 8.9.0) writes one-element arrays, as ECS x509 fields are"},
	{"x509", "file.x509.",
		"fixture recorded at 8.3.0 writes each name part as a string; the current pipeline (8.9.0) writes one-element arrays, as ECS x509 fields are"},
}

// streamScore is one stream's result: documents, exact matches, and how
// many fields were missing, extra or different over all its documents.
type streamScore struct {
	Docs      int `json:"docs"`
	Exact     int `json:"exact"`
	Missing   int `json:"missing"`
	Extra     int `json:"extra"`
	Different int `json:"different"`

	fields map[string]int // "missing x", "extra y", "different z" → count
}

// TestZeekConformance runs every oracle fixture line through flows/zeek.yaml
// and compares each document with the one Elastic's pipeline produced.
//
// It asserts what must hold for every line: the document is indexed (not
// failed, quarantined or dropped: Elastic indexed every fixture line) under
// logs-zeek.<stream>-<tenant>. The field-level match is measured, reported
// per stream, and held to the committed baseline (zeek/conformance.json):
// a stream may get better, never worse. Run with -update after a reviewed
// improvement to move the baseline and the README table.
func TestZeekConformance(t *testing.T) {
	dir, err := zeek.FindOracle("..")
	if errors.Is(err, zeek.ErrNoOracle) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	fixtures, err := zeek.LoadOracle(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := buildZeekChain(t, zeekConformanceTenant)

	scores := map[string]*streamScore{}
	for _, fx := range fixtures {
		s := &streamScore{fields: map[string]int{}}
		scores[fx.Stream] = s
		for i, line := range fx.Lines {
			where := fmt.Sprintf("%s line %d", fx.Stream, i+1)
			s.Docs++
			out, dropped := c.Process([]sdk.Record{{Data: []byte(line), Path: fx.Log, Source: where}})
			if dropped > 0 || len(out) == 0 {
				t.Errorf("%s: dropped; Elastic indexed it", where)
				continue
			}
			rec := out[0]
			if rec.Error != "" || rec.Quarantine != "" {
				t.Errorf("%s: sent to failures/quarantine (%s%s); Elastic indexed it", where, rec.Error, rec.Quarantine)
			}
			want := fmt.Sprintf("logs-zeek.%s-%s", fx.Stream, zeekConformanceTenant)
			if len(rec.Routes) != 1 || rec.Routes[0].Target != want {
				t.Errorf("%s: routes %v, want one to %s", where, rec.Routes, want)
			}
			got, err := event.DecodeObject(rec.Data)
			if err != nil {
				t.Fatalf("%s: output is not JSON: %v", where, err)
			}
			// Set outside Elastic's pipeline: the data stream's constants, and
			// the tenant step's organization.id.
			envelope := map[string]any{"event.dataset": "zeek." + fx.Stream, "event.module": "zeek",
				"organization.id": zeekConformanceTenant}
			d := zeek.Compare(fx.Expected[i], got, envelope)
			if d.Equal() {
				s.Exact++
				continue
			}
			s.Missing += len(d.Missing)
			s.Extra += len(d.Extra)
			s.Different += len(d.Different)
			for _, k := range d.Missing {
				s.fields["missing "+k]++
			}
			for _, k := range d.Extra {
				s.fields["extra "+k]++
			}
			for _, k := range d.Different {
				s.fields["different "+k]++
				t.Logf("%s: %s: %s", where, k, d.Detail[k])
			}
		}
	}

	table := conformanceTable(scores)
	t.Log("\n" + table)
	if updating() {
		writeConformance(t, scores, table)
		return
	}
	checkBaseline(t, scores)
}

// buildZeekChain builds zeek.yaml's chain as a site flow runs it: a static
// tenant step first, and a router with the flow's templates.
func buildZeekChain(t testing.TB, tenant string) *chain.Chain {
	t.Helper()
	fl, err := flow.Load("zeek.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fl.Complete()
	steps, err := chain.StepsFromFlow(fl.Filters)
	if err != nil {
		t.Fatal(err)
	}
	steps = append([]chain.StepSpec{{Name: "tenant", ID: "test-tenant", Where: "test",
		OnError: "fail", Settings: "static: " + tenant + "\n"}}, steps...)
	spec := chain.Spec{Flow: fl.Name, Steps: steps, Router: &chain.RouterSpec{Outputs: []chain.RouteSpec{{
		ID: "test", Target: fl.Routing.Target, Failures: fl.Routing.Failures, Quarantine: fl.Routing.Quarantine}}}}
	c, err := chain.Build(context.Background(), spec, sdk.Env{Flow: fl.Name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func conformanceTable(scores map[string]*streamScore) string {
	var streams []string
	for s := range scores {
		streams = append(streams, s)
	}
	sort.Strings(streams)

	var b strings.Builder
	b.WriteString("| stream | documents | exactly equal | fields missing | fields extra | fields different | fields that differ | why |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	var total streamScore
	for _, name := range streams {
		s := scores[name]
		total.Docs += s.Docs
		total.Exact += s.Exact
		total.Missing += s.Missing
		total.Extra += s.Extra
		total.Different += s.Different
		// Fields under one explained prefix are shown as one entry.
		grouped := map[string]int{}
		for k, n := range s.fields {
			kind, f, _ := strings.Cut(k, " ")
			if p := explainedPrefix(name, f); p != "" {
				f = p + "*"
			}
			grouped[kind+" "+f] += n
		}
		var keys []string
		for k := range grouped {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var fields, whys []string
		seen := map[string]bool{}
		for _, k := range keys {
			kind, f, _ := strings.Cut(k, " ")
			fields = append(fields, fmt.Sprintf("%s `%s` (%d)", kind, f, grouped[k]))
			why := explain(name, strings.TrimSuffix(f, "*"))
			if !seen[why] {
				seen[why] = true
				whys = append(whys, why)
			}
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %s | %s |\n", name, s.Docs, s.Exact,
			s.Missing, s.Extra, s.Different, orDash(strings.Join(fields, "; ")), orDash(strings.Join(whys, "; ")))
	}
	fmt.Fprintf(&b, "| **all** | %d | %d | %d | %d | %d | | |\n", total.Docs, total.Exact,
		total.Missing, total.Extra, total.Different)
	return b.String()
}

func explain(stream, field string) string {
	for _, e := range zeekExplained {
		if e.stream == stream && (field == e.field || strings.HasSuffix(e.field, ".") && strings.HasPrefix(field, e.field)) {
			return e.why
		}
	}
	return "**unexplained**"
}

func explainedPrefix(stream, field string) string {
	for _, e := range zeekExplained {
		if e.stream == stream && strings.HasSuffix(e.field, ".") && strings.HasPrefix(field, e.field) {
			return e.field
		}
	}
	return ""
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func writeConformance(t *testing.T, scores map[string]*streamScore, table string) {
	t.Helper()
	b, err := json.MarshalIndent(scores, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(zeekBaselineFile, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(zeekReadme)
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	i, j := strings.Index(text, tableBegin), strings.Index(text, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("%s has no table markers; put %q and %q where the table goes", zeekReadme, tableBegin, tableEnd)
	}
	text = text[:i+len(tableBegin)] + "\n" + table + text[j:]
	if err := os.WriteFile(zeekReadme, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s and the table in %s", filepath.Clean(zeekBaselineFile), zeekReadme)
}

// checkBaseline fails the test when a stream did worse than the committed
// baseline. A stream whose fixture changed (another document count) or
// that is new is reported, not judged: rerun with -update once reviewed.
func checkBaseline(t *testing.T, scores map[string]*streamScore) {
	t.Helper()
	data, err := os.ReadFile(zeekBaselineFile)
	if err != nil {
		t.Fatalf("read the baseline: %v (create it with -update)", err)
	}
	var base map[string]streamScore
	if err := json.Unmarshal(data, &base); err != nil {
		t.Fatalf("%s: %v", zeekBaselineFile, err)
	}
	for name, s := range scores {
		b, ok := base[name]
		if !ok || b.Docs != s.Docs {
			t.Logf("%s: no baseline for %d documents; rerun with -update once reviewed", name, s.Docs)
			continue
		}
		if s.Exact < b.Exact || s.Missing > b.Missing || s.Extra > b.Extra || s.Different > b.Different {
			t.Errorf("%s got worse: exact %d (baseline %d), missing %d (%d), extra %d (%d), different %d (%d)",
				name, s.Exact, b.Exact, s.Missing, b.Missing, s.Extra, b.Extra, s.Different, b.Different)
		}
		if s.Exact > b.Exact || s.Missing+s.Extra+s.Different < b.Missing+b.Extra+b.Different {
			t.Logf("%s improved on the baseline; rerun with -update to keep it", name)
		}
	}
	for name := range base {
		if _, ok := scores[name]; !ok {
			t.Logf("%s: in the baseline but no fixture found", name)
		}
	}
}
