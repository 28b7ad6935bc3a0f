// Package field holds what the filter plugins share: parsing field
// references from settings, writing values with errors an operator can act
// on, quoting event values in messages, and turning YAML settings into
// event values.
package field

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/mdrsflow/mdrsflow/runtime/event"
)

// Parse parses the field reference s given in the setting named setting.
// The error names the setting and shows how to write a key with dots.
func Parse(setting, s string) (event.Path, error) {
	p, err := event.ParsePath(s)
	if err != nil {
		if errors.Is(err, event.ErrEmptyPath) {
			return p, fmt.Errorf("%s: empty field reference; name a field such as source.ip", setting)
		}
		return p, fmt.Errorf("%s: %w", setting, err)
	}
	return p, nil
}

// MustParse parses a reference fixed in code; it panics on error.
func MustParse(s string) event.Path { return event.MustPath(s) }

// ParseAll parses every reference of list; the error names the entry.
func ParseAll(setting string, list []string) ([]event.Path, error) {
	out := make([]event.Path, 0, len(list))
	for i, s := range list {
		p, err := Parse(fmt.Sprintf("%s[%d]", setting, i), s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Child returns the reference to key name under prefix, for plugins that
// write several fields below one target.
func Child(setting string, prefix event.Path, name string) (event.Path, error) {
	return Parse(setting, prefix.String()+"."+name)
}

// Set writes v at p. When a field on the way holds a value that is not an
// object, it writes nothing and returns an error that names both fields
// and the value in the way and unwraps to a *ConflictError and
// event.ErrConflict.
func Set(ev *event.Event, p event.Path, v any) error {
	if err := set(ev, p, v); err != nil {
		return fmt.Errorf("cannot write field %s: %w", p, err)
	}
	return nil
}

// ConflictError says that a field cannot be written because a field on its
// way holds a value that is not an object.
type ConflictError struct {
	// Blocker is the field in the way, Value what it holds.
	Blocker string
	Value   any
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%q already holds %s (%s), not an object; rename or remove %q before this step",
		e.Blocker, Kind(e.Value), Quote(e.Value), e.Blocker)
}

// Unwrap makes errors.Is(err, event.ErrConflict) hold.
func (e *ConflictError) Unwrap() error { return event.ErrConflict }

// set is Set without the prefix, for callers that say more.
func set(ev *event.Event, p event.Path, v any) error {
	err := ev.Set(p, v)
	if err == nil || !errors.Is(err, event.ErrConflict) {
		return err
	}
	var m map[string]any
	if p.IsMetadata() {
		m = ev.Meta()
	} else {
		m = ev.Fields()
	}
	segs := p.Segments()
	for i, s := range segs[:len(segs)-1] {
		next, ok := m[s].(map[string]any)
		if !ok {
			name := strings.Join(segs[:i+1], ".")
			if p.IsMetadata() {
				name = event.MetadataKey + "." + name
			}
			return &ConflictError{Blocker: name, Value: m[s]}
		}
		m = next
	}
	return err
}

// Same reports whether a and b address the same field, however each was
// written.
func Same(a, b event.Path) bool {
	if a.IsMetadata() != b.IsMetadata() {
		return false
	}
	as, bs := a.Segments(), b.Segments()
	if len(as) != len(bs) {
		return false
	}
	for i := range as {
		if as[i] != bs[i] {
			return false
		}
	}
	return true
}

// Clone deep-copies objects and arrays, so that a value written to two
// places, or to many events, is never shared.
func Clone(v any) any { return event.CloneValue(v) }

// maxQuote is how much of a value an error message shows.
const maxQuote = 100

// Quote renders v as JSON for an error message, cut to about 100 bytes so
// a huge field cannot flood the failures target or the log.
func Quote(v any) string {
	b, err := event.AppendValue(nil, v)
	if err != nil {
		return fmt.Sprintf("(%T)", v)
	}
	if len(b) <= maxQuote {
		return string(b)
	}
	cut := maxQuote
	for cut > 0 && !utf8.RuneStart(b[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", b[:cut], len(b))
}

// List is a setting that takes a list of strings, or one string as a
// shorthand for a list of one.
type List []string

// Kind names the JSON kind of v with its article ("a string", "an
// object", "null") for messages.
func Kind(v any) string {
	k := event.KindOf(v)
	switch k {
	case "null":
		return k
	case "object", "array":
		return "an " + k
	}
	return "a " + k
}

// FormatFloat writes f as JSON does: 1.5, 100, 1e+21.
func FormatFloat(f float64) string {
	b, _ := event.AppendValue(nil, f)
	return string(b)
}
