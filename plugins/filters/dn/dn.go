// Package dn is the filter that splits a distinguished name, such as a
// certificate subject, into one field per attribute.
package dn

import (
	_ "embed"
	"fmt"
	"sort"
	"strings"

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/field"
	"github.com/mdrsflow/mdrsflow/sdk"
)

//go:embed sample.yaml
var sample []byte

func init() {
	sdk.Register(sdk.Registration{
		Kind:    sdk.KindFilter,
		Name:    "dn",
		Summary: "split a distinguished name (certificate subject or issuer) into fields",
		New:     func() any { return New() },
		Sample:  sample,
	})
}

// DN is the dn filter. Its exported fields are its settings; see
// sample.yaml for what each one means.
type DN struct {
	Field  string            `yaml:"field"`
	Target string            `yaml:"target"`
	Names  map[string]string `yaml:"names"`
	Arrays bool              `yaml:"arrays"`

	field  sdk.Path
	names  map[string]sdk.Path // upper-cased attribute type → field
	order  []string            // attribute types, sorted, for a stable write order
	target sdk.Path
}

// ECSNames maps attribute types to the ECS x509 field names.
var ECSNames = map[string]string{
	"C": "country", "CN": "common_name", "DC": "domain_component", "L": "locality",
	"O": "organization", "OU": "organizational_unit", "ST": "state_or_province",
}

// New returns the filter with its defaults set.
func New() *DN { return &DN{Arrays: true} }

// Validate parses the references once.
func (d *DN) Validate() error {
	var err error
	if d.field, err = field.Parse("field", d.Field); err != nil {
		return err
	}
	if d.target, err = field.Parse("target", d.Target); err != nil {
		return err
	}
	names := d.Names
	if len(names) == 0 {
		names = ECSNames
	}
	d.names = make(map[string]sdk.Path, len(names))
	d.order = d.order[:0]
	for typ, name := range names {
		p, err := field.Child("names."+typ, d.target, name)
		if err != nil {
			return err
		}
		up := strings.ToUpper(strings.TrimSpace(typ))
		if _, dup := d.names[up]; dup {
			return fmt.Errorf("names: attribute type %q is listed twice", up)
		}
		d.names[up] = p
		d.order = append(d.order, up)
	}
	sort.Strings(d.order)
	return nil
}

// Apply parses the name and writes the attributes it knows. A value that
// is not text fails the event; text that is not a well-formed name is
// read as far as it goes.
func (d *DN) Apply(ev *sdk.Event) error {
	v, ok := ev.Get(d.field)
	if !ok || v == nil {
		return nil
	}
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("field %s holds %s, not a distinguished name", d.field, field.Kind(v))
	}
	values := map[string][]any{}
	for _, a := range Parse(s) {
		typ := strings.ToUpper(a.Type)
		if _, want := d.names[typ]; want {
			values[typ] = append(values[typ], a.Value)
		}
	}
	for _, typ := range d.order {
		vals := values[typ]
		switch {
		case len(vals) == 0:
			continue
		case d.Arrays:
			if err := field.Set(ev, d.names[typ], vals); err != nil {
				return err
			}
		case len(vals) == 1:
			if err := field.Set(ev, d.names[typ], vals[0]); err != nil {
				return err
			}
		}
	}
	return nil
}

// Attribute is one type=value pair of a distinguished name.
type Attribute struct {
	Type, Value string
}

// Parse reads a distinguished name in the RFC 4514 string form. Pairs are
// separated by unescaped ',', ';' or '+'; spaces around types, values and
// separators are dropped; `\,`-style escapes and `\XX` hex pairs are
// decoded. A pair without '=' is skipped.
func Parse(s string) []Attribute {
	var (
		out  []Attribute
		cur  strings.Builder
		typ  string
		inTy = true
		keep int // length of cur up to its last escaped character
	)
	flush := func() {
		val := cur.String()
		if !inTy {
			val = trimRight(val, keep)
			out = append(out, Attribute{Type: strings.TrimSpace(typ), Value: val})
		}
		cur.Reset()
		typ, inTy, keep = "", true, 0
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			if i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
				cur.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
				i += 2
			} else {
				cur.WriteByte(s[i+1])
				i++
			}
			keep = cur.Len()
		case c == '=' && inTy:
			typ = cur.String()
			cur.Reset()
			inTy, keep = false, 0
			for i+1 < len(s) && s[i+1] == ' ' {
				i++
			}
		case c == ',' || c == ';' || c == '+':
			flush()
			for i+1 < len(s) && s[i+1] == ' ' {
				i++
			}
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return out
}

// trimRight drops trailing spaces that were not escaped.
func trimRight(s string, keep int) string {
	end := len(s)
	for end > keep && s[end-1] == ' ' {
		end--
	}
	return s[:end]
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

var (
	_ sdk.Filter    = (*DN)(nil)
	_ sdk.Validator = (*DN)(nil)
)
