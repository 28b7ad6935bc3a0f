// Package flow reads flow files: YAML that names a flow's inputs, filters
// and outputs, each a plugin with its settings.
//
//	name: site                    # optional; defaults to the file name
//	routing:                      # target templates, see Routing
//	  target: "{data_stream.type}-{data_stream.dataset}-{tenant}"
//	inputs:
//	  - file: {paths: ["/var/log/zeek/*.log"]}
//	filters:
//	  - tenant: {static: "${MDRSFLOW_TENANT}"}
//	  - use: corelight.yaml       # the filter chain of another flow file
//	  - use: dns.yaml             # … run only for events the condition holds
//	    if: 'meta("mapping") == "dns"' # for, evaluated once for the file
//	  - rename: {fields: {proto: network.transport}}
//	    if: 'proto != nil'        # expr-lang condition, compiled at load
//	    on_error: tag             # fail (default), tag or ignore
//	outputs:
//	  - elasticsearch: {hosts: ["${MDRSFLOW_ES_URL}"]}
//	    when: 'meta("tenant") == "acme"'
//
// Each entry has exactly one key that names a plugin; the other keys of the
// entry (if, on_error, id, when, target, failures, quarantine) belong to
// the engine; `enabled:` (all kinds) is a condition on env("VAR") read
// once at load that can switch an entry off. The entry `external: {path, sha256, settings}` runs a plugin
// executable that is not built in.
//
// `${VAR}` and `${VAR:-default}` are replaced by the environment in setting
// values after the YAML is parsed, so line numbers stay right and a
// variable's value is never read as YAML. Conditions (if, when) and
// settings named expr are not expanded: an expression reads the
// environment with env("VAR"), so the environment can never inject code.
package flow

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/mdrsflow/mdrsflow/runtime/event"
	"github.com/mdrsflow/mdrsflow/runtime/expr"
	"github.com/mdrsflow/mdrsflow/sdk"
)

// Flow is a loaded, validated flow file.
type Flow struct {
	Name    string
	File    string
	Routing Routing
	Inputs  []Plugin
	Filters []Step
	Outputs []Output
}

// Routing holds the target templates. `{name}` in a template is replaced
// by the event's tenant for `{tenant}`, by the metadata value `name` when
// there is one, or else by the event field at that path, such as
// `{data_stream.dataset}`. Values are lower-cased and must be valid
// pieces of an index name, so an event cannot steer a write elsewhere.
type Routing struct {
	// Target is where a normal event goes.
	Target string `yaml:"target"`
	// Failures is where an event goes that a step failed on, with
	// error.message saying why.
	Failures string `yaml:"failures"`
	// Quarantine is where an event goes whose tenant cannot be trusted
	// or determined. Use no tenant-dependent placeholder here.
	Quarantine string `yaml:"quarantine"`
}

// fixedQuarantine refuses a quarantine template with a placeholder: the
// events sent there are those whose tenant or content cannot be trusted,
// so nothing in them may choose the index.
func fixedQuarantine(where, tpl string) error {
	if i := strings.IndexByte(tpl, '{'); i >= 0 {
		return fmt.Errorf("%w: %s: %q takes a value from the event, but quarantined events are those whose "+
			"tenant or content cannot be trusted; use a fixed name such as \"parse_failures-quarantine-default\"",
			ErrInvalid, where, tpl)
	}
	return nil
}

// Defaults used when neither the flow nor a flow it uses sets a template.
const (
	DefaultTarget     = "{data_stream.type}-{data_stream.dataset}-{tenant}"
	DefaultFailures   = "failures-mdrsflow-{tenant}"
	DefaultQuarantine = "quarantine-mdrsflow-default"
)

// Pos is a place in a flow file.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// Plugin is one entry of inputs, filters or outputs.
type Plugin struct {
	Kind sdk.Kind
	// Name is the built-in plugin's name, or "external".
	Name string
	// ID names the instance in logs and metrics: the entry's id, or
	// "<name>#<n>".
	ID string
	// Settings is the plugin's settings mapping, environment expanded.
	Settings *yaml.Node
	// External is set for `external:` entries.
	External *External
	Pos      Pos
}

