// Package lookup is the filter that maps a field's value through a table,
// given in the flow or in a YAML or JSON file: protocol numbers to names,
// sensor names to sites, service codes to descriptions.
package lookup

import (
	"context"
	_ "embed"
	"fmt"
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/field"
	"github.com/mdrsflow/mdrsflow/sdk"
)

//go:embed sample.yaml
var sample []byte

func init() {
	sdk.Register(sdk.Registration{
		Kind:    sdk.KindFilter,
		Name:    "lookup",
		Summary: "map a field's value through a table (inline or from a YAML/JSON file)",
		New:     func() any { return New() },
		Sample:  sample,
	})
}

// Lookup is the lookup filter. Its exported fields are its settings; see
// sample.yaml for what each one means.
type Lookup struct {
	Field   string         `yaml:"field"`
	Target  string         `yaml:"target"`
	Table   field.Entries  `yaml:"table"`
	File    string         `yaml:"file"`
	Default field.Optional `yaml:"default"`

	field, target sdk.Path
	table         map[string]any
}

// New returns the filter with its defaults set.
func New() *Lookup { return &Lookup{} }

// Validate parses the references and checks that there is a table.
func (l *Lookup) Validate() error {
	var err error
	if l.Field == "" {
		return fmt.Errorf("field: name the field whose value is looked up, e.g. `field: network.iana_number`")
	}
	if l.field, err = field.Parse("field", l.Field); err != nil {
		return err
	}
	l.target = l.field
	if l.Target != "" {
		if l.target, err = field.Parse("target", l.Target); err != nil {
			return err
		}
	}
	if l.Table == nil && l.File == "" {
		return fmt.Errorf("give the table inline (table: {key: value}) or in a YAML or JSON file (file: path)")
	}
	l.table = l.Table
	return nil
}

// Start loads the file, if one is set. Entries of the inline table win
// over the file's.
func (l *Lookup) Start(_ context.Context, _ sdk.Env) error {
	if l.File == "" {
		return nil
	}
	data, err := os.ReadFile(l.File)
	if err != nil {
		return fmt.Errorf("read the lookup table: %w", err)
	}
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		return fmt.Errorf("lookup table %s: %w", l.File, err)
	}
	if len(n.Content) == 0 {
		return fmt.Errorf("lookup table %s is empty; it must be a mapping of key: value", l.File)
	}
	t, err := field.Table(&n)
	if err != nil {
		return fmt.Errorf("lookup table %s: %w", l.File, err)
	}
	for k, v := range l.Table {
		t[k] = v
	}
	l.table = t
	return nil
}

// Apply looks the field's value up and writes what it maps to, or the
// default, to the target. A missing or null field is skipped.
func (l *Lookup) Apply(ev *sdk.Event) error {
	v, ok := ev.Get(l.field)
	if !ok || v == nil {
		return nil
	}
	key, ok := field.Key(v)
	if !ok {
		return fmt.Errorf("cannot look up field %s: it holds %s (%s); only text, numbers and booleans "+
			"can be looked up", l.field, field.Kind(v), field.Quote(v))
	}
	out, found := l.table[key]
	if !found {
		if !l.Default.Set {
			return nil
		}
		out = l.Default.Value
	}
	return field.Set(ev, l.target, field.Clone(out))
}

var (
	_ sdk.Filter    = (*Lookup)(nil)
	_ sdk.Validator = (*Lookup)(nil)
	_ sdk.Starter   = (*Lookup)(nil)
)
