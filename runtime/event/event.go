package event

import (
	"fmt"
	"sort"
	"strings"
)

// MetadataKey is the first segment of references into an event's metadata.
const MetadataKey = "@metadata"

// Event is one record on its way through a flow: a JSON object held as
// nested maps, plus metadata that outputs never write.
//
// Values are the JSON kinds with numbers split in two: nil, bool, int64
// (a JSON number without fraction or exponent that fits), float64, string,
// []any and map[string]any. Steps that add values should use these types;
// the encoder also accepts int, int32, uint64, float32 and []string.
//
// An Event is not safe for concurrent use; a flow hands each event to one
// goroutine at a time.
type Event struct {
	fields map[string]any
	meta   map[string]any

	// Set when the event came from a Recycler: the objects it made, for
	// Release to take back, and how many keys its record's top level had.
	rec     *Recycler
	owned   []map[string]any
	topKeys int
}

// New returns an empty event.
func New() *Event {
	return &Event{fields: make(map[string]any, 16)}
}

// FromMap wraps m without copying it; the event owns m afterwards.
func FromMap(m map[string]any) *Event {
	if m == nil {
		m = make(map[string]any)
	}
	return &Event{fields: m}
}

// Fields returns the event's top-level object. Changes to it are changes to
// the event.
func (e *Event) Fields() map[string]any { return e.fields }

// Meta returns the metadata object, creating it on first use. The object
// also sits in Fields under "@metadata", so expressions can read it as
// `$env["@metadata"]`; the encoder leaves it out.
func (e *Event) Meta() map[string]any {
	if e.meta == nil {
		if m, ok := e.fields[MetadataKey].(map[string]any); ok {
			e.meta = m
		} else {
			e.meta = e.newObject()
			e.fields[MetadataKey] = e.meta
		}
	}
	return e.meta
}

// MetaString returns the metadata value under key when it is a string.
func (e *Event) MetaString(key string) string {
	if e.meta == nil {
		return ""
	}
	s, _ := e.meta[key].(string)
	return s
}

// SetMeta sets one top-level metadata value.
func (e *Event) SetMeta(key string, v any) { e.Meta()[key] = v }

func (e *Event) root(p Path) map[string]any {
	if p.meta {
		return e.Meta()
	}
	return e.fields
}

// Get returns the value at p and whether it exists.
func (e *Event) Get(p Path) (any, bool) {
	m := e.root(p)
	segs := p.segs
	for i, s := range segs {
		v, ok := m[s]
		if !ok {
			return nil, false
		}
		if i == len(segs)-1 {
			return v, true
		}
		m, ok = v.(map[string]any)
		if !ok {
			return nil, false
		}
	}
	return nil, false
}

// Has reports whether a value exists at p.
func (e *Event) Has(p Path) bool {
	_, ok := e.Get(p)
	return ok
}

// ErrConflict is returned when a write would make one field both a value
// and an object, for example setting `source.ip` while `source` is a string.
var ErrConflict = fmt.Errorf("field is both a value and an object")

// Set stores v at p, creating the objects on the way. It refuses, with an
// error wrapping ErrConflict, to walk through a value that is not an
// object; the event is left unchanged then.
func (e *Event) Set(p Path, v any) error {
	m := e.root(p)
	segs := p.segs
	for i, s := range segs[:len(segs)-1] {
		next, ok := m[s]
		if !ok {
			nm := e.newObject()
			m[s] = nm
			m = nm
			continue
		}
		nm, ok := next.(map[string]any)
		if !ok {
			return fmt.Errorf("set %s: %q holds a %s: %w",
				p.text, strings.Join(segs[:i+1], "."), KindOf(next), ErrConflict)
		}
		m = nm
	}
	m[segs[len(segs)-1]] = v
	return nil
}

// Delete removes the value at p and returns it. Objects left empty by the
// removal are removed too, so that moving the last field out of `id` does
// not leave an empty `id` behind.
func (e *Event) Delete(p Path) (any, bool) {
	return deleteIn(e.root(p), p.segs)
}

