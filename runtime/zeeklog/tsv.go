package zeeklog

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// kind is how a Zeek type is written in JSON.
type kind uint8

const (
	kString kind = iota // string, addr, subnet, enum, pattern and the rest
	kBool               // T or F
	kInt                // int: an optional sign and digits
	kCount              // count, counter, port: digits
	kNumber             // time, interval, double: a number, digits kept
)

// ztype is one column's type from the #types header.
type ztype struct {
	name      string // as written, for error messages
	kind      kind   // the type, or the element type of a container
	container bool   // set[T], vector[T] or table[T]
}

func parseType(s string) ztype {
	t := ztype{name: s}
	elem := s
	for _, c := range []string{"set[", "vector[", "table["} {
		if strings.HasPrefix(s, c) && strings.HasSuffix(s, "]") {
			t.container = true
			elem = s[len(c) : len(s)-1]
			break
		}
	}
	switch elem {
	case "bool":
		t.kind = kBool
	case "int":
		t.kind = kInt
	case "count", "counter", "port":
		t.kind = kCount
	case "time", "interval", "double":
		t.kind = kNumber
	default:
		t.kind = kString
	}
	return t
}

// header is the state set by a TSV header block.
type header struct {
	sep, setSep, empty, unset string

	path       string
	fields     []string
	keys       [][]byte // `"name":` for each field, ready to append
	types      []ztype
	fieldsLine int64 // line of the #fields header, for error messages

	// lines holds the raw header lines that set this state, one per key
	// in the order they came, so a resumed reader can rebuild it.
	lines []string
	text  string // lines joined, cached for Position
}

func newHeader() header {
	return header{sep: "\t", setSep: ",", empty: "(empty)", unset: "-"}
}

// active reports whether data lines can be converted: a #fields header has
// been seen.
func (h *header) active() bool { return h.fields != nil }

// apply takes one header line (starting with '#') at line number ln.
// Lines that set no state (#open, #close, comments) are ignored.
func (h *header) apply(line string, ln int64) {
	if rest, ok := strings.CutPrefix(line, "#separator"); ok {
		if len(rest) == 0 || (rest[0] != ' ' && rest[0] != '\t') {
			return
		}
		sep := unescapeHex(rest[1:])
		if sep == "" {
			return
		}
		// A #separator line starts a new header block.
		*h = newHeader()
		h.sep = sep
		h.remember("#separator", line)
		return
	}

	key, value, ok := strings.Cut(line, h.sep)
	if !ok {
		return
	}
	switch key {
	case "#set_separator":
		h.setSep = value
	case "#empty_field":
		h.empty = value
	case "#unset_field":
		h.unset = value
	case "#path":
		h.path = value
	case "#fields":
		h.fields = strings.Split(value, h.sep)
		h.keys = make([][]byte, len(h.fields))
		for i, f := range h.fields {
			h.keys[i] = append(appendString(nil, []byte(f)), ':')
		}
		h.fieldsLine = ln
	case "#types":
		names := strings.Split(value, h.sep)
		h.types = make([]ztype, len(names))
		for i, n := range names {
			h.types[i] = parseType(n)
		}
	default:
		return
	}
	h.remember(key, line)
}

// remember records the line that set key, replacing an earlier one.
func (h *header) remember(key, line string) {
	h.text = ""
	for i, l := range h.lines {
		if strings.HasPrefix(l, key) && len(l) > len(key) &&
			strings.HasPrefix(l[len(key):], h.sep) {
			h.lines[i] = line
			return
		}
	}
	h.lines = append(h.lines, line)
}

// joined returns the header lines as one string, "" when there are none.
func (h *header) joined() string {
	if h.text == "" && len(h.lines) > 0 {
		h.text = strings.Join(h.lines, "\n")
	}
	return h.text
}

// fieldsAt names the #fields header for an error message.
func (h *header) fieldsAt() string {
	if h.fieldsLine > 0 {
		return fmt.Sprintf("the #fields header (line %d)", h.fieldsLine)
	}
	return "the #fields header"
}

