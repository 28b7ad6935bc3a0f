// Package drop is the filter that drops events on purpose; it is meant to
// be used with an `if:` condition.
package drop

import (
	_ "embed"

	"github.com/mdrsflow/mdrsflow/sdk"
)

//go:embed sample.yaml
var sample []byte

func init() {
	sdk.Register(sdk.Registration{
		Kind:    sdk.KindFilter,
		Name:    "drop",
		Summary: "drop the event (use with if:)",
		New:     func() any { return New() },
		Sample:  sample,
	})
}

// Drop is the drop filter. It has no settings.
type Drop struct{}

// New returns the filter.
func New() *Drop { return &Drop{} }

// Apply drops every event it sees; the engine counts it as dropped and
// acknowledges it.
func (*Drop) Apply(*sdk.Event) error { return sdk.ErrDrop }

var _ sdk.Filter = (*Drop)(nil)
