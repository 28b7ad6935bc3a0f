package field

import (
	"bytes"

	"github.com/mdrsflow/mdrsflow/runtime/event"
)

// Equal reports whether two event values are the same JSON value: numbers
// compare by value (1 and 1.0 are equal), objects and arrays by content.
func Equal(a, b any) bool {
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case nil:
		return b == nil
	case int64:
		switch y := b.(type) {
		case int64:
			return x == y
		case float64:
			return float64(x) == y && int64(y) == x
		}
		return false
	case float64:
		switch y := b.(type) {
		case float64:
			return x == y
		case int64:
			return float64(y) == x && int64(x) == y
		}
		return false
	}
	// Objects and arrays, rare in the arrays filters add to: compare the
	// JSON, which the encoder writes with sorted keys.
	ja, errA := event.AppendValue(nil, a)
	jb, errB := event.AppendValue(nil, b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

// Contains reports whether list holds a value Equal to v.
func Contains(list []any, v any) bool {
	for _, x := range list {
		if Equal(x, v) {
			return true
		}
	}
	return false
}
