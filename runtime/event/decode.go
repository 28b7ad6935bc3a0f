package event

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// The JSON reader below is ours rather than encoding/json because the event
// representation is the hot path of every flow: it keeps integers as int64
// (encoding/json turns every number into float64, which loses counters
// above 2^53 and prints ports as floats after arithmetic), decodes in one
// pass without reflection, and turns invalid UTF-8 into U+FFFD instead of
// failing the record.

// ErrSyntax is wrapped by every decode error.
var ErrSyntax = errors.New("invalid JSON")

// maxDepth bounds nesting so a hostile record cannot exhaust the stack.
const maxDepth = 200

// Decode parses one JSON object into a new event.
func Decode(data []byte) (*Event, error) {
	m, err := DecodeObject(data)
	if err != nil {
		return nil, err
	}
	// @metadata is the flow's own (tenant, routing); a record that brings
	// one must not be able to steer either, so it is discarded.
	delete(m, MetadataKey)
	return &Event{fields: m}, nil
}

// DecodeObject parses one JSON object. Trailing white space is allowed,
// anything else after the object is an error.
func DecodeObject(data []byte) (map[string]any, error) {
	d := newDecoder(data)
	defer d.release()
	return d.document()
}

// document reads the whole input as one JSON object.
func (d *decoder) document() (map[string]any, error) {
	d.skipSpace()
	if d.pos >= len(d.buf) || d.buf[d.pos] != '{' {
		return nil, d.errorf("expected a JSON object")
	}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.pos != len(d.buf) {
		return nil, d.errorf("unexpected data after the object")
	}
	return v.(map[string]any), nil
}

// DecodeValue parses any single JSON value.
func DecodeValue(data []byte) (any, error) {
	d := newDecoder(data)
	defer d.release()
	d.skipSpace()
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.pos != len(d.buf) {
		return nil, d.errorf("unexpected data after the value")
	}
	return v, nil
}

type decoder struct {
	buf []byte
	// src is buf copied into one string. Keys and strings without escapes
	// are slices of it, so a record costs one copy instead of one per
	// string; the values of an event share the record's memory.
	src     string
	pos     int
	scratch []byte
	members []member // objects being read, innermost last
	stack   *[]member

	// With a Recycler, objects come from it and are recorded in owned;
	// topKeys is the number of keys of the top level.
	rec     *Recycler
	owned   []map[string]any
	topKeys int
}

func newDecoder(data []byte) decoder {
	d := decoder{buf: data, src: string(data)}
	if p, ok := memberStacks.Get().(*[]member); ok {
		d.stack = p
		d.members = (*p)[:0]
	}
	return d
}

// release returns the member stack for the next record.
func (d *decoder) release() {
	clear(d.members) // after an error it may still hold values
	if cap(d.members) > 4096 {
		return
	}
	if d.stack == nil {
		d.stack = new([]member)
	}
	*d.stack = d.members[:0]
	memberStacks.Put(d.stack)
	d.members, d.stack = nil, nil
}

var memberStacks sync.Pool

func (d *decoder) errorf(format string, args ...any) error {
	return fmt.Errorf("%w at byte %d: %s", ErrSyntax, d.pos, fmt.Sprintf(format, args...))
}

func (d *decoder) skipSpace() {
	for d.pos < len(d.buf) {
		switch d.buf[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *decoder) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, d.errorf("nested deeper than %d levels", maxDepth)
	}
	if d.pos >= len(d.buf) {
		return nil, d.errorf("unexpected end of input")
	}
	switch c := d.buf[d.pos]; {
	case c == '{':
		return d.object(depth)
	case c == '[':
		return d.array(depth)
	case c == '"':
		return d.str()
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	default:
		return nil, d.errorf("unexpected character %q", c)
	}
}

func (d *decoder) literal(word string) error {
	if len(d.buf)-d.pos < len(word) || string(d.buf[d.pos:d.pos+len(word)]) != word {
		return d.errorf("expected %s", word)
	}
	d.pos += len(word)
	return nil
}

// topLevelRoom is how many keys beyond its own a record's top-level map
// is made with: a flow adds the ECS objects there (event, source, network,
// data_stream, ...) and a map that grows is copied.
const topLevelRoom = 16

func (d *decoder) object(depth int) (any, error) {
	d.pos++ // '{'
	d.skipSpace()
	if d.pos < len(d.buf) && d.buf[d.pos] == '}' {
		d.pos++
		return make(map[string]any, 8), nil
	}
	// Members are gathered first, so the map is made at its final size
	// instead of growing (and copying) as keys arrive. The stack is shared
	// by nested objects: each uses the part above where it started.
	base := len(d.members)
	for {
		d.skipSpace()
		if d.pos >= len(d.buf) || d.buf[d.pos] != '"' {
			return nil, d.errorf("expected a quoted key")
		}
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		d.skipSpace()
		if d.pos >= len(d.buf) || d.buf[d.pos] != ':' {
			return nil, d.errorf("expected ':' after key %q", k)
		}
		d.pos++
		d.skipSpace()
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		d.members = append(d.members, member{k, v})
		d.skipSpace()
		if d.pos >= len(d.buf) {
			return nil, d.errorf("unexpected end of input in object")
		}
		switch d.buf[d.pos] {
		case ',':
			d.pos++
		case '}':
			d.pos++
			ms := d.members[base:]
			m := d.newObject(depth, len(ms))
			for _, x := range ms {
				m[x.k] = x.v
			}
			clear(ms) // drop references, the stack is reused
			d.members = d.members[:base]
			return m, nil
		default:
			return nil, d.errorf("expected ',' or '}' in object")
		}
	}
}

