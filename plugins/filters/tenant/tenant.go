// Package tenant is the filter that decides which customer an event
// belongs to. Every other step of a flow may be wrong and the damage stays
// within one tenant's data; this one decides whose data it is, so it
// trusts nothing on the incoming record but the sensor name, and when in
// doubt it quarantines rather than guesses: a tenant that is invalid, not
// allowed, or contradicted by a tenant-like field of the record
// (organization.id, data_stream.namespace, labels.tenant) sends the event
// to quarantine, never to the tenant it claims.
package tenant

import (
	"context"
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
		Name:    "tenant",
		Summary: "set the event's tenant from the sensor name or a static id, or quarantine it",
		New:     func() any { return New() },
		Sample:  sample,
	})
}

// Tenant is the tenant filter. Its exported fields are its settings; see
// sample.yaml for what each one means.
type Tenant struct {
	SensorField string     `yaml:"sensor_field"`
	Separator   string     `yaml:"separator"`
	Static      string     `yaml:"static"`
	Allow       IDList     `yaml:"allow"`
	ClaimFields field.List `yaml:"claim_fields"`

	sensor    sdk.Path
	static    string
	allow     map[string]bool
	allowText string // for quarantine reasons
	claims    []claim

	// The last tenant written, as a value; see box.
	lastID    string
	lastBoxed any
}

// MaxLen is the longest tenant id, in bytes.
const MaxLen = 100

// The fields a tenant is written to. The metadata key is what the engine
// reads to route the event and derive its document id.
var (
	pathOrgID     = field.MustParse("organization.id")
	pathNamespace = field.MustParse("data_stream.namespace")
	written       = [][]string{dotted(pathOrgID), dotted(pathNamespace)}
)

// rule is the tenant id rule, for messages.
const rule = "a tenant id is lowercase letters, digits and _, starts with a letter or digit " +
	"and is at most 100 bytes (it becomes part of a data stream name, where - separates the parts)"

// New returns the filter with its defaults set.
func New() *Tenant {
	return &Tenant{SensorField: "_system_name", Separator: "-",
		ClaimFields: append(field.List(nil), defaultClaimFields...)}
}

// Validate checks the settings: the static tenant and every allowed id
// must be valid ids (capitals are lower-cased), the static tenant must be
// allowed, and claim_fields must be fields of the record.
func (t *Tenant) Validate() error {
	var err error
	if t.sensor, err = field.Parse("sensor_field", t.SensorField); err != nil {
		return err
	}
	if t.Separator == "" {
		return fmt.Errorf("separator: must not be empty; the default is \"-\"")
	}

	t.allow = nil
	if len(t.Allow) > 0 {
		t.allow = make(map[string]bool, len(t.Allow))
		for i, a := range t.Allow {
			id := lowerASCII(a)
			if !Valid(id) {
				hint := ""
				if strings.ContainsAny(a, " \t;") {
					hint = "; separate ids with commas"
				}
				return fmt.Errorf("allow[%d]: %q is not a valid tenant id: %s%s", i, a, rule, hint)
			}
			t.allow[id] = true
		}
		t.allowText = listText(t.allow)
	}

	if t.claims, err = parseClaims(t.ClaimFields); err != nil {
		return err
	}

	t.static = lowerASCII(t.Static)
	if t.static != "" {
		if !Valid(t.static) {
			return fmt.Errorf("static: %q is not a valid tenant id: %s", t.Static, rule)
		}
		if t.allow != nil && !t.allow[t.static] {
			return fmt.Errorf("static: tenant %q is not in allow (%s)", t.static, t.allowText)
		}
	}
	return nil
}

// Start warns about a setting that is valid but easy to get wrong: a
// static tenant with no allow list, where a sensor whose name ends in
// "-<anything>" still names the tenant, so sensor-01 writes as tenant 01.
func (t *Tenant) Start(_ context.Context, env sdk.Env) error {
	if t.static != "" && t.allow == nil && env.Logger != nil {
		env.Logger.Warn("static tenant set without an allow list: a tenant in a sensor name "+
			"still wins over it (a sensor named sensor-01 writes as tenant 01); set allow "+
			"(MDRSFLOW_TENANTS in the quickstart) to the tenants this sidecar serves",
			"static", t.static, "sensor_field", t.SensorField)
	}
	return nil
}

