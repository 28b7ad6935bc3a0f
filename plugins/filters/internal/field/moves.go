package field

import (
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/mdrsflow/mdrsflow/runtime/event"
)

// Moves is the `fields` setting of rename and copy: either a mapping
// `from: to`, kept in order, or a list of `{from: <path or list of
// paths>, to: <path>}`.
type Moves []MoveSpec

// MoveSpec is one entry of Moves as written.
type MoveSpec struct {
	From []string
	To   string
	Line int
}

// Move is a parsed MoveSpec: the first of From that exists goes to To.
type Move struct {
	From []event.Path
	To   event.Path
	// self[i] says From[i] is To itself, so the move is a no-op; set by
	// Parse so that events do not compare paths.
	self []bool
}

// UnmarshalYAML reads either form.
func (m *Moves) UnmarshalYAML(n *yaml.Node) error {
	n = resolve(n)
	switch {
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null":
		*m = nil
		return nil
	case n.Kind == yaml.MappingNode:
		var mp Mapping
		if err := mp.UnmarshalYAML(n); err != nil {
			return err
		}
		out := make(Moves, 0, len(mp))
		for _, e := range mp {
			to, ok := e.String()
			if !ok {
				return fmt.Errorf("line %d: %q: expected the field to move it to, found a %s",
					e.Line, e.Key, kindName(resolve(e.Value)))
			}
			out = append(out, MoveSpec{From: []string{e.Key}, To: to, Line: e.Line})
		}
		*m = out
		return nil
	case n.Kind == yaml.SequenceNode:
		out := make(Moves, 0, len(n.Content))
		for _, c := range n.Content {
			s, err := moveEntry(resolve(c))
			if err != nil {
				return err
			}
			out = append(out, s)
		}
		*m = out
		return nil
	}
	return fmt.Errorf("line %d: expected a mapping `from: to` or a list of {from, to}, found a %s",
		n.Line, kindName(n))
}

func moveEntry(c *yaml.Node) (MoveSpec, error) {
	s := MoveSpec{Line: c.Line}
	if c.Kind != yaml.MappingNode {
		return s, fmt.Errorf("line %d: expected {from: <field or list of fields>, to: <field>}, found a %s",
			c.Line, kindName(c))
	}
	var sawFrom, sawTo bool
	for i := 0; i+1 < len(c.Content); i += 2 {
		k, v := resolve(c.Content[i]), resolve(c.Content[i+1])
		switch k.Value {
		case "from":
			sawFrom = true
			var l List
			if err := l.UnmarshalYAML(v); err != nil {
				return s, err
			}
			s.From = l
		case "to":
			sawTo = true
			if v.Kind != yaml.ScalarNode {
				return s, fmt.Errorf("line %d: to: expected one field, found a %s", v.Line, kindName(v))
			}
			s.To = v.Value
		default:
			return s, fmt.Errorf("line %d: unknown key %q (an entry has from and to)", k.Line, k.Value)
		}
	}
	if !sawFrom || len(s.From) == 0 {
		return s, fmt.Errorf("line %d: the entry has no from: "+
			"name the field (or fields) to take the value from", c.Line)
	}
	if !sawTo {
		return s, fmt.Errorf("line %d: the entry has no to: name the field to write", c.Line)
	}
	return s, nil
}

// Parse parses every reference. setting names the setting in errors.
func (m Moves) Parse(setting string) ([]Move, error) {
	if len(m) == 0 {
		return nil, fmt.Errorf("%s: name at least one field, e.g. `%s: {proto: network.transport}`",
			setting, setting)
	}
	out := make([]Move, 0, len(m))
	for _, s := range m {
		where := setting
		if s.Line > 0 {
			where = fmt.Sprintf("%s (line %d)", setting, s.Line)
		}
		var mv Move
		for _, f := range s.From {
			p, err := Parse(where+": from", f)
			if err != nil {
				return nil, err
			}
			mv.From = append(mv.From, p)
		}
		to, err := Parse(where+": to", s.To)
		if err != nil {
			return nil, err
		}
		mv.To = to
		for _, f := range mv.From {
			mv.self = append(mv.self, Same(f, to))
		}
		out = append(out, mv)
	}
	return out, nil
}

// Transfer moves (or, with keep, copies) the first source of mv that exists
// to mv.To. Nothing happens when no source exists. When overwrite is
// false and the target exists, it fails naming both fields. On failure
// the event is as it was.
func Transfer(ev *event.Event, mv *Move, overwrite, keep bool) error {
	for i, from := range mv.From {
		var self bool
		if len(mv.self) == len(mv.From) {
			self = mv.self[i]
		} else {
			self = Same(from, mv.To)
		}
		if !keep && overwrite && !self {
			// The common rename: take the value out in one walk.
			v, ok := ev.Delete(from)
			if !ok {
				continue
			}
			if err := set(ev, mv.To, v); err != nil {
				_ = ev.Set(from, v) // put it back where it was
				return fmt.Errorf("cannot rename field %s to %s: %w", from, mv.To, err)
			}
			return nil
		}
		v, ok := ev.Get(from)
		if !ok {
			continue
		}
		if self {
			return nil
		}
		if !overwrite {
			if old, exists := ev.Get(mv.To); exists {
				return fmt.Errorf("cannot %s field %s to %s: %s already holds %s and overwrite is false; "+
					"remove %s first or set overwrite: true", verb(keep), from, mv.To, mv.To, Quote(old), mv.To)
			}
		}
		if keep {
			if err := set(ev, mv.To, event.CloneValue(v)); err != nil {
				return fmt.Errorf("cannot copy field %s to %s: %w", from, mv.To, err)
			}
			return nil
		}
		// Delete first, so that moving a field into itself (a -> a.b)
		// turns it into an object instead of failing.
		ev.Delete(from)
		if err := set(ev, mv.To, v); err != nil {
			_ = ev.Set(from, v) // put it back where it was
			return fmt.Errorf("cannot rename field %s to %s: %w", from, mv.To, err)
		}
		return nil
	}
	return nil
}

func verb(keep bool) string {
	if keep {
		return "copy"
	}
	return "rename"
}

// UnmarshalYAML reads one `{from, to}` entry. Moves reads entries itself;
// this method also keeps sdk.DecodeSettings' key check away from
// MoveSpec, whose Go fields are not the YAML keys.
func (s *MoveSpec) UnmarshalYAML(n *yaml.Node) error {
	v, err := moveEntry(resolve(n))
	if err != nil {
		return err
	}
	*s = v
	return nil
}
