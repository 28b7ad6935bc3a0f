// Package copy is the filter that copies fields to new names and keeps the
// originals, for when both the sensor's field and its ECS name should stay.
package copy

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
		Name:    "copy",
		Summary: "copy fields to new names, keeping the originals",
		New:     func() any { return New() },
		Sample:  sample,
	})
}

// Copy is the copy filter. Its exported fields are its settings; see
// sample.yaml for what each one means.
type Copy struct {
	Fields    field.Moves `yaml:"fields"`
	Overwrite bool        `yaml:"overwrite"`

	moves []field.Move
}

// New returns the filter with its defaults set.
func New() *Copy { return &Copy{Overwrite: true} }

// Validate parses the field references once.
func (c *Copy) Validate() error {
	moves, err := c.Fields.Parse("fields")
	if err != nil {
		return err
	}
	c.moves = moves
	return nil
}

// Apply copies each field that exists, in the order the settings list
// them. The copy is deep: changing it later never changes the original.
func (c *Copy) Apply(ev *sdk.Event) error {
	for i := range c.moves {
		if err := field.Transfer(ev, &c.moves[i], c.Overwrite, true); err != nil {
			return err
		}
	}
	return nil
}

var (
	_ sdk.Filter    = (*Copy)(nil)
	_ sdk.Validator = (*Copy)(nil)
)
