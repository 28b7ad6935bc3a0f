package event

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Encode appends the event's fields (not its metadata) as one JSON object
// to dst. Keys are written in sorted order so that the same event always
// gives the same bytes.
func (e *Event) Encode(dst []byte) ([]byte, error) {
	return e.encode(dst, nil)
}

// EncodeDotted is Encode that also reports whether any object key of the
// document holds a dot: a document that Expand would change, and whose
// bytes are then not the ones to write. Checking while encoding saves
// Expand's own walk over the document when, as usual, there is no such
// key.
func (e *Event) EncodeDotted(dst []byte) (out []byte, dotted bool, err error) {
	out, err = e.encode(dst, &dotted)
	return out, dotted, err
}

func (e *Event) encode(dst []byte, dots *bool) ([]byte, error) {
	meta, ok := e.fields[MetadataKey]
	if !ok {
		return appendObject(dst, e.fields, dots)
	}
	delete(e.fields, MetadataKey)
	dst, err := appendObject(dst, e.fields, dots)
	e.fields[MetadataKey] = meta
	return dst, err
}

// EncodeWithMetadata is Encode with the metadata written under
// "@metadata", for `mdrsflow pipe --metadata` and tests.
func (e *Event) EncodeWithMetadata(dst []byte) ([]byte, error) {
	return appendObject(dst, e.fields, nil)
}

// AppendValue appends v as JSON.
func AppendValue(dst []byte, v any) ([]byte, error) {
	return appendValue(dst, v, nil)
}

// appendValue appends v as JSON; when dots is not nil, it is set if an
// object key holds a dot.
func appendValue(dst []byte, v any, dots *bool) ([]byte, error) {
	switch t := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		if t {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case string:
		return AppendString(dst, t), nil
	case int64:
		return strconv.AppendInt(dst, t, 10), nil
	case int:
		return strconv.AppendInt(dst, int64(t), 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(t), 10), nil
	case uint64:
		return strconv.AppendUint(dst, t, 10), nil
	case float64:
		return appendFloat(dst, t, 64), nil
	case float32:
		return appendFloat(dst, float64(t), 32), nil
	case map[string]any:
		return appendObject(dst, t, dots)
	case []any:
		dst = append(dst, '[')
		for i, x := range t {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendValue(dst, x, dots); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case []string:
		dst = append(dst, '[')
		for i, x := range t {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendString(dst, x)
		}
		return append(dst, ']'), nil
	}
	// Anything else (a plugin's own type) goes through encoding/json.
	b, err := json.Marshal(v)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

// member is one key and value of an object being written.
type member struct {
	k string
	v any
}

func appendObject(dst []byte, m map[string]any, dots *bool) ([]byte, error) {
	// Keys and values are taken in one pass over the map and sorted
	// together, so writing does not look each key up again.
	var small [24]member
	ms := small[:0]
	for k, v := range m {
		ms = append(ms, member{k, v})
		if dots != nil && strings.IndexByte(k, '.') >= 0 {
			*dots = true
		}
	}
	sortMembers(ms)
	dst = append(dst, '{')
	for i := range ms {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendString(dst, ms[i].k)
		dst = append(dst, ':')
		var err error
		if dst, err = appendValue(dst, ms[i].v, dots); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

// sortMembers sorts by key: insertion sort for the small objects events
// are made of, the library's sort beyond.
func sortMembers(ms []member) {
	if len(ms) > 12 {
		slices.SortFunc(ms, func(a, b member) int { return strings.Compare(a.k, b.k) })
		return
	}
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && ms[j].k < ms[j-1].k; j-- {
			ms[j], ms[j-1] = ms[j-1], ms[j]
		}
	}
}

// appendFloat writes floats as encoding/json does: plain notation between
// 1e-6 and 1e21, exponent outside; NaN and infinities, which JSON cannot
// hold, become null.
func appendFloat(dst []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (bits == 64 && (abs < 1e-6 || abs >= 1e21) ||
		bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21)) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		// Clean up e-09 to e-9, as encoding/json does.
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

const hex = "0123456789abcdef"

// plain8 reports whether all eight bytes of w are ASCII that a JSON
// string holds as it is: not a control character, quote or backslash.
// Each test is the usual word-at-a-time one: a byte below n, or zero
// after xor with the byte looked for, borrows into its top bit.
func plain8(w uint64) bool {
	const ones, tops = 0x0101010101010101, 0x8080808080808080
	q := w ^ (ones * '"')
	b := w ^ (ones * '\\')
	return (w|(w-ones*0x20)&^w|(q-ones)&^q|(b-ones)&^b)&tops == 0
}

// AppendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD;
// U+2028 and U+2029 are escaped so the output is safe inside JavaScript.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		// Eight bytes at a time while none needs a second look.
		for i+8 <= len(s) && plain8(uint64(s[i])|uint64(s[i+1])<<8|uint64(s[i+2])<<16|
			uint64(s[i+3])<<24|uint64(s[i+4])<<32|uint64(s[i+5])<<40|uint64(s[i+6])<<48|uint64(s[i+7])<<56) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