func deleteIn(m map[string]any, segs []string) (any, bool) {
	if len(segs) == 1 {
		v, ok := m[segs[0]]
		if ok {
			delete(m, segs[0])
		}
		return v, ok
	}
	child, ok := m[segs[0]].(map[string]any)
	if !ok {
		return nil, false
	}
	v, ok := deleteIn(child, segs[1:])
	if ok && len(child) == 0 {
		delete(m, segs[0])
	}
	return v, ok
}

// Clone returns a deep copy of the event.
func (e *Event) Clone() *Event {
	c := &Event{fields: cloneMap(e.fields)}
	if m, ok := c.fields[MetadataKey].(map[string]any); ok {
		c.meta = m
	}
	return c
}

func cloneMap(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = CloneValue(v)
	}
	return c
}

// CloneValue deep-copies objects and arrays; other values are immutable.
func CloneValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return cloneMap(t)
	case []any:
		c := make([]any, len(t))
		for i, x := range t {
			c[i] = CloneValue(x)
		}
		return c
	}
	return v
}

// Expand rewrites every key that holds dots into nested objects, the way
// Elasticsearch reads such a document, so the document written is the one
// the index sees. `{"id.orig_h": "10.0.0.1"}` becomes
// `{"id": {"orig_h": "10.0.0.1"}}`. When a dotted key meets a value that is
// not an object (`{"a": 1, "a.b": 2}`), Expand returns an error wrapping
// ErrConflict naming the field, and leaves the event partly expanded.
func (e *Event) Expand() error {
	meta, hasMeta := e.fields[MetadataKey]
	if hasMeta {
		delete(e.fields, MetadataKey)
		defer func() { e.fields[MetadataKey] = meta }()
	}
	var stack [8]string
	return expandMap(e.fields, stack[:0])
}

// expandMap expands m, which sits at path within the event; path is only
// read to name a field in an error, so it costs nothing on success.
func expandMap(m map[string]any, path []string) error {
	var dotted, children []string
	for k, v := range m {
		if strings.IndexByte(k, '.') >= 0 {
			dotted = append(dotted, k)
		} else if _, ok := v.(map[string]any); ok {
			children = append(children, k)
		}
	}
	// Both sorted so that the outcome, including which error is
	// reported, does not depend on map order.
	sort.Strings(children)
	for _, k := range children {
		if err := expandMap(m[k].(map[string]any), append(path, k)); err != nil {
			return err
		}
	}
	if len(dotted) == 0 {
		return nil
	}
	sort.Strings(dotted)
	prefix := ""
	if len(path) > 0 {
		prefix = strings.Join(path, ".") + "."
	}
	for _, k := range dotted {
		v := m[k]
		delete(m, k)
		parts := strings.Split(k, ".")
		cur := m
		for i, part := range parts {
			if part == "" {
				return fmt.Errorf("field %q: empty key between dots: %w", prefix+k, ErrConflict)
			}
			if i == len(parts)-1 {
				if old, ok := cur[part]; ok {
					om, oldIsMap := old.(map[string]any)
					nm, newIsMap := v.(map[string]any)
					if !oldIsMap || !newIsMap {
						return fmt.Errorf("field %q is both %s and %s: %w",
							prefix+k, KindOf(old), KindOf(v), ErrConflict)
					}
					for ck, cv := range nm {
						om[ck] = cv
					}
					v = om
				}
				cur[part] = v
				if child, ok := v.(map[string]any); ok {
					if err := expandMap(child, append(path, parts...)); err != nil {
						return err
					}
				}
				break
			}
			next, ok := cur[part]
			if !ok {
				nm := make(map[string]any, 2)
				cur[part] = nm
				cur = nm
				continue
			}
			nm, ok := next.(map[string]any)
			if !ok {
				return fmt.Errorf("field %q: %q is a %s, not an object: %w",
					prefix+k, prefix+strings.Join(parts[:i+1], "."), KindOf(next), ErrConflict)
			}
			cur = nm
		}
	}
	return nil
}

// KindOf names the JSON kind of v for error messages.
func KindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case int64, int, int32, uint64, float64, float32:
		return "number"
	case string:
		return "string"
	case []any, []string:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
