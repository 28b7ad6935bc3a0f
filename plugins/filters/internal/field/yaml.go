package field

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

// UnmarshalYAML accepts a sequence of strings or a single string.
func (l *List) UnmarshalYAML(n *yaml.Node) error {
	n = resolve(n)
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			*l = nil
			return nil
		}
		*l = List{n.Value}
		return nil
	case yaml.SequenceNode:
		out := make(List, 0, len(n.Content))
		for _, c := range n.Content {
			c = resolve(c)
			if c.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: expected a field name, found a %s", c.Line, kindName(c))
			}
			out = append(out, c.Value)
		}
		*l = out
		return nil
	}
	return fmt.Errorf("line %d: expected a list of field names, found a %s", n.Line, kindName(n))
}

// Entry is one key of a Mapping with its value, unconverted.
type Entry struct {
	Key   string
	Value *yaml.Node
	// Line is the key's line in the flow file, for error messages.
	Line int
}

// Mapping is a setting that is a YAML mapping whose order matters (steps
// applied in the order written). Keys must be unique.
type Mapping []Entry

// UnmarshalYAML keeps the mapping's entries in order.
func (m *Mapping) UnmarshalYAML(n *yaml.Node) error {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		*m = nil
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: expected a mapping (key: value lines), found a %s", n.Line, kindName(n))
	}
	out := make(Mapping, 0, len(n.Content)/2)
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: a key must be a plain value, found a %s", k.Line, kindName(k))
		}
		if first, dup := seen[k.Value]; dup {
			return fmt.Errorf("line %d: key %q appears twice (first on line %d)", k.Line, k.Value, first)
		}
		seen[k.Value] = k.Line
		out = append(out, Entry{Key: k.Value, Value: v, Line: k.Line})
	}
	*m = out
	return nil
}

// String returns the value when it is a plain scalar.
func (e Entry) String() (string, bool) {
	v := resolve(e.Value)
	if v.Kind != yaml.ScalarNode || v.ShortTag() == "!!null" {
		return "", false
	}
	return v.Value, true
}

func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		return resolve(n.Content[0])
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "null"
		}
		return fmt.Sprintf("value %q", n.Value)
	}
	return "YAML node"
}

// Value turns a YAML value from a flow file into an event value: integers
// become int64, other numbers float64, timestamps stay the text written,
// lists []any and mappings map[string]any.
func Value(n *yaml.Node) (any, error) {
	n = resolve(n)
	switch n.Kind {
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return nil, fmt.Errorf("line %d: %w", n.Line, err)
			}
			return b, nil
		case "!!int":
			var i int64
			if err := n.Decode(&i); err != nil {
				return nil, fmt.Errorf("line %d: %s does not fit a 64-bit integer; "+
					"quote it to keep it as text", n.Line, n.Value)
			}
			return i, nil
		case "!!float":
			var f float64
			if err := n.Decode(&f); err != nil {
				return nil, fmt.Errorf("line %d: %w", n.Line, err)
			}
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("line %d: %s is not a number JSON can hold; "+
					"quote it to keep it as text", n.Line, n.Value)
			}
			return f, nil
		}
		// Strings, and timestamps, which stay as written.
		return n.Value, nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := Value(c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := resolve(n.Content[i])
			if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
				return nil, fmt.Errorf("line %d: a key must be a plain value", k.Line)
			}
			v, err := Value(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			out[k.Value] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("line %d: unsupported YAML value", n.Line)
}

