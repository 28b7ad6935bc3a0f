// Package parse_json is the filter that reads a string field as JSON and
// writes the parsed value into the event: into a target field, at the top
// level, or in place of the whole event.
package parse_json

import (
	_ "embed"
	"fmt"

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/field"
	"github.com/mdrsflow/mdrsflow/runtime/event"
	"github.com/mdrsflow/mdrsflow/sdk"
)

//go:embed sample.yaml
var sample []byte

func init() {
	sdk.Register(sdk.Registration{
		Kind:    sdk.KindFilter,
		Name:    "parse_json",
		Summary: "parse a string field as JSON into a target, the top level, or the whole event",
		New:     func() any { return New() },
		Sample:  sample,
	})
}

// ParseJSON is the parse_json filter. Its exported fields are its
// settings; see sample.yaml for what each one means.
type ParseJSON struct {
	Field       string `yaml:"field"`
	Target      string `yaml:"target"`
	Replace     bool   `yaml:"replace"`
	RemoveField bool   `yaml:"remove_field"`

	field  sdk.Path
	target sdk.Path
}

// New returns the filter with its defaults set.
func New() *ParseJSON { return &ParseJSON{} }

// Validate parses the field references once.
func (p *ParseJSON) Validate() error {
	var err error
	if p.field, err = field.Parse("field", p.Field); err != nil {
		return err
	}
	if p.Target != "" {
		if p.target, err = field.Parse("target", p.Target); err != nil {
			return err
		}
	}
	return nil
}

// Apply parses the field and writes the result. Numbers keep the event's
// types: an integer that fits is an int64, anything else a float64.
func (p *ParseJSON) Apply(ev *sdk.Event) error {
	v, ok := ev.Get(p.field)
	if !ok {
		return nil
	}
	text, ok := v.(string)
	if !ok {
		return fmt.Errorf("field %s holds %s, not JSON text", p.field, field.Kind(v))
	}
	parsed, err := event.DecodeValue([]byte(text))
	if err != nil {
		return fmt.Errorf("field %s is not valid JSON: %w", p.field, err)
	}
	obj, isObj := parsed.(map[string]any)
	if p.target.IsZero() && !isObj {
		return fmt.Errorf("field %s holds JSON %s, not an object; set target to keep it",
			p.field, field.Kind(parsed))
	}
	// A record must not steer the flow's metadata from inside its JSON.
	delete(obj, event.MetadataKey)

	if p.Replace {
		clear(ev)
	} else if p.RemoveField {
		ev.Delete(p.field)
	}
	if !p.target.IsZero() {
		return field.Set(ev, p.target, parsed)
	}
	root := ev.Fields()
	for k, x := range obj {
		root[k] = x
	}
	return nil
}

// clear removes every field but @metadata.
func clear(ev *sdk.Event) {
	root := ev.Fields()
	for k := range root {
		if k != event.MetadataKey {
			delete(root, k)
		}
	}
}

var (
	_ sdk.Filter    = (*ParseJSON)(nil)
	_ sdk.Validator = (*ParseJSON)(nil)
)
