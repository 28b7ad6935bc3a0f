// Package original keeps the record exactly as it arrived, before any
// step changed it, in a field of the event (event.original by default).
package original

import (
	_ "embed"
	"fmt"

	"github.com/mdrsflow/mdrsflow/sdk"
)

//go:embed sample.yaml
var sample []byte

func init() {
	sdk.Register(sdk.Registration{
		Kind:    sdk.KindFilter,
		Name:    "original",
		Summary: "keep the record as it arrived (the raw line) in a field, e.g. event.original",
		New:     func() any { return &Original{Target: "event.original"} },
		Sample:  sample,
	})
}

// Original writes the raw record text to Target.
type Original struct {
	// Target is the field that receives the raw record.
	Target string `yaml:"target"`
	// IfMissing leaves a value already in Target alone.
	IfMissing bool `yaml:"if_missing"`

	target sdk.Path
}

// Validate parses the target path.
func (o *Original) Validate() error {
	p, err := sdk.ParsePath(o.Target)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	o.target = p
	return nil
}

// Apply is called when the raw record is not available (the event was
// made some other way); it writes nothing.
func (o *Original) Apply(*sdk.Event) error { return nil }

// ApplyRaw writes the raw record.
func (o *Original) ApplyRaw(ev *sdk.Event, raw []byte) error {
	if o.IfMissing && ev.Has(o.target) {
		return nil
	}
	return ev.Set(o.target, string(raw))
}

var _ sdk.RawFilter = (*Original)(nil)