// External describes a plugin executable that is not built in.
type External struct {
	Path string `yaml:"path"`
	// SHA256, when set, pins the executable: a file with another digest
	// is refused.
	SHA256 string   `yaml:"sha256"`
	Args   []string `yaml:"args"`
	// Settings are passed to the plugin as YAML.
	Settings yaml.Node `yaml:"settings"`
}

// Step is a filter entry.
type Step struct {
	Plugin
	If      string
	OnError string
	// Guard marks the entry a `use:` with `if:` leaves: no plugin, just
	// the condition; when it is false the next Skip steps (the used
	// file's) are passed over for that event.
	Guard bool
	Skip  int
}

// Output is an output entry.
type Output struct {
	Plugin
	When string
	// Routing overrides the flow's templates for this output.
	Routing Routing
}

// SettingsText returns the settings as YAML text, the form they take
// across a process boundary.
func (p Plugin) SettingsText() (string, error) {
	n := p.Settings
	if p.External != nil {
		n = &p.External.Settings
	}
	if n == nil || n.Kind == 0 {
		return "", nil
	}
	b, err := yaml.Marshal(n)
	if err != nil {
		return "", fmt.Errorf("%s: %s: encode settings: %w", p.Pos, p.ID, err)
	}
	return string(b), nil
}

// ErrInvalid is wrapped by every error about a flow file's content.
var ErrInvalid = errors.New("invalid flow")

type loader struct {
	stack []string // files being loaded, for cycle detection
	env   func(string) (string, bool)
}

// Load reads and validates a flow file and every file it uses. Each error
// names the file, the line and the key, and says what was expected.
func Load(path string) (*Flow, error) {
	l := &loader{env: os.LookupEnv}
	return l.load(path)
}

// LoadWithEnv is Load with the environment given as a function, for tests.
func LoadWithEnv(path string, env func(string) (string, bool)) (*Flow, error) {
	l := &loader{env: env}
	return l.load(path)
}

type fileDoc struct {
	name, routing, inputs, filters, outputs *yaml.Node
}

func (l *loader) load(path string) (*Flow, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	for _, s := range l.stack {
		if s == abs {
			return nil, fmt.Errorf("%s: %w: `use:` loops back to this file (%s)",
				path, ErrInvalid, strings.Join(append(l.stack, abs), " -> "))
		}
	}
	l.stack = append(l.stack, abs)
	defer func() { l.stack = l.stack[:len(l.stack)-1] }()

	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read flow: %w", err)
	}
	return l.parse(path, data)
}

// Parse reads a flow from memory; path names it in errors and anchors
// relative `use:` references.
func Parse(path string, data []byte) (*Flow, error) {
	return ParseWithEnv(path, data, os.LookupEnv)
}

// ParseWithEnv is Parse with the environment given as a function.
func ParseWithEnv(path string, data []byte, env func(string) (string, bool)) (*Flow, error) {
	l := &loader{env: env}
	return l.parse(path, data)
}

