package templates_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mdrsflow/mdrsflow/flows/templates"
	"github.com/mdrsflow/mdrsflow/runtime/chain"
	"github.com/mdrsflow/mdrsflow/runtime/event"
	"github.com/mdrsflow/mdrsflow/runtime/flow"
	"github.com/mdrsflow/mdrsflow/runtime/flowtest"
	"github.com/mdrsflow/mdrsflow/runtime/zeeklog"
	"github.com/mdrsflow/mdrsflow/sdk"

	_ "github.com/mdrsflow/mdrsflow/plugins/all"
)

// doc is a document with the target it is written to and where it came
// from, for messages.
type doc struct {
	target string
	from   string
	fields map[string]any
}

// TestTemplatesCoverDocuments checks the shipped layouts' documents against
// the templates: the expected documents of flows/corelight_test.yaml and
// flows/zeek_test.yaml, and what the quickstart (Corelight layout) and the
// Zeek layout make of the sample logs in testdata/zeek/json, as
// `mdrsflow pipe` would. For every document whose target an index
// template covers, every leaf field must have a mapping (a named one, or a
// dynamic template) that takes its value; a field ECS defines must be
// named explicitly with its ECS type; a text field whose values are all
// timestamps must not fall to the keyword catch-all, nor a field with both
// whole and fractional numbers to the long one; and no field may be a
// value in one document and an object in another of the same target.
func TestTemplatesCoverDocuments(t *testing.T) {
	idx := compose(t)
	ecs := loadECS(t)

	var docs []doc
	docs = append(docs, expected(t, "../corelight_test.yaml")...)
	docs = append(docs, expected(t, "../zeek_test.yaml")...)
	logs, _ := filepath.Glob("../../testdata/zeek/json/*.log")
	if len(logs) == 0 {
		t.Fatal("no sample logs in testdata/zeek/json")
	}
	docs = append(docs, piped(t, "../quickstart.yaml", logs)...)
	docs = append(docs, piped(t, zeekSiteFlow(t), logs)...)

	type fieldKey struct{ target, path string }
	seen := map[fieldKey]*observed{}
	covered, skipped := 0, map[string]int{}
	for _, d := range docs {
		m := idx.forTarget(d.target)
		if m == nil {
			skipped[d.target]++
			continue
		}
		covered++
		walkLeaves("", d.fields, func(p string, v any) {
			k := fieldKey{d.target, p}
			o := seen[k]
			if o == nil {
				o = &observed{from: d.from, m: m}
				seen[k] = o
			}
			o.add(v)
		})
	}
	if covered < 5000 {
		t.Errorf("only %d documents were checked", covered)
	}
	t.Logf("checked %d documents in %d target fields; skipped targets no template covers: %v",
		covered, len(seen), skipped)

	keys := make([]fieldKey, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].path != keys[j].path {
			return keys[i].path < keys[j].path
		}
		return keys[i].target < keys[j].target
	})
	reported := map[string]bool{} // one problem per field path, not per target
	for _, k := range keys {
		o := seen[k]
		for _, p := range o.problems(k.path, ecs) {
			if !reported[k.path+p] {
				reported[k.path+p] = true
				t.Errorf("%s (%s, from %s): %s", k.path, k.target, o.from, p)
			}
		}
	}

	// No path is a value in one document and an object in another.
	for _, k := range keys {
		for p := parent(k.path); p != ""; p = parent(p) {
			if o := seen[fieldKey{k.target, p}]; o != nil && !reported["conflict"+p] {
				reported["conflict"+p] = true
				t.Errorf("%s is a value (from %s) and an object holding %s in target %s",
					p, o.from, k.path, k.target)
			}
		}
	}
}