// newObject makes the map for an object of n keys at depth.
func (d *decoder) newObject(depth, n int) map[string]any {
	switch {
	case d.rec == nil:
		if depth == 0 {
			n += topLevelRoom
		}
		return make(map[string]any, n)
	case depth == 0:
		d.topKeys = n
		return d.rec.topLevel(n)
	case n <= recycleSmall:
		m := d.rec.object()
		d.owned = append(d.owned, m)
		return m
	}
	return make(map[string]any, n)
}

func (d *decoder) array(depth int) (any, error) {
	d.pos++ // '['
	a := make([]any, 0, 4)
	d.skipSpace()
	if d.pos < len(d.buf) && d.buf[d.pos] == ']' {
		d.pos++
		return a, nil
	}
	for {
		d.skipSpace()
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		d.skipSpace()
		if d.pos >= len(d.buf) {
			return nil, d.errorf("unexpected end of input in array")
		}
		switch d.buf[d.pos] {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return a, nil
		default:
			return nil, d.errorf("expected ',' or ']' in array")
		}
	}
}

func (d *decoder) str() (string, error) {
	d.pos++ // opening quote
	start := d.pos
	// Fast path: no escapes, all ASCII or valid UTF-8.
	ascii := true
	for d.pos < len(d.buf) {
		c := d.buf[d.pos]
		if c == '"' {
			end := d.pos
			d.pos++
			if ascii || utf8.Valid(d.buf[start:end]) {
				return d.src[start:end], nil
			}
			return string([]rune(d.src[start:end])), nil // invalid bytes become U+FFFD
		}
		if c == '\\' || c < 0x20 {
			break
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
		d.pos++
	}

	b := append(d.scratch[:0], d.buf[start:d.pos]...)
	for d.pos < len(d.buf) {
		c := d.buf[d.pos]
		switch {
		case c == '"':
			d.pos++
			d.scratch = b
			if utf8.Valid(b) {
				return string(b), nil
			}
			return string([]rune(string(b))), nil
		case c < 0x20:
			return "", d.errorf("control character in string")
		case c != '\\':
			b = append(b, c)
			d.pos++
			continue
		}
		d.pos++
		if d.pos >= len(d.buf) {
			break
		}
		e := d.buf[d.pos]
		d.pos++
		switch e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := d.hex4()
			if !ok {
				return "", d.errorf("bad \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if d.pos+1 < len(d.buf) && d.buf[d.pos] == '\\' && d.buf[d.pos+1] == 'u' {
					save := d.pos
					d.pos += 2
					if x, ok := d.hex4(); ok {
						r2 = x
					} else {
						d.pos = save
					}
				}
				dec := utf16.DecodeRune(r, r2)
				if dec == utf8.RuneError && r2 >= 0 {
					// Not a pair: keep the second escape for the next round.
					d.pos -= 6
				}
				r = dec
			}
			b = utf8.AppendRune(b, r)
		default:
			return "", d.errorf("bad escape \\%c", e)
		}
	}
	return "", d.errorf("unterminated string")
}

func (d *decoder) hex4() (rune, bool) {
	if len(d.buf)-d.pos < 4 {
		return 0, false
	}
	var r rune
	for _, c := range d.buf[d.pos : d.pos+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	d.pos += 4
	return r, true
}

func (d *decoder) number() (any, error) {
	start := d.pos
	isInt := true
	if d.buf[d.pos] == '-' {
		d.pos++
	}
	for d.pos < len(d.buf) {
		c := d.buf[d.pos]
		if c >= '0' && c <= '9' {
			d.pos++
			continue
		}
		if c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-' {
			isInt = false
			d.pos++
			continue
		}
		break
	}
	s := d.buf[start:d.pos]
	if isInt {
		if n, ok := parseInt(s); ok {
			return n, nil
		}
	}
	f, err := strconv.ParseFloat(string(s), 64)
	if err != nil {
		d.pos = start
		return nil, d.errorf("bad number %q", s)
	}
	return f, nil
}

// parseInt parses a decimal integer without allocating; ok is false on
// overflow or a malformed number, and the caller falls back to float.
func parseInt(s []byte) (int64, bool) {
	neg := false
	if len(s) > 0 && s[0] == '-' {
		neg = true
		s = s[1:]
	}
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}
