// Package user_agent is the filter that reads a User-Agent header into the
// ECS user_agent.* fields, with the ua-parser (uap-core) rules that
// Elasticsearch's user_agent processor also uses.
package user_agent

import (
	"context"
	_ "embed"
	"fmt"
	"strings"
	"sync"

	"github.com/ua-parser/uap-go/uaparser"

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/field"
	"github.com/mdrsflow/mdrsflow/sdk"
)

//go:embed sample.yaml
var sample []byte

func init() {
	sdk.Register(sdk.Registration{
		Kind:    sdk.KindFilter,
		Name:    "user_agent",
		Summary: "read a User-Agent header into user_agent.name, version, os.* and device.name",
		New:     func() any { return New() },
		Sample:  sample,
	})
}

// UserAgent is the user_agent filter. Its exported fields are its
// settings; see sample.yaml for what each one means.
type UserAgent struct {
	Field  string `yaml:"field"`
	Target string `yaml:"target"`

	field  sdk.Path
	out    map[string]sdk.Path
	parser *uaparser.Parser
	cache  map[string]map[string]string
}

// cacheSize bounds the per-step cache of parsed headers; a site sees few
// distinct agents, so most headers are found here.
const cacheSize = 4096

// New returns the filter with its defaults set.
func New() *UserAgent { return &UserAgent{Field: "user_agent.original", Target: "user_agent"} }

var outNames = []string{"name", "version", "os.name", "os.version", "os.full", "device.name"}

// Validate parses the references once.
func (u *UserAgent) Validate() error {
	var err error
	if u.field, err = field.Parse("field", u.Field); err != nil {
		return err
	}
	target, err := field.Parse("target", u.Target)
	if err != nil {
		return err
	}
	u.out = make(map[string]sdk.Path, len(outNames))
	for _, n := range outNames {
		if u.out[n], err = field.Child("target", target, n); err != nil {
			return err
		}
	}
	return nil
}

// The rules compile once per process (about a thousand regular
// expressions), on the first Start.
var (
	parserOnce sync.Once
	parser     *uaparser.Parser
	parserErr  error
)

// Start compiles the rules.
func (u *UserAgent) Start(context.Context, sdk.Env) error {
	parserOnce.Do(func() { parser, parserErr = uaparser.New() })
	if parserErr != nil {
		return fmt.Errorf("load the user agent rules: %w", parserErr)
	}
	u.parser = parser
	u.cache = make(map[string]map[string]string)
	return nil
}

// Apply reads the header. A missing, null or empty field writes nothing.
func (u *UserAgent) Apply(ev *sdk.Event) error {
	v, ok := ev.Get(u.field)
	if !ok || v == nil || v == "" {
		return nil
	}
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("field %s holds %s, not a User-Agent header", u.field, field.Kind(v))
	}
	if u.parser == nil {
		return fmt.Errorf("the user agent rules are not loaded (the filter was not started)")
	}
	parsed, ok := u.cache[s]
	if !ok {
		// Parse a copy: s may share memory with the whole record it came
		// from, and the cache would keep that record alive.
		key := strings.Clone(s)
		parsed = Parse(u.parser, key)
		if len(u.cache) >= cacheSize {
			clear(u.cache)
		}
		u.cache[key] = parsed
	}
	// In a fixed order, so that a write that fails (on_error: tag) leaves
	// the same fields written every time.
	for _, k := range outNames {
		x, ok := parsed[k]
		if !ok {
			continue
		}
		if err := field.Set(ev, u.out[k], x); err != nil {
			return err
		}
	}
	return nil
}

// Parse reads header s into the fields Elasticsearch's user_agent
// processor writes, keyed name, version, os.name, os.version, os.full and
// device.name: a browser or agent that no rule knows is named "Other"
// (with no version), an unknown operating system gives no os.*, an
// unknown device is named "Other".
func Parse(p *uaparser.Parser, s string) map[string]string {
	out := map[string]string{"name": "Other", "device.name": "Other"}
	if name, version := agent(p, s); name != "" && name != "Other" {
		out["name"] = name
		if version != "" {
			out["version"] = version
		}
	}
	if os := p.ParseOs(s); os != nil && os.Family != "" && os.Family != "Other" {
		out["os.name"] = os.Family
		if v := joinVersion(os.Major, os.Minor, os.Patch, os.PatchMinor); v != "" {
			out["os.version"] = v
			out["os.full"] = os.Family + " " + v
		}
	}
	if d := p.ParseDevice(s); d != nil && d.Family != "" && d.Family != "Other" {
		out["device.name"] = d.Family
	}
	return out
}

// agent finds the first agent rule that matches, as uap-go does, but
// keeps the fourth version part (patch_minor, "$5") that uap-go drops and
// Elasticsearch writes: Chrome/120.0.6099.109 is version 120.0.6099.109.
func agent(p *uaparser.Parser, s string) (name, version string) {
	for _, r := range p.UA {
		m := r.Reg.FindStringSubmatchIndex(s)
		if m == nil {
			continue
		}
		expand := func(tmpl string) string {
			return strings.TrimSpace(string(r.Reg.ExpandString(nil, tmpl, s, m)))
		}
		build := ""
		if r.Reg.NumSubexp() >= 5 {
			build = expand("$5")
		}
		return expand(r.FamilyReplacement),
			joinVersion(expand(r.V1Replacement), expand(r.V2Replacement), expand(r.V3Replacement), build)
	}
	return "", ""
}

// joinVersion joins the leading parts that are set: 10, 10.2, 10.2.1.
func joinVersion(parts ...string) string {
	var b strings.Builder
	for i, p := range parts {
		if p == "" {
			break
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

var (
	_ sdk.Filter    = (*UserAgent)(nil)
	_ sdk.Validator = (*UserAgent)(nil)
	_ sdk.Starter   = (*UserAgent)(nil)
)
