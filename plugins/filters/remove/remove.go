// Package remove is the filter that deletes fields.
package remove

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
		Name:    "remove",
		Summary: "delete fields",
		New:     func() any { return New() },
		Sample:  sample,
	})
}

// Remove is the remove filter. Its exported fields are its settings; see
// sample.yaml for what each one means.
type Remove struct {
	Fields field.List `yaml:"fields"`

	paths []sdk.Path
}

// New returns the filter with its defaults set.
func New() *Remove { return &Remove{} }

// Validate parses the field references once.
func (r *Remove) Validate() error {
	if len(r.Fields) == 0 {
		return fmt.Errorf("fields: name at least one field to remove, e.g. `fields: [_path, _write_ts]`")
	}
	paths, err := field.ParseAll("fields", r.Fields)
	if err != nil {
		return err
	}
	r.paths = paths
	return nil
}

// Apply deletes each field that exists. It never fails.
func (r *Remove) Apply(ev *sdk.Event) error {
	for _, p := range r.paths {
		ev.Delete(p)
	}
	return nil
}

var (
	_ sdk.Filter    = (*Remove)(nil)
	_ sdk.Validator = (*Remove)(nil)
)