// Valid reports whether id is a valid tenant id: 1 to 100 bytes of
// lowercase letters, digits and _, starting with a letter or digit.
func Valid(id string) bool {
	if id == "" || len(id) > MaxLen || id[0] == '_' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Apply sets the tenant, or quarantines the event. It never fails the
// event: an event whose tenant is unknown must not go to a tenant's
// failures target either.
func (t *Tenant) Apply(ev *sdk.Event) error {
	id, from, reason := t.determine(ev)
	if reason == "" {
		id = lowerASCII(id)
		switch {
		case !Valid(id):
			reason = fmt.Sprintf("invalid tenant %s from %s: %s", field.Quote(id), from, rule)
		case t.allow != nil && !t.allow[id]:
			reason = fmt.Sprintf("tenant %s from %s is not in allow (%s)", field.Quote(id), from, t.allowText)
		default:
			if name, v, bad := t.conflict(ev, id); bad {
				reason = fmt.Sprintf("tenant conflict: the record's %s is %s, but its tenant from %s is %s",
					name, field.Quote(v), from, field.Quote(id))
			}
		}
	}
	if reason != "" {
		delete(ev.Meta(), "tenant")
		ev.SetMeta("quarantine", reason)
		return nil
	}

	// The record's own tenant fields, nested, as keys with dots or inside
	// arrays, are replaced by the ones this filter writes.
	for _, segs := range written {
		removeAll(ev, segs)
	}
	boxed := t.box(id)
	force(ev, pathOrgID, boxed)
	force(ev, pathNamespace, boxed)
	ev.SetMeta("tenant", boxed)
	delete(ev.Meta(), "quarantine")
	return nil
}

// box returns id as a value to store, reusing the last one's: a site's
// events nearly all carry one tenant, and each conversion of a string to
// a value is an allocation.
func (t *Tenant) box(id string) any {
	if t.lastBoxed == nil || t.lastID != id {
		t.lastID, t.lastBoxed = id, id
	}
	return t.lastBoxed
}

// determine finds the tenant id before checks: the sensor name's suffix,
// or else the static tenant. from says where it came from; a reason is
// set when there is none.
func (t *Tenant) determine(ev *sdk.Event) (id, from, reason string) {
	v, ok := ev.Get(t.sensor)
	name, isText := v.(string)
	if isText && name != "" {
		i := strings.LastIndex(name, t.Separator)
		if i >= 0 && i+len(t.Separator) < len(name) {
			from := fmt.Sprintf("sensor name %s (in %s)", field.Quote(name), t.sensor)
			return name[i+len(t.Separator):], from, ""
		}
		if i >= 0 {
			// "sensor-" names a tenant and leaves it empty: a broken
			// sensor setting, not a sensor without a tenant, so it is
			// not repaired with the static tenant.
			return "", "", fmt.Sprintf("sensor name %s (in %s) ends in %q with no tenant after it",
				field.Quote(name), t.sensor, t.Separator)
		}
	}
	if ok && v != nil && !isText {
		// A sensor name that is not text is a broken record; the static
		// tenant would only hide it.
		return "", "", fmt.Sprintf("%s holds %s (%s), not a sensor name", t.sensor, field.Kind(v), field.Quote(v))
	}
	if t.static != "" {
		return t.static, "the static setting", ""
	}

	switch {
	case !ok || v == nil || name == "" && isText:
		reason = fmt.Sprintf("no tenant: the event has no sensor name in %s and no static tenant is set",
			t.sensor)
	case !isText:
		reason = fmt.Sprintf("no tenant: %s holds %s (%s), not a sensor name, and no static tenant is set",
			t.sensor, field.Kind(v), field.Quote(v))
	default:
		reason = fmt.Sprintf("no tenant: sensor name %s (in %s) does not end in %q and a tenant id, "+
			"and no static tenant is set", field.Quote(name), t.sensor, t.Separator)
	}
	return "", "", reason
}

// force writes v at p, a top-level field's child, replacing whatever
// non-object the incoming record has there (an `organization` that is
// text): the tenant fields must always be the ones this filter wrote.
func force(ev *sdk.Event, p sdk.Path, v any) {
	if ev.Set(p, v) == nil {
		return
	}
	delete(ev.Fields(), p.Segments()[0])
	_ = ev.Set(p, v)
}

func listText(set map[string]bool) string {
	ids := make([]string, 0, len(set))
	for id := range set {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	const show = 5
	if len(ids) > show {
		return strings.Join(ids[:show], ", ") + fmt.Sprintf(" and %d more", len(ids)-show)
	}
	return strings.Join(ids, ", ")
}

var (
	_ sdk.Filter    = (*Tenant)(nil)
	_ sdk.Validator = (*Tenant)(nil)
	_ sdk.Starter   = (*Tenant)(nil)
)