// Normalize turns a Go value, such as the result of an expression, into
// the event value types: nil, bool, int64, float64, string, []any and
// map[string]any. Times become RFC 3339 text in UTC. Anything else is an
// error naming its type.
func Normalize(v any) (any, error) {
	switch t := v.(type) {
	case nil, bool, int64, float64, string:
		return v, nil
	case int:
		return int64(t), nil
	case int32:
		return int64(t), nil
	case float32:
		return float64(t), nil
	case time.Time:
		return t.UTC().Format(time.RFC3339Nano), nil
	case []any:
		for i, x := range t {
			n, err := Normalize(x)
			if err != nil {
				return nil, err
			}
			t[i] = n
		}
		return t, nil
	case map[string]any:
		for k, x := range t {
			n, err := Normalize(x)
			if err != nil {
				return nil, err
			}
			t[k] = n
		}
		return t, nil
	case []string:
		out := make([]any, len(t))
		for i, s := range t {
			out[i] = s
		}
		return out, nil
	}

	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := rv.Uint()
		if u > math.MaxInt64 {
			return float64(u), nil
		}
		return int64(u), nil
	case reflect.Float32, reflect.Float64:
		return rv.Float(), nil
	case reflect.String:
		return rv.String(), nil
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.Slice, reflect.Array:
		out := make([]any, rv.Len())
		for i := range out {
			n, err := Normalize(rv.Index(i).Interface())
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return nil, fmt.Errorf("a map with %s keys cannot be an event value; keys must be strings",
				rv.Type().Key())
		}
		out := make(map[string]any, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			n, err := Normalize(it.Value().Interface())
			if err != nil {
				return nil, err
			}
			out[it.Key().String()] = n
		}
		return out, nil
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil, nil
		}
		return Normalize(rv.Elem().Interface())
	}
	return nil, fmt.Errorf("a %T cannot be an event value", v)
}

// UnmarshalYAML is never used to read a setting (Mapping reads its
// entries itself); it keeps sdk.DecodeSettings' key check away from
// Entry, whose Go fields are not YAML keys.
func (e *Entry) UnmarshalYAML(n *yaml.Node) error {
	return fmt.Errorf("line %d: expected a mapping (key: value lines), found a list", n.Line)
}

// Optional is a setting that may be absent. A setting given as null counts
// as absent: the YAML decoder does not hand null to UnmarshalYAML.
type Optional struct {
	Set   bool
	Value any
}

// UnmarshalYAML is called only for a setting that is present.
func (o *Optional) UnmarshalYAML(n *yaml.Node) error {
	v, err := Value(n)
	if err != nil {
		return err
	}
	o.Set, o.Value = true, v
	return nil
}

// Table reads a YAML mapping of lookup keys to values. Keys are text as
// written, except that numbers are written as JSON would and whole
// numbers as integers (1.0 is "1"), the form Key gives event values.
func Table(n *yaml.Node) (map[string]any, error) {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: expected a mapping of key: value, found a %s", n.Line, kindName(n))
	}
	out := make(map[string]any, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolve(n.Content[i])
		if k.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("line %d: a key must be a plain value, found a %s", k.Line, kindName(k))
		}
		kv, err := Value(k)
		if err != nil {
			return nil, err
		}
		key, ok := Key(kv)
		if !ok {
			key = k.Value // null: the text as written ("null", "~")
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("line %d: key %q appears twice", k.Line, key)
		}
		v, err := Value(n.Content[i+1])
		if err != nil {
			return nil, err
		}
		out[key] = v
	}
	return out, nil
}

// Key is the text under which a value is looked up: text as it is,
// booleans as true/false, whole numbers as integers (6.0 is "6"), other
// numbers as JSON writes them. ok is false for null, arrays and objects.
func Key(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case int64:
		return strconv.FormatInt(t, 10), true
	case float64:
		if t == math.Trunc(t) && t >= -(1<<63) && t < 1<<63 {
			return strconv.FormatInt(int64(t), 10), true
		}
		return FormatFloat(t), true
	case bool:
		return strconv.FormatBool(t), true
	}
	return "", false
}

// Entries is a setting that is a lookup table; see Table.
type Entries map[string]any

// UnmarshalYAML reads the table.
func (e *Entries) UnmarshalYAML(n *yaml.Node) error {
	if resolve(n).ShortTag() == "!!null" {
		*e = nil
		return nil
	}
	t, err := Table(n)
	if err != nil {
		return err
	}
	*e = t
	return nil
}

// Values is a setting that is a list of event values (or one value, as a
// shorthand for a list of one).
type Values []any

// UnmarshalYAML converts each element with Value.
func (vs *Values) UnmarshalYAML(n *yaml.Node) error {
	n = resolve(n)
	if n.Kind != yaml.SequenceNode {
		v, err := Value(n)
		if err != nil {
			return err
		}
		*vs = Values{v}
		return nil
	}
	out := make(Values, 0, len(n.Content))
	for _, c := range n.Content {
		v, err := Value(c)
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	*vs = out
	return nil
}