// unescapeHex decodes \xNN sequences, as Zeek writes the #separator value.
func unescapeHex(s string) string {
	if !strings.Contains(s, `\x`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// convert appends the JSON object for one TSV data line to dst, the way
// Zeek's JSON writer would write the same log entry. It returns a reason
// when the line does not fit the header.
func (h *header) convert(dst, line []byte) ([]byte, string) {
	if len(h.types) != len(h.fields) {
		return dst, fmt.Sprintf("%s names %d fields but #types lists %d; the log "+
			"header is damaged", h.fieldsAt(), len(h.fields), len(h.types))
	}
	sep := []byte(h.sep)
	if n := bytes.Count(line, sep) + 1; n != len(h.fields) {
		return dst, fmt.Sprintf("line has %d columns but %s names %d; the line may "+
			"be cut off or the header may not belong to it", n, h.fieldsAt(),
			len(h.fields))
	}

	dst = append(dst, '{')
	first := true
	rest := line
	for i := range h.fields {
		col := rest
		if j := index(rest, sep); j >= 0 {
			col, rest = rest[:j], rest[j+len(sep):]
		}
		if string(col) == h.unset {
			continue
		}
		mark := len(dst)
		if !first {
			dst = append(dst, ',')
		}
		dst = append(dst, h.keys[i]...)
		var err string
		dst, err = h.value(dst, col, h.types[i])
		if err != "" {
			return dst[:mark], fmt.Sprintf("field %q (%s): %s", h.fields[i],
				h.types[i].name, err)
		}
		first = false
	}
	return append(dst, '}'), ""
}

// index is bytes.Index with a fast path for the usual one-byte separator.
func index(b, sep []byte) int {
	if len(sep) == 1 {
		return bytes.IndexByte(b, sep[0])
	}
	return bytes.Index(b, sep)
}

// value appends one column's value.
func (h *header) value(dst, col []byte, t ztype) ([]byte, string) {
	if !t.container {
		return h.scalar(dst, col, t.kind)
	}
	dst = append(dst, '[')
	if string(col) == h.empty {
		return append(dst, ']'), ""
	}
	setSep := []byte(h.setSep)
	for i := 0; ; i++ {
		elem := col
		j := index(col, setSep)
		if j >= 0 && len(setSep) > 0 {
			elem, col = col[:j], col[j+len(setSep):]
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		var err string
		if dst, err = h.scalar(dst, elem, t.kind); err != "" {
			return dst, err
		}
		if j < 0 || len(setSep) == 0 {
			break
		}
	}
	return append(dst, ']'), ""
}

// scalar appends one value of kind k.
func (h *header) scalar(dst, v []byte, k kind) ([]byte, string) {
	if k == kString {
		if string(v) == h.empty {
			return append(dst, `""`...), ""
		}
		return appendString(dst, unescapeBackslash(v)), ""
	}
	switch k {
	case kBool:
		switch string(v) {
		case "T":
			return append(dst, "true"...), ""
		case "F":
			return append(dst, "false"...), ""
		}
		return dst, fmt.Sprintf("%s is not T or F", quote(v))
	case kInt, kCount:
		digits := v
		neg := false
		if k == kInt && len(digits) > 0 && (digits[0] == '-' || digits[0] == '+') {
			neg = digits[0] == '-'
			digits = digits[1:]
		}
		if len(digits) == 0 || !allDigits(digits) {
			return dst, fmt.Sprintf("%s is not a whole number", quote(v))
		}
		for len(digits) > 1 && digits[0] == '0' {
			digits = digits[1:] // JSON allows no leading zeros
		}
		if neg && !(len(digits) == 1 && digits[0] == '0') {
			dst = append(dst, '-')
		}
		return append(dst, digits...), ""
	}

	// kNumber: keep the digits as Zeek wrote them when they already form
	// a JSON number, so 1672843056.913119 is not rounded through a float.
	if jsonNumber(v) {
		return append(dst, v...), ""
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return dst, fmt.Sprintf("%s is not a finite number", quote(v))
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64), ""
}

// unescapeBackslash undoes the one escape Zeek's ASCII writer makes that
// its JSON writer does not: a backslash written as two. \xNN escapes stay
// as they are, since Zeek's JSON writer writes those bytes the same way.
func unescapeBackslash(v []byte) []byte {
	i := bytes.Index(v, []byte(`\\`))
	if i < 0 {
		return v
	}
	out := append(make([]byte, 0, len(v)), v[:i]...)
	for ; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) && v[i+1] == '\\' {
			i++
		}
		out = append(out, v[i])
	}
	return out
}

// appendString appends b as a JSON string. Zeek's \xNN escapes stay as
// the literal text they are, as in Zeek's own JSON output; a byte that is
// not valid UTF-8 becomes such an escape too (as Zeek's JSON writer does),
// so nothing is lost and the output is always valid JSON.
func appendString(dst, b []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(b); {
		c := b[i]
		if c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\' {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(b[i:])
			if r != utf8.RuneError || size > 1 {
				i += size
				continue
			}
		}
		dst = append(dst, b[start:i]...)
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\t':
			dst = append(dst, `\t`...)
		case c == '\n':
			dst = append(dst, `\n`...)
		case c == '\r':
			dst = append(dst, `\r`...)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default: // invalid UTF-8
			dst = append(dst, '\\', '\\', 'x', hex[c>>4], hex[c&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, b[start:]...)
	return append(dst, '"')
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// jsonNumber reports whether b is a number in JSON's grammar.
func jsonNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	return i == len(b)
}

// quote shortens and quotes a value for an error message.
func quote(b []byte) string {
	const max = 64
	if len(b) > max {
		return strconv.Quote(string(b[:max])) + "..."
	}
	return strconv.Quote(string(b))
}
