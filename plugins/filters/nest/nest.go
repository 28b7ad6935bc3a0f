// Package nest is the filter that moves every field of an object (or of
// the whole event) into another object, whose name may be computed per
// event.
package nest

import (
	_ "embed"
	"fmt"
	"strings"

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/field"
	"github.com/mdrsflow/mdrsflow/runtime/event"
	"github.com/mdrsflow/mdrsflow/sdk"
)

//go:embed sample.yaml
var sample []byte

func init() {
	sdk.Register(sdk.Registration{
		Kind:    sdk.KindFilter,
		Name:    "nest",
		Summary: "move every field of an object, or of the event, into another object",
		New:     func() any { return New() },
		Sample:  sample,
	})
}

// Nest is the nest filter. Its exported fields are its settings; see
// sample.yaml for what each one means.
type Nest struct {
	Field      string     `yaml:"field"`
	Target     string     `yaml:"target"`
	Exclude    field.List `yaml:"exclude"`
	ExpandDots bool       `yaml:"expand_dots"`

	field   sdk.Path
	target  template
	exclude map[string]bool
}

// New returns the filter with its defaults set.
func New() *Nest { return &Nest{} }

// Validate parses the references and the target template once.
func (n *Nest) Validate() error {
	var err error
	if n.Field != "" {
		if n.field, err = field.Parse("field", n.Field); err != nil {
			return err
		}
		if len(n.Exclude) > 0 {
			return fmt.Errorf("exclude names top-level keys and needs field unset")
		}
	}
	if n.target, err = parseTemplate(n.Target); err != nil {
		return fmt.Errorf("target: %w", err)
	}
	n.exclude = make(map[string]bool, len(n.Exclude))
	for _, k := range n.Exclude {
		n.exclude[k] = true
	}
	return nil
}

// Apply moves the fields. Nothing is written when there is nothing to
// move; on error the event is left as it was.
func (n *Nest) Apply(ev *sdk.Event) error {
	var src map[string]any
	if n.field.IsZero() {
		src = ev.Fields()
	} else {
		v, ok := ev.Get(n.field)
		if !ok {
			return nil
		}
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("field %s holds %s, not an object", n.field, field.Kind(v))
		}
		src = m
	}

	moved := make(map[string]any, len(src))
	for k, v := range src {
		if k == event.MetadataKey || n.exclude[k] {
			continue
		}
		moved[k] = v
	}
	if len(moved) == 0 {
		return nil
	}
	target, err := n.target.render(ev)
	if err != nil {
		return err
	}

	// Take the fields out first: the target may sit inside the source
	// (nesting the top level under zeek.conn), and may then be one of the
	// fields being moved.
	for k := range moved {
		delete(src, k)
	}
	if !n.field.IsZero() && len(src) == 0 {
		ev.Delete(n.field)
	}
	into := moved
	if n.ExpandDots {
		into = make(map[string]any, len(moved))
		for k, v := range moved {
			into[k] = v
		}
		if err := event.FromMap(into).Expand(); err != nil {
			n.undo(ev, src, moved)
			return fmt.Errorf("cannot expand the fields moved to %s: %w", target, err)
		}
	}
	if old, ok := ev.Get(target); ok {
		if om, ok := old.(map[string]any); ok {
			for k, v := range into {
				om[k] = v
			}
			return nil
		}
	}
	if err := field.Set(ev, target, into); err != nil {
		n.undo(ev, src, moved)
		return err
	}
	return nil
}

// undo puts the moved fields back after a failed write.
func (n *Nest) undo(ev *sdk.Event, src, moved map[string]any) {
	if !n.field.IsZero() && len(src) == 0 {
		_ = ev.Set(n.field, src)
	}
	for k, v := range moved {
		src[k] = v
	}
}

// template is a target with {name} placeholders.
type template struct {
	parts []string   // literal text between placeholders
	names []sdk.Path // placeholder i sits after parts[i]
	meta  []string   // the placeholder as a metadata key
	fixed sdk.Path   // set when there is no placeholder
}

func parseTemplate(s string) (template, error) {
	var t template
	if s == "" {
		return t, fmt.Errorf("empty; name the object to move the fields into, e.g. zeek.conn")
	}
	rest := s
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			t.parts = append(t.parts, rest)
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return t, fmt.Errorf("%q: '{' without '}'", s)
		}
		name := rest[i+1 : i+j]
		p, err := event.ParsePath(name)
		if err != nil {
			return t, fmt.Errorf("%q: placeholder {%s}: %w", s, name, err)
		}
		t.parts = append(t.parts, rest[:i])
		t.names = append(t.names, p)
		t.meta = append(t.meta, name)
		rest = rest[i+j+1:]
	}
	if len(t.names) == 0 {
		p, err := event.ParsePath(s)
		if err != nil {
			return t, err
		}
		t.fixed = p
		return t, nil
	}
	// Check the shape once with a stand-in value.
	probe := t.parts[0]
	for i := range t.names {
		probe += "x" + t.parts[i+1]
	}
	if _, err := event.ParsePath(probe); err != nil {
		return t, fmt.Errorf("%q: %w", s, err)
	}
	return t, nil
}

func (t template) render(ev *sdk.Event) (sdk.Path, error) {
	if len(t.names) == 0 {
		return t.fixed, nil
	}
	var b strings.Builder
	b.WriteString(t.parts[0])
	for i, p := range t.names {
		v, ok := ev.Meta()[t.meta[i]]
		if !ok {
			v, ok = ev.Get(p)
		}
		s, isStr := v.(string)
		if !ok || !isStr || !word(s) {
			return sdk.Path{}, fmt.Errorf("target: {%s} is %s, not a word of letters, digits, _ and -",
				t.meta[i], field.Quote(v))
		}
		b.WriteString(s)
		b.WriteString(t.parts[i+1])
	}
	return event.ParsePath(b.String())
}

func word(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '_' && c != '-' && (c < '0' || c > '9') && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}

var (
	_ sdk.Filter    = (*Nest)(nil)
	_ sdk.Validator = (*Nest)(nil)
)