// The fields of the brief, spelled out.
func TestTemplatesNameKeyFields(t *testing.T) {
	idx := compose(t)
	for _, target := range []string{"logs-zeek.connection-acme", "logs-corelight.conn-acme"} {
		m := idx.forTarget(target)
		if m == nil {
			t.Fatalf("no template covers %s", target)
		}
		for p, want := range map[string]string{
			"@timestamp": "date", "source.ip": "ip", "destination.ip": "ip",
			"source.port": "long", "event.duration": "long", "url.original": "wildcard",
			"error.message": "match_only_text", "event.dataset": "keyword",
			"data_stream.namespace": "constant_keyword", "network.community_id": "keyword",
			"related.ip": "ip",
		} {
			if got, explicit := m.named(p); got != want || !explicit {
				t.Errorf("%s: %s is %q (named: %v), want %s", target, p, got, explicit, want)
			}
		}
	}
}

// ---------------------------------------------------------------------------
// Documents.

// expected returns the expected documents (or the expected fields, for a
// case that lists only some) of a flow test file's cases that end at a
// normal target.
func expected(t *testing.T, file string) []doc {
	t.Helper()
	tf, err := flowtest.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []doc
	for _, c := range tf.Cases {
		want := c.Expect
		if want == nil {
			want = c.ExpectFields // a part of the document, typed all the same
		}
		if want == nil || c.Error != "" || c.Quarantine != "" || c.Dropped {
			continue
		}
		ev := event.FromMap(normalize(want).(map[string]any))
		if err := ev.Expand(); err != nil {
			t.Fatalf("%s:%d: %v", file, c.Line, err)
		}
		target := c.Target
		if target == "" {
			target = targetOf(ev.Fields())
		}
		out = append(out, doc{target: target, from: fmt.Sprintf("%s:%d", file, c.Line),
			fields: ev.Fields()})
	}
	if len(out) < 3 {
		t.Fatalf("%s: only %d expected documents", file, len(out))
	}
	return out
}

// normalize turns YAML-decoded ints into the int64 the event model uses.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, y := range x {
			x[k] = normalize(y)
		}
	case []any:
		for i, y := range x {
			x[i] = normalize(y)
		}
	case int:
		return int64(x)
	}
	return v
}

func targetOf(f map[string]any) string {
	ds, _ := f["data_stream"].(map[string]any)
	if ds == nil {
		return ""
	}
	return fmt.Sprintf("%v-%v-%v", ds["type"], ds["dataset"], ds["namespace"])
}