func (l *loader) parse(path string, data []byte) (*Flow, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", path, ErrInvalid, err)
	}
	if len(root.Content) == 0 {
		return nil, fmt.Errorf("%s: %w: the file is empty; a flow needs inputs, filters or outputs", path, ErrInvalid)
	}
	doc := root.Content[0]
	if doc.Kind != yaml.MappingNode {
		return nil, l.errAt(path, doc, "a flow file is a mapping with inputs, filters and outputs")
	}

	var fd fileDoc
	for i := 0; i+1 < len(doc.Content); i += 2 {
		k, v := doc.Content[i], doc.Content[i+1]
		switch k.Value {
		case "name":
			fd.name = v
		case "routing":
			fd.routing = v
		case "inputs":
			fd.inputs = v
		case "filters":
			fd.filters = v
		case "outputs":
			fd.outputs = v
		case "flow", "cases":
			return nil, l.errAt(path, k, fmt.Sprintf("unknown key %q: this looks like a flow test file "+
				"(flow: and cases:), not a flow; run it with `mdrsflow test %s`", k.Value, path))
		default:
			return nil, l.errAt(path, k, fmt.Sprintf("unknown key %q (expected name, routing, inputs, filters or outputs)", k.Value))
		}
	}

	f := &Flow{File: path, Name: strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))}
	if fd.name != nil {
		f.Name = fd.name.Value
	}
	if fd.routing != nil {
		if err := l.expand(fd.routing); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if err := sdk.DecodeSettings(fd.routing, &f.Routing); err != nil {
			return nil, fmt.Errorf("%s: routing: %w", path, err)
		}
	}
	var used Routing
	if err := l.plugins(path, fd.inputs, sdk.KindInput, 0, 0, func(p Plugin, extra map[string]*yaml.Node) error {
		f.Inputs = append(f.Inputs, p)
		return nil
	}); err != nil {
		return nil, err
	}
	if err := l.filters(path, fd.filters, f, &used); err != nil {
		return nil, err
	}
	if err := l.plugins(path, fd.outputs, sdk.KindOutput, 0, 0, func(p Plugin, extra map[string]*yaml.Node) error {
		o := Output{Plugin: p}
		for k, v := range extra {
			switch k {
			case "when":
				o.When = v.Value
			case "target":
				o.Routing.Target = v.Value
			case "failures":
				o.Routing.Failures = v.Value
			case "quarantine":
				o.Routing.Quarantine = v.Value
			default:
				return l.errAt(path, v, fmt.Sprintf("%s: unknown key %q on an output (expected when, target, failures, quarantine or id)", p.ID, k))
			}
		}
		if o.When != "" {
			if _, err := expr.CompileBool(o.When); err != nil {
				return l.errAt(path, extra["when"], fmt.Sprintf("%s: when: %v", p.ID, err))
			}
		}
		f.Outputs = append(f.Outputs, o)
		return nil
	}); err != nil {
		return nil, err
	}

	f.Routing = mergeRouting(f.Routing, used)
	if err := fixedQuarantine("routing", f.Routing.Quarantine); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, o := range f.Outputs {
		if err := fixedQuarantine(o.ID+": quarantine", o.Routing.Quarantine); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, o.Pos.Line, err)
		}
	}
	return f, nil
}

// Complete fills templates that the flow and the flows it uses left unset
// with the defaults. Only a flow that runs needs this; a flow used by
// another passes its own templates on unset.
func (f *Flow) Complete() {
	f.Routing = mergeRouting(f.Routing, Routing{DefaultTarget, DefaultFailures, DefaultQuarantine})
}

func mergeRouting(r, fallback Routing) Routing {
	if r.Target == "" {
		r.Target = fallback.Target
	}
	if r.Failures == "" {
		r.Failures = fallback.Failures
	}
	if r.Quarantine == "" {
		r.Quarantine = fallback.Quarantine
	}
	return r
}

