// Package rename is the filter that moves fields to new names, the bread
// and butter of mapping Zeek's field names onto ECS.
package rename

import (
	_ "embed"

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/field"
	"github.com/mdrsflow/mdrsflow/sdk"
)

//go:embed sample.yaml
var sample []byte

func init() {
	sdk.Register(sdk.Registration{
		Kind:    sdk.KindFilter,
		Name:    "rename",
		Summary: "move fields to new names (nested objects or keys with dots)",
		New:     func() any { return New() },
		Sample:  sample,
	})
}

// Rename is the rename filter. Its exported fields are its settings; see
// sample.yaml for what each one means.
type Rename struct {
	Fields    field.Moves `yaml:"fields"`
	Overwrite bool        `yaml:"overwrite"`

	moves []field.Move
}

// New returns the filter with its defaults set.
func New() *Rename { return &Rename{Overwrite: true} }

// Validate parses the field references once.
func (r *Rename) Validate() error {
	moves, err := r.Fields.Parse("fields")
	if err != nil {
		return err
	}
	r.moves = moves
	return nil
}

// Apply moves each field that exists, in the order the settings list them.
func (r *Rename) Apply(ev *sdk.Event) error {
	for i := range r.moves {
		if err := field.Transfer(ev, &r.moves[i], r.Overwrite, false); err != nil {
			return err
		}
	}
	return nil
}

var (
	_ sdk.Filter    = (*Rename)(nil)
	_ sdk.Validator = (*Rename)(nil)
)
