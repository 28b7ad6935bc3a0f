// Package lowercase is the filter that lower-cases text fields, for values
// that are compared or aggregated regardless of case (protocol names, host
// names, HTTP methods).
package lowercase

import (
	_ "embed"
	"fmt"
	"strings"

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/field"
	"github.com/mdrsflow/mdrsflow/sdk"
)

//go:embed sample.yaml
var sample []byte

func init() {
	sdk.Register(sdk.Registration{
		Kind:    sdk.KindFilter,
		Name:    "lowercase",
		Summary: "lower-case text fields and arrays of text",
		New:     func() any { return New() },
		Sample:  sample,
	})
}

// Lowercase is the lowercase filter. Its exported fields are its settings;
// see sample.yaml for what each one means.
type Lowercase struct {
	Fields field.List `yaml:"fields"`

	paths []sdk.Path
}

// New returns the filter with its defaults set.
func New() *Lowercase { return &Lowercase{} }

// Validate parses the field references once.
func (l *Lowercase) Validate() error {
	if len(l.Fields) == 0 {
		return fmt.Errorf("fields: name at least one field to lower-case, e.g. `fields: [network.transport]`")
	}
	paths, err := field.ParseAll("fields", l.Fields)
	if err != nil {
		return err
	}
	l.paths = paths
	return nil
}

// Apply lower-cases each field that exists. A field that holds neither
// text nor an array of text fails the event, and nothing of it changes.
func (l *Lowercase) Apply(ev *sdk.Event) error {
	for _, p := range l.paths {
		v, ok := ev.Get(p)
		if !ok || v == nil {
			continue
		}
		switch t := v.(type) {
		case string:
			if lc := lower(t); lc != t {
				if err := field.Set(ev, p, lc); err != nil {
					return err
				}
			}
		case []any:
			for i, x := range t {
				if x == nil {
					continue
				}
				if _, ok := x.(string); !ok {
					return fmt.Errorf("cannot lower-case field %s: element %d is %s (%s), not text; "+
						"only text and arrays of text can be lower-cased", p, i, field.Kind(x), field.Quote(x))
				}
			}
			for i, x := range t {
				if s, ok := x.(string); ok {
					t[i] = lower(s)
				}
			}
		default:
			return fmt.Errorf("cannot lower-case field %s: it holds %s (%s), not text; "+
				"only text and arrays of text can be lower-cased", p, field.Kind(v), field.Quote(v))
		}
	}
	return nil
}

// lower is strings.ToLower without the allocation for text that is
// lower-case already, the common case.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 0x80 {
			return strings.ToLower(s)
		}
	}
	return s
}

var (
	_ sdk.Filter    = (*Lowercase)(nil)
	_ sdk.Validator = (*Lowercase)(nil)
)
