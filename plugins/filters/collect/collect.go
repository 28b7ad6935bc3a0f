// Package collect is the filter that gathers the values of several fields
// into one array without duplicates, as ECS's related.ip, related.hosts and
// related.user want them.
package collect

import (
	_ "embed"
	"fmt"

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/field"
	"github.com/mdrsflow/mdrsflow/sdk"
)

//go:embed sample.yaml
var sample []byte

func init() {
	sdk.Register(sdk.Registration{
		Kind:    sdk.KindFilter,
		Name:    "collect",
		Summary: "gather the values of several fields into one array without duplicates (related.ip)",
		New:     func() any { return New() },
		Sample:  sample,
	})
}

// Collect is the collect filter. Its exported fields are its settings; see
// sample.yaml for what each one means.
type Collect struct {
	Fields field.List `yaml:"fields"`
	Target string     `yaml:"target"`

	paths  []sdk.Path
	target sdk.Path
}

// New returns the filter with its defaults set.
func New() *Collect { return &Collect{} }

// Validate parses the references once.
func (c *Collect) Validate() error {
	if len(c.Fields) == 0 {
		return fmt.Errorf("fields: name the fields to collect, e.g. `fields: [source.ip, destination.ip]`")
	}
	paths, err := field.ParseAll("fields", c.Fields)
	if err != nil {
		return err
	}
	c.paths = paths
	if c.Target == "" {
		return fmt.Errorf("target: name the array to collect into, e.g. `target: related.ip`")
	}
	c.target, err = field.Parse("target", c.Target)
	return err
}

// Apply appends to the target array every value found in the fields that
// it does not hold yet, in the order found. Arrays are flattened; null
// and empty text are skipped. When nothing is new, the target is left as
// it is.
func (c *Collect) Apply(ev *sdk.Event) error {
	var base []any
	if v, ok := ev.Get(c.target); ok && v != nil {
		switch t := v.(type) {
		case []any:
			base = t
		case map[string]any:
			return fmt.Errorf("cannot collect into field %s: it holds an object (%s), and collect writes an array; "+
				"choose another target", c.target, field.Quote(v))
		default:
			base = []any{t}
		}
	}

	out := base
	added := false
	var add func(v any)
	add = func(v any) {
		switch t := v.(type) {
		case nil:
		case string:
			if t != "" && !field.Contains(out, t) {
				out, added = appendCopy(out, base, t), true
			}
		case []any:
			for _, x := range t {
				add(x)
			}
		default:
			if !field.Contains(out, t) {
				out, added = appendCopy(out, base, field.Clone(t)), true
			}
		}
	}
	for _, p := range c.paths {
		if v, ok := ev.Get(p); ok {
			add(v)
		}
	}
	if !added {
		return nil
	}
	return field.Set(ev, c.target, out)
}

// appendCopy appends v to out, copying out first while it is still the
// target's own array, which must not change if the write fails.
func appendCopy(out, base []any, v any) []any {
	if len(out) == len(base) && (len(base) == 0 || &out[0] == &base[0]) {
		out = append(make([]any, 0, len(base)+4), base...)
	}
	return append(out, v)
}

var (
	_ sdk.Filter    = (*Collect)(nil)
	_ sdk.Validator = (*Collect)(nil)
)