func (l *loader) filters(path string, list *yaml.Node, f *Flow, used *Routing) error {
	if list == nil {
		return nil
	}
	if list.Kind != yaml.SequenceNode {
		return l.errAt(path, list, "filters is a list of entries, each `- <plugin>: {settings}` or `- use: <file>`")
	}
	for at, entry := range list.Content {
		if use, cond, ok, err := l.useEntry(path, entry); err != nil {
			return err
		} else if ok {
			target := use.Value
			if !filepath.IsAbs(target) {
				target = filepath.Join(filepath.Dir(path), target)
			}
			sub, err := l.load(target)
			if err != nil {
				return fmt.Errorf("%s:%d: use %q: %w", path, entry.Line, use.Value, err)
			}
			if cond != nil {
				// One condition for the whole file, evaluated once per
				// event instead of once per step.
				f.Filters = append(f.Filters, Step{
					Plugin: Plugin{Kind: sdk.KindFilter, Name: "use", ID: "use " + use.Value,
						Pos: Pos{path, entry.Line}},
					If: cond.Value, Guard: true, Skip: len(sub.Filters),
				})
			}
			f.Filters = append(f.Filters, sub.Filters...)
			*used = mergeRouting(*used, sub.Routing)
			continue
		}
		one := &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{entry}}
		// Named as in the flattened chain, which is how runs name it.
		err := l.plugins(path, one, sdk.KindFilter, at, len(f.Filters), func(p Plugin, extra map[string]*yaml.Node) error {
			s := Step{Plugin: p, OnError: "fail"}
			for k, v := range extra {
				switch k {
				case "if":
					s.If = v.Value
					if _, err := expr.CompileBool(s.If); err != nil {
						return l.errAt(path, v, fmt.Sprintf("%s: if: %v", p.ID, err))
					}
				case "id":
					// Applied below.
				case "on_error":
					switch v.Value {
					case "fail", "tag", "ignore":
						s.OnError = v.Value
					default:
						return l.errAt(path, v, fmt.Sprintf("%s: on_error is %q; expected fail, tag or ignore", p.ID, v.Value))
					}
				default:
					return l.errAt(path, v, fmt.Sprintf("%s: unknown key %q on a filter (expected if, on_error or id)", p.ID, k))
				}
			}
			if id, ok := extra["id"]; ok {
				s.ID = id.Value
			}
			f.Filters = append(f.Filters, s)
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// useEntry recognises `- use: file` with an optional `if:`.
func (l *loader) useEntry(path string, entry *yaml.Node) (use, cond *yaml.Node, ok bool, err error) {
	if entry.Kind != yaml.MappingNode {
		return nil, nil, false, nil
	}
	for i := 0; i+1 < len(entry.Content); i += 2 {
		if entry.Content[i].Value == "use" {
			use = entry.Content[i+1]
		}
	}
	if use == nil {
		return nil, nil, false, nil
	}
	for i := 0; i+1 < len(entry.Content); i += 2 {
		k, v := entry.Content[i], entry.Content[i+1]
		switch k.Value {
		case "use":
		case "if":
			if _, err := expr.CompileBool(v.Value); err != nil {
				return nil, nil, false, l.errAt(path, v, fmt.Sprintf("use %s: if: %v", use.Value, err))
			}
			cond = v
		default:
			return nil, nil, false, l.errAt(path, k, fmt.Sprintf(
				"unknown key %q on a use entry (expected use and, optionally, if)", k.Value))
		}
	}
	return use, cond, true, nil
}

// plugins walks a list of plugin entries, validating each against the
// registry, and hands each with its engine keys to add. first is the index
// of the list's first entry in its section, for messages; firstID the
// number, less one, of its default id (<plugin>#<n>).
func (l *loader) plugins(path string, list *yaml.Node, kind sdk.Kind, first, firstID int,
	add func(Plugin, map[string]*yaml.Node) error) error {
	if list == nil {
		return nil
	}
	section := string(kind) + "s"
	if list.Kind != yaml.SequenceNode {
		return l.errAt(path, list, fmt.Sprintf("%s is a list of entries, each `- <plugin>: {settings}`", section))
	}
	ids := map[string]int{} // id -> line, for inputs and outputs
	for i, entry := range list.Content {
		n := first + i
		if entry.Kind != yaml.MappingNode || len(entry.Content) == 0 {
			return l.errAt(path, entry, fmt.Sprintf("%s[%d] must be a mapping like `- <plugin>: {settings}`", section, n))
		}
		var (
			p     = Plugin{Kind: kind, Pos: Pos{path, entry.Line}}
			extra = map[string]*yaml.Node{}
		)
		for i := 0; i+1 < len(entry.Content); i += 2 {
			k, v := entry.Content[i], entry.Content[i+1]
			if isEngineKey(kind, k.Value) {
				extra[k.Value] = v
				continue
			}
			if p.Name != "" {
				return l.errAt(path, k, fmt.Sprintf("%s[%d] names two plugins, %q and %q; put each in its own entry",
					section, n, p.Name, k.Value))
			}
			p.Name = k.Value
			p.Settings = v
		}
		if p.Name == "" {
			return l.errAt(path, entry, fmt.Sprintf("%s[%d] names no plugin", section, n))
		}
		p.ID = fmt.Sprintf("%s#%d", p.Name, firstID+i+1)
		if en, ok := extra["enabled"]; ok {
			delete(extra, "enabled")
			on, err := enabled(en.Value)
			if err != nil {
				return l.errAt(path, en, fmt.Sprintf("%s: enabled: %v", p.ID, err))
			}
			if !on {
				continue
			}
		}
		if id, ok := extra["id"]; ok && kind != sdk.KindFilter {
			p.ID = id.Value
			delete(extra, "id")
		}
		if kind != sdk.KindFilter {
			// Ids name an input's read positions and an output's counts
			// and dead letters; two entries sharing one would mix them.
			if line, dup := ids[p.ID]; dup {
				return l.errAt(path, entry, fmt.Sprintf("%s: the id %q is already used by the entry on line %d; "+
					"give each of the %s its own id", p.Name, p.ID, line, section))
			}
			ids[p.ID] = entry.Line
		}
		if err := l.expand(p.Settings); err != nil {
			return fmt.Errorf("%s: %s: %w", path, p.ID, err)
		}
		if err := l.check(path, &p); err != nil {
			return err
		}
		if err := add(p, extra); err != nil {
			return err
		}
	}
	return nil
}

// enabled evaluates an entry's `enabled:` condition once, at load. It sees
// no event, only env("VAR"), so a flow can switch outputs by environment:
// `enabled: 'env("MDRSFLOW_ES_URL") != ""'`.
func enabled(src string) (bool, error) {
	switch src {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	p, err := expr.CompileBool(src)
	if err != nil {
		return false, err
	}
	return p.EvalBool(event.New())
}

func isEngineKey(kind sdk.Kind, k string) bool {
	if k == "enabled" {
		return true
	}
	switch kind {
	case sdk.KindFilter:
		return k == "if" || k == "on_error" || k == "id"
	case sdk.KindOutput:
		return k == "when" || k == "target" || k == "failures" || k == "quarantine" || k == "id"
	}
	return k == "id"
}

// check builds the plugin from the registry and validates its settings,
// without starting anything.
func (l *loader) check(path string, p *Plugin) error {
	if p.Name == "external" {
		var ext External
		if err := sdk.DecodeSettings(p.Settings, &ext); err != nil {
			return fmt.Errorf("%s: %s: %w", path, p.ID, err)
		}
		if ext.Path == "" {
			return l.errAt(path, p.Settings, fmt.Sprintf("%s: external needs path: the plugin executable", p.ID))
		}
		if !filepath.IsAbs(ext.Path) {
			ext.Path = filepath.Join(filepath.Dir(path), ext.Path)
		}
		p.External = &ext
		return nil
	}
	_, err := Instantiate(*p)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// Instantiate builds a built-in plugin from the registry, decodes its
// settings and validates them. It starts nothing.
func Instantiate(p Plugin) (any, error) {
	reg, ok := sdk.Lookup(p.Kind, p.Name)
	if !ok {
		var names []string
		for _, r := range sdk.Registered(p.Kind) {
			names = append(names, r.Name)
		}
		return nil, fmt.Errorf("line %d: %w: no %s plugin %q (built in: %s; or use `external:`)",
			p.Pos.Line, ErrInvalid, p.Kind, p.Name, strings.Join(names, ", "))
	}
	inst := reg.New()
	if err := sdk.DecodeSettings(p.Settings, inst); err != nil {
		return nil, fmt.Errorf("%s: %w", p.ID, err)
	}
	if v, ok := inst.(sdk.Validator); ok {
		if err := v.Validate(); err != nil {
			return nil, fmt.Errorf("line %d: %s: %w", p.Pos.Line, p.ID, err)
		}
	}
	return inst, nil
}

func (l *loader) errAt(path string, n *yaml.Node, msg string) error {
	if n == nil {
		return fmt.Errorf("%s: %w: %s", path, ErrInvalid, msg)
	}
	return fmt.Errorf("%s:%d: %w: %s", path, n.Line, ErrInvalid, msg)
}