// zeekSiteFlow writes a site flow that runs the Zeek layout for tenant
// acme, as flows/zeek.yaml says to use it.
func zeekSiteFlow(t *testing.T) string {
	t.Helper()
	abs, err := filepath.Abs("../zeek.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "site.yaml")
	text := fmt.Sprintf("name: site\nfilters:\n  - tenant: {static: acme}\n  - use: %q\n", abs)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// piped runs a flow's filter chain over Zeek logs as `mdrsflow pipe` does
// and returns the documents with their targets.
func piped(t *testing.T, flowFile string, logs []string) []doc {
	t.Helper()
	fl, err := flow.Load(flowFile)
	if err != nil {
		t.Fatal(err)
	}
	fl.Complete()
	spec, err := chain.SpecFromFlow(fl)
	if err != nil {
		t.Fatal(err)
	}
	spec.Router.Outputs = []chain.RouteSpec{{ID: "es", Target: fl.Routing.Target,
		Failures: fl.Routing.Failures, Quarantine: fl.Routing.Quarantine}}
	c, err := chain.Build(context.Background(), spec,
		sdk.Env{Logger: slog.New(slog.DiscardHandler), Flow: fl.Name, ID: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	var out []doc
	for _, name := range logs {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		zr := zeeklog.NewReader(bufio.NewReader(f), name)
		var recs []sdk.Record
		for {
			rec, err := zr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, sdk.Record{Data: rec.Data, Path: rec.Path, Error: rec.Err,
				Source: fmt.Sprintf("%s:%d", filepath.Base(name), rec.Line)})
		}
		f.Close()
		kept, _ := c.Process(recs)
		for _, r := range kept {
			m, err := event.DecodeObject(r.Data)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, doc{target: r.Routes[0].Target,
				from: filepath.Base(flowFile) + " over " + r.Source, fields: m})
		}
	}
	return out
}

func walkLeaves(prefix string, v any, fn func(string, any)) {
	switch x := v.(type) {
	case map[string]any:
		for k, y := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			walkLeaves(p, y, fn)
		}
	case []any:
		for _, y := range x {
			walkLeaves(prefix, y, fn)
		}
	default:
		fn(prefix, v)
	}
}

func parent(p string) string {
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return ""
}

// ---------------------------------------------------------------------------
// Values and mappings.

// observed gathers one field's values in one target.
type observed struct {
	from   string
	m      *mapping
	kinds  map[string]bool // string, long, double, boolean
	values map[string]bool // distinct strings, capped
}

func (o *observed) add(v any) {
	if o.kinds == nil {
		o.kinds, o.values = map[string]bool{}, map[string]bool{}
	}
	k := jsonKind(v)
	o.kinds[k] = true
	if s, ok := v.(string); ok && len(o.values) < 200 {
		o.values[s] = true
	}
}

func jsonKind(v any) string {
	switch x := v.(type) {
	case string:
		return "string"
	case bool:
		return "boolean"
	case int64, int:
		return "long"
	case float64:
		if x == float64(int64(x)) {
			return "long" // 60.0 is written as 60 and maps as long
		}
		return "double"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// problems says what is wrong with the field at p.
func (o *observed) problems(p string, ecs map[string]string) []string {
	var out []string
	typ, explicit, via, err := o.m.resolve(p, o.kinds)
	if err != "" {
		return []string{err}
	}
	out = append(out, o.valuesFor(typ)...)
	if want, isECS := ecs[p]; isECS && (!explicit || typ != want) {
		out = append(out, fmt.Sprintf("ECS types it %s; the templates give %s (%s)", want, typ, via))
	}
	if !explicit && o.kinds["long"] && o.kinds["double"] && typ != "double" {
		out = append(out, fmt.Sprintf("holds whole and fractional numbers but maps as %s "+
			"through %s; name it as double", typ, via))
	}
	if !explicit && typ == "keyword" && via == "strings_as_keyword" && allTimes(o.values) {
		out = append(out, "every value is a timestamp but it maps as keyword through the "+
			"catch-all; name it as date")
	}
	return out
}

// valuesFor checks the values seen against the resolved type.
func (o *observed) valuesFor(typ string) []string {
	var out []string
	for k := range o.kinds {
		if k == "null" {
			continue
		}
		if !accepts(typ, k) {
			out = append(out, fmt.Sprintf("maps as %s, which refuses %s values", typ, k))
		}
	}
	for s := range o.values {
		if !acceptsString(typ, s) && !malformedOnPurpose[s] {
			out = append(out, fmt.Sprintf("maps as %s, which refuses the value %q", typ, s))
			break
		}
	}
	return out
}

// malformedOnPurpose are values that test cases feed in to show that the
// flow keeps a record whose field cannot be read (corelight_test.yaml's
// "unreadable _write_ts"). mdrsflow@settings sets ignore_malformed, so the
// cluster stores such a document and lists the field under _ignored.
var malformedOnPurpose = map[string]bool{"not a time": true}

func accepts(typ, kind string) bool {
	switch typ {
	case "keyword", "constant_keyword", "wildcard", "match_only_text", "text":
		return true
	case "ip":
		return kind == "string"
	case "long", "integer", "short", "byte", "unsigned_long", "double", "float",
		"half_float", "scaled_float":
		return kind == "long" || kind == "double"
	case "date":
		return kind == "string" || kind == "long"
	case "boolean":
		return kind == "boolean" || kind == "string"
	}
	return false
}

func acceptsString(typ, s string) bool {
	switch typ {
	case "ip":
		_, err := netip.ParseAddr(s)
		return err == nil
	case "date":
		return isTime(s)
	case "boolean":
		return s == "true" || s == "false" || s == ""
	}
	return true
}

func isTime(s string) bool {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999",
		"2006-01-02"} {
		if _, err := time.Parse(layout, s); err == nil {
			return true
		}
	}
	return false
}

func allTimes(values map[string]bool) bool {
	if len(values) == 0 {
		return false
	}
	for s := range values {
		if !isTime(s) {
			return false
		}
	}
	return true
}

// ---------------------------------------------------------------------------
// Templates, composed as Elasticsearch composes them.

// mapping is an index template's effective mappings.
type mapping struct {
	name       string
	patterns   []string
	properties map[string]any
	dynamic    []dynTemplate
}

type dynTemplate struct {
	name                   string
	matchType              string
	match, unmatch         []string
	pathMatch, pathUnmatch []string
	typ                    string
}

type index []*mapping

// compose builds the effective mappings of every index template from its
// component templates, in composed_of order: properties merge deeply,
// dynamic templates by name (a new name is appended, a known one replaced
// in place), as Elasticsearch does.
func compose(t *testing.T) index {
	t.Helper()
	comps := map[string]map[string]any{}
	var out index
	for _, tpl := range templates.All() {
		var body map[string]any
		if err := json.Unmarshal(tpl.Body, &body); err != nil {
			t.Fatalf("%s %s: %v", tpl.Kind, tpl.Name, err)
		}
		if tpl.Kind == templates.Component {
			comps[tpl.Name] = body
			continue
		}
		m := &mapping{name: tpl.Name, properties: map[string]any{}}
		for _, p := range body["index_patterns"].([]any) {
			m.patterns = append(m.patterns, p.(string))
		}
		if _, ok := body["data_stream"]; !ok {
			t.Errorf("index template %s does not make data streams", tpl.Name)
		}
		ignore := map[string]bool{}
		for _, c := range asList(body["ignore_missing_component_templates"]) {
			ignore[c] = true
		}
		parts := []map[string]any{}
		for _, c := range asList(body["composed_of"]) {
			cb, ok := comps[c]
			if !ok {
				if !ignore[c] {
					t.Errorf("index template %s names component %s, which is not shipped "+
						"and not in ignore_missing_component_templates", tpl.Name, c)
				}
				continue
			}
			parts = append(parts, cb)
		}
		parts = append(parts, body)
		for _, p := range parts {
			tp, _ := p["template"].(map[string]any)
			mp, _ := tp["mappings"].(map[string]any)
			if mp == nil {
				continue
			}
			if props, ok := mp["properties"].(map[string]any); ok {
				mergeProps(t, m.properties, props, "")
			}
			for _, d := range asAnyList(mp["dynamic_templates"]) {
				m.addDynamic(t, d.(map[string]any))
			}
			if dd, ok := mp["date_detection"]; ok && dd != false {
				t.Errorf("%s: date_detection must be off, or a text field whose first value "+
					"looks like a date would refuse every later value that does not", tpl.Name)
			}
		}
		out = append(out, m)
	}
	if len(out) < 3 {
		t.Fatalf("%d index templates", len(out))
	}
	return out
}

func asList(v any) []string {
	var out []string
	for _, x := range asAnyList(v) {
		out = append(out, x.(string))
	}
	return out
}

func asAnyList(v any) []any {
	switch x := v.(type) {
	case []any:
		return x
	case string:
		return []any{x}
	}
	return nil
}

func mergeProps(t *testing.T, dst, src map[string]any, prefix string) {
	for k, v := range src {
		sv := v.(map[string]any)
		dv, ok := dst[k].(map[string]any)
		if !ok {
			dst[k] = sv
			continue
		}
		sp, sObj := sv["properties"].(map[string]any)
		dp, dObj := dv["properties"].(map[string]any)
		switch {
		case sObj && dObj:
			mergeProps(t, dp, sp, prefix+k+".")
		case sObj != dObj:
			t.Errorf("%s%s is an object in one component and a value in another", prefix, k)
		default:
			dst[k] = sv // a later component's definition wins
		}
	}
}

func (m *mapping) addDynamic(t *testing.T, d map[string]any) {
	for name, v := range d {
		spec := v.(map[string]any)
		dt := dynTemplate{name: name}
		dt.matchType, _ = spec["match_mapping_type"].(string)
		dt.match = asList(spec["match"])
		dt.unmatch = asList(spec["unmatch"])
		dt.pathMatch = asList(spec["path_match"])
		dt.pathUnmatch = asList(spec["path_unmatch"])
		if mp, ok := spec["mapping"].(map[string]any); ok {
			dt.typ, _ = mp["type"].(string)
		}
		if dt.typ == "" {
			t.Errorf("%s: dynamic template %s has no mapping type", m.name, name)
		}
		for i, old := range m.dynamic {
			if old.name == name {
				m.dynamic[i] = dt
				return
			}
		}
		m.dynamic = append(m.dynamic, dt)
	}
}

// forTarget returns the mapping of the index template that covers target,
// nil when none does.
func (ix index) forTarget(target string) *mapping {
	for _, m := range ix {
		for _, p := range m.patterns {
			if ok, _ := path.Match(p, target); ok {
				return m
			}
		}
	}
	return nil
}

// named returns the type the properties give p, and whether they name it.
func (m *mapping) named(p string) (string, bool) {
	node := m.properties
	segs := strings.Split(p, ".")
	for i, s := range segs {
		v, ok := node[s].(map[string]any)
		if !ok {
			return "", false
		}
		if i == len(segs)-1 {
			typ, _ := v["type"].(string)
			return typ, typ != ""
		}
		props, ok := v["properties"].(map[string]any)
		if !ok {
			return "", false
		}
		node = props
	}
	return "", false
}

// resolve returns the type of the field at p whose values are of kinds:
// the named one, or the first dynamic template that matches.
func (m *mapping) resolve(p string, kinds map[string]bool) (typ string, explicit bool,
	via, problem string) {
	node := m.properties
	segs := strings.Split(p, ".")
	for i, s := range segs {
		v, ok := node[s].(map[string]any)
		if !ok {
			break
		}
		props, isObj := v["properties"].(map[string]any)
		if i == len(segs)-1 {
			if isObj {
				return "", false, "", "a value where the templates name an object"
			}
			typ, _ := v["type"].(string)
			return typ, true, "named", ""
		}
		if !isObj {
			return "", false, "", fmt.Sprintf("an object under %s, which the templates "+
				"name as %v", strings.Join(segs[:i+1], "."), v["type"])
		}
		node = props
	}
	kind := ""
	for _, k := range []string{"string", "double", "long", "boolean"} {
		if kinds[k] {
			kind = k // the most general kind seen decides the first mapping
		}
	}
	if kinds["string"] {
		kind = "string"
	}
	for _, d := range m.dynamic {
		if d.matches(p, kind) {
			return d.typ, false, d.name, ""
		}
	}
	return "", false, "", "no mapping: no named field and no dynamic template matches"
}

func (d dynTemplate) matches(p, kind string) bool {
	if d.matchType != "" && d.matchType != "*" && d.matchType != kind {
		return false
	}
	last := p[strings.LastIndexByte(p, '.')+1:]
	if len(d.match) > 0 && !anyGlob(d.match, last) {
		return false
	}
	if anyGlob(d.unmatch, last) {
		return false
	}
	if len(d.pathMatch) > 0 && !anyGlob(d.pathMatch, p) {
		return false
	}
	return !anyGlob(d.pathUnmatch, p)
}

// anyGlob matches Elasticsearch's simple patterns, where * spans dots.
func anyGlob(patterns []string, s string) bool {
	for _, p := range patterns {
		if simpleMatch(p, s) {
			return true
		}
	}
	return false
}

func simpleMatch(p, s string) bool {
	parts := strings.Split(p, "*")
	if len(parts) == 1 {
		return p == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for i := 1; i < len(parts)-1; i++ {
		j := strings.Index(s, parts[i])
		if j < 0 {
			return false
		}
		s = s[j+len(parts[i]):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

func loadECS(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("testdata/ecs_fields.txt")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		out[f[0]] = f[1]
	}
	return out
}
