// Package append is the filter that adds values to an array field, such as
// ECS categories and types, skipping values the array holds already.
package append

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
		Name:    "append",
		Summary: "add values to an array field, skipping those it holds",
		New:     func() any { return New() },
		Sample:  sample,
	})
}

// Append is the append filter. Its exported fields are its settings; see
// sample.yaml for what each one means.
type Append struct {
	Field  string       `yaml:"field"`
	Values field.Values `yaml:"values"`

	field sdk.Path
}

// New returns the filter with its defaults set.
func New() *Append { return &Append{} }

// Validate parses the reference once.
func (a *Append) Validate() error {
	var err error
	if a.Field == "" {
		return fmt.Errorf("field: name the array to add to, e.g. `field: event.category`")
	}
	if a.field, err = field.Parse("field", a.Field); err != nil {
		return err
	}
	if len(a.Values) == 0 {
		return fmt.Errorf("values: give at least one value to add, e.g. `values: [network]`")
	}
	return nil
}

// Apply adds each value the array does not hold yet, in order. A missing
// or null field becomes an array; a single value becomes its first
// element.
func (a *Append) Apply(ev *sdk.Event) error {
	var out []any
	changed := true
	if v, ok := ev.Get(a.field); ok && v != nil {
		switch t := v.(type) {
		case []any:
			out, changed = t, false
		case map[string]any:
			return fmt.Errorf("cannot append to field %s: it holds an object (%s), not an array; "+
				"choose another field", a.field, field.Quote(v))
		default:
			out = []any{t}
		}
	}
	for _, v := range a.Values {
		if field.Contains(out, v) {
			continue
		}
		if !changed {
			out = append(make([]any, 0, len(out)+len(a.Values)), out...)
			changed = true
		}
		out = append(out, field.Clone(v))
	}
	if !changed {
		return nil
	}
	return field.Set(ev, a.field, out)
}

var (
	_ sdk.Filter    = (*Append)(nil)
	_ sdk.Validator = (*Append)(nil)
)
