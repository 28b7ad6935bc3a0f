package tenant

import (
	"fmt"
	"strings"

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/field"
	"github.com/mdrsflow/mdrsflow/sdk"
)

// defaultClaimFields are the fields of an incoming record that name a
// tenant: the two this filter writes, and the label some shippers add.
//
// Limitation: only the claim fields are compared with the tenant — a record
// that names a tenant in another field (a custom `customer`) is written under
// its sensor's tenant with that field as it came; list such fields in
// claim_fields.
var defaultClaimFields = []string{"organization.id", "data_stream.namespace", "labels.tenant"}

// claim is a field of the incoming record that names a tenant.
type claim struct {
	name string   // as configured, for messages
	segs []string // its parts between dots
}

// parseClaims parses the claim_fields setting.
func parseClaims(list []string) ([]claim, error) {
	out := make([]claim, 0, len(list))
	for i, s := range list {
		setting := fmt.Sprintf("claim_fields[%d]", i)
		p, err := field.Parse(setting, s)
		if err != nil {
			return nil, err
		}
		if p.IsMetadata() {
			return nil, fmt.Errorf("%s: %s is metadata, which no incoming record can carry; "+
				"name a field of the record", setting, s)
		}
		segs := dotted(p)
		for _, seg := range segs {
			if seg == "" {
				return nil, fmt.Errorf("%s: %q has an empty part between dots", setting, s)
			}
		}
		out = append(out, claim{name: s, segs: segs})
	}
	return out, nil
}

// dotted returns p's parts between dots. A key with dots stands for the
// same field as nested objects, as Elasticsearch reads a document, so
// `"data_stream.namespace"` and data_stream.namespace are one field here.
func dotted(p sdk.Path) []string { return strings.Split(strings.Join(p.Segments(), "."), ".") }

// each calls fn for every place in m that holds the field segs, however
// the record spells it: nested objects, keys with dots, a mix of both, or
// objects inside arrays, which Elasticsearch indexes as the same field.
// fn may delete m[key].
func each(m map[string]any, segs []string, fn func(m map[string]any, key string)) {
	for k := 1; k <= len(segs); k++ {
		key := strings.Join(segs[:k], ".")
		v, ok := m[key]
		if !ok {
			continue
		}
		if k == len(segs) {
			fn(m, key)
			continue
		}
		into(v, segs[k:], fn)
	}
}

func into(v any, segs []string, fn func(m map[string]any, key string)) {
	switch x := v.(type) {
	case map[string]any:
		each(x, segs, fn)
	case []any:
		for _, e := range x {
			into(e, segs, fn)
		}
	}
}

// conflict returns the first claim of the record that names a tenant
// other than id: the field and the value found there. A claim names id
// when it is the text id, capitals aside; null and "" name nobody; any
// other value (another id, a number, a list) is a conflict.
func (t *Tenant) conflict(ev *sdk.Event, id string) (name string, v any, found bool) {
	for _, c := range t.claims {
		each(ev.Fields(), c.segs, func(m map[string]any, key string) {
			if found || names(m[key], id) {
				return
			}
			name, v, found = c.name, m[key], true
		})
		if found {
			return name, v, true
		}
	}
	return "", nil, false
}

func names(v any, id string) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == "" || lowerASCII(x) == id
	}
	return false
}

// removeAll removes every spelling of the field segs from the record.
func removeAll(ev *sdk.Event, segs []string) {
	each(ev.Fields(), segs, func(m map[string]any, key string) { delete(m, key) })
}
