// Package set is the filter that writes fields: constants given in the
// flow, and values computed per event by expressions.
package set

import (
	_ "embed"
	"fmt"

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/field"
	"github.com/mdrsflow/mdrsflow/runtime/expr"
	"github.com/mdrsflow/mdrsflow/sdk"
)

//go:embed sample.yaml
var sample []byte

func init() {
	sdk.Register(sdk.Registration{
		Kind:    sdk.KindFilter,
		Name:    "set",
		Summary: "write constant or computed (expr-lang) values to fields",
		New:     func() any { return New() },
		Sample:  sample,
	})
}

// Set is the set filter. Its exported fields are its settings; see
// sample.yaml for what each one means.
type Set struct {
	Fields    field.Mapping `yaml:"fields"`
	Expr      field.Mapping `yaml:"expr"`
	IfMissing bool          `yaml:"if_missing"`

	consts []constant
	exprs  []computed
}

type constant struct {
	path  sdk.Path
	value any
}

type computed struct {
	path sdk.Path
	prog *expr.Program
}

// New returns the filter with its defaults set.
func New() *Set { return &Set{} }

// Validate parses the references, converts the constants and compiles the
// expressions, once.
func (s *Set) Validate() error {
	if len(s.Fields) == 0 && len(s.Expr) == 0 {
		return fmt.Errorf("set needs fields (constants) or expr (expressions), " +
			"e.g. `fields: {event.kind: event}`")
	}

	s.consts = s.consts[:0]
	for _, e := range s.Fields {
		where := fmt.Sprintf("fields (line %d)", e.Line)
		p, err := field.Parse(where, e.Key)
		if err != nil {
			return err
		}
		v, err := field.Value(e.Value)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", where, e.Key, err)
		}
		s.consts = append(s.consts, constant{path: p, value: v})
	}

	s.exprs = s.exprs[:0]
	for _, e := range s.Expr {
		where := fmt.Sprintf("expr (line %d)", e.Line)
		p, err := field.Parse(where, e.Key)
		if err != nil {
			return err
		}
		src, ok := e.String()
		if !ok || src == "" {
			return fmt.Errorf("%s: %s: expected an expression, e.g. 'lower(proto)'", where, e.Key)
		}
		prog, err := expr.Compile(src)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", where, e.Key, err)
		}
		s.exprs = append(s.exprs, computed{path: p, prog: prog})
	}
	return nil
}

// Apply writes the constants, then the expressions' results, in the order
// the settings list them; an expression sees what the entries before it
// wrote.
func (s *Set) Apply(ev *sdk.Event) error {
	for _, c := range s.consts {
		if s.IfMissing && ev.Has(c.path) {
			continue
		}
		if err := field.Set(ev, c.path, field.Clone(c.value)); err != nil {
			return err
		}
	}
	for _, c := range s.exprs {
		if s.IfMissing && ev.Has(c.path) {
			continue
		}
		v, err := c.prog.Eval(ev)
		if err != nil {
			return fmt.Errorf("cannot compute field %s: %w", c.path, err)
		}
		if v == nil {
			continue
		}
		// A result may be an object or array of the event itself; copy
		// it so the two places never share one value.
		v, err = field.Normalize(field.Clone(v))
		if err != nil {
			return fmt.Errorf("cannot compute field %s: expression %q: %w", c.path, c.prog, err)
		}
		if err := field.Set(ev, c.path, v); err != nil {
			return err
		}
	}
	return nil
}

var (
	_ sdk.Filter    = (*Set)(nil)
	_ sdk.Validator = (*Set)(nil)
)
