package event

import (
	"fmt"
	"strings"
)

// Path addresses one field of an event. It is parsed once, when a flow
// loads, and then used for every event.
//
// Syntax: segments separated by dots walk into nested objects, so
// `source.ip` is the key "ip" inside the object under "source". A segment
// in double quotes is one literal key that may itself hold dots, so
// `"id.orig_h"` is the single top-level key Zeek writes, and
// `zeek."id.orig_h"` is that key inside the object "zeek". Inside quotes,
// `\"` and `\\` stand for a quote and a backslash. The first segment may be
// `@metadata`, which addresses the event's metadata: values that travel
// with the event through the flow but are never written by an output.
type Path struct {
	text string
	segs []string
	meta bool
}

// ErrEmptyPath is returned by ParsePath for an empty reference.
var ErrEmptyPath = fmt.Errorf("empty field reference")

// ParsePath parses a field reference; see Path for the syntax.
func ParsePath(s string) (Path, error) {
	if s == "" {
		return Path{}, ErrEmptyPath
	}

	var segs []string
	for i := 0; i < len(s); {
		if s[i] == '"' {
			var b strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return Path{}, fmt.Errorf("field reference %q: unterminated quote", s)
			}
			segs = append(segs, b.String())
			i = j + 1
			if i < len(s) {
				if s[i] != '.' {
					return Path{}, fmt.Errorf("field reference %q: expected '.' after quoted key", s)
				}
				i++
				if i == len(s) {
					return Path{}, fmt.Errorf("field reference %q: ends with '.'", s)
				}
			}
			continue
		}
		j := strings.IndexByte(s[i:], '.')
		if j < 0 {
			j = len(s) - i
		}
		seg := s[i : i+j]
		if seg == "" {
			return Path{}, fmt.Errorf("field reference %q: empty segment (write a key with dots in quotes, e.g. '\"id.orig_h\"')", s)
		}
		if strings.ContainsRune(seg, '"') {
			return Path{}, fmt.Errorf("field reference %q: a quote may only open a segment", s)
		}
		segs = append(segs, seg)
		i += j + 1
		if i == len(s) && s[len(s)-1] == '.' {
			return Path{}, fmt.Errorf("field reference %q: ends with '.'", s)
		}
	}

	p := Path{text: s, segs: segs}
	if segs[0] == MetadataKey {
		p.meta = true
		p.segs = segs[1:]
		if len(p.segs) == 0 {
			return Path{}, fmt.Errorf("field reference %q: name a key inside @metadata", s)
		}
	}
	return p, nil
}

// MustPath is ParsePath for references fixed in code; it panics on error.
func MustPath(s string) Path {
	p, err := ParsePath(s)
	if err != nil {
		panic(err)
	}
	return p
}

// String returns the reference as it was written.
func (p Path) String() string { return p.text }

// IsZero reports whether p was never set.
func (p Path) IsZero() bool { return len(p.segs) == 0 }

// Segments returns the keys the path walks through. The slice must not be
// modified.
func (p Path) Segments() []string { return p.segs }

// IsMetadata reports whether the path addresses @metadata.
func (p Path) IsMetadata() bool { return p.meta }

// Last returns the final key of the path.
func (p Path) Last() string { return p.segs[len(p.segs)-1] }
