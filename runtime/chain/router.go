package chain

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mdrsflow/mdrsflow/runtime/event"
	"github.com/mdrsflow/mdrsflow/runtime/expr"
	"github.com/mdrsflow/mdrsflow/sdk"
)

// router decides, at the end of a flow's last chain, which outputs take an
// event and under which target.
//
// A normal event goes to every output whose `when` holds, under that
// output's target template. A failed event goes to the failures target,
// and a quarantined one (tenant unknown or not trusted, record unreadable)
// to the quarantine target, of every output whose `when` holds for it or
// that has no `when`. An event no output takes keeps no routes, and the
// host writes it to the dead-letter queue with the reason.
type router struct {
	outs []routeOut
}

type routeOut struct {
	spec                         RouteSpec
	when                         *expr.Program
	target, failures, quarantine *template
}

// Router routes records that never reached the end of the chain: those
// a crashing filter process was isolated from. The host builds one from
// the same spec the last chain has.
type Router struct {
	r   *router
	now func() time.Time
}

// NewRouter builds a router for the host.
func NewRouter(spec RouterSpec) (*Router, error) {
	r, err := newRouter(spec)
	if err != nil {
		return nil, err
	}
	return &Router{r: r, now: time.Now}, nil
}

// RouteFailed turns rec into a failure document (the original record
// kept as event.original) with reason, and routes it to quarantine: its
// tenant was never established by the chain.
func (r *Router) RouteFailed(rec *sdk.Record, reason string) {
	c := &Chain{now: r.now}
	ev := c.failedShell(rec.Data, reason)
	rec.Error = reason
	rec.Quarantine = "not processed: " + reason
	rec.Tenant = ""
	r.r.route(ev, rec)
	data, _ := ev.Encode(nil)
	rec.Data = data
}

func newRouter(spec RouterSpec) (*router, error) {
	r := &router{}
	for i, o := range spec.Outputs {
		ro := routeOut{spec: o}
		var err error
		if o.When != "" {
			if ro.when, err = expr.CompileBool(o.When); err != nil {
				return nil, fmt.Errorf("output %s: when: %w", o.ID, err)
			}
		}
		if ro.target, err = parseTemplate(o.Target); err != nil {
			return nil, fmt.Errorf("output %s: target: %w", o.ID, err)
		}
		if ro.failures, err = parseTemplate(o.Failures); err != nil {
			return nil, fmt.Errorf("output %s: failures: %w", o.ID, err)
		}
		if ro.quarantine, err = parseTemplate(o.Quarantine); err != nil {
			return nil, fmt.Errorf("output %s: quarantine: %w", o.ID, err)
		}
		// A quarantined event's fields and tenant are not trusted, so
		// they must not choose where it goes.
		for _, p := range ro.quarantine.parts {
			if p.lit == "" {
				return nil, fmt.Errorf("output %s: quarantine: %q takes {%s} from the event, but quarantined "+
					"events are those whose tenant or content cannot be trusted; use a fixed name such as "+
					"\"parse_failures-quarantine-default\"", o.ID, o.Quarantine, p.name)
			}
		}
		_ = i
		r.outs = append(r.outs, ro)
	}
	return r, nil
}

func (r *router) route(ev *event.Event, rec *sdk.Record) {
	rec.Routes = rec.Routes[:0]
	if rec.Tenant != "" {
		// The tenant filter checks what it writes; this catches a tenant
		// set any other way (a step or plugin writing @metadata.tenant)
		// before it becomes part of an index name.
		if err := checkTenant(rec.Tenant); err != nil {
			rec.Quarantine = fmt.Sprintf("invalid tenant %s in @metadata.tenant: %v", quoteCut(rec.Tenant), err)
			rec.Tenant = ""
		}
	}
	if rec.Quarantine == "" && rec.Error == "" {
		for i, o := range r.outs {
			if o.when != nil {
				ok, err := o.when.EvalBool(ev)
				if err != nil {
					rec.Error = fmt.Sprintf("output %s: when: %v", o.spec.ID, err)
					break
				}
				if !ok {
					continue
				}
			}
			target, err := o.target.render(ev, rec.Tenant)
			if err != nil {
				if rec.Tenant == "" {
					rec.Quarantine = "no tenant: " + err.Error()
				} else {
					rec.Error = fmt.Sprintf("output %s: target: %v", o.spec.ID, err)
				}
				break
			}
			rec.Routes = append(rec.Routes, sdk.Route{Output: i, Target: target})
		}
		if rec.Quarantine == "" && rec.Error == "" {
			return
		}
		rec.Routes = rec.Routes[:0]
		if rec.Error != "" {
			markRoutingFailure(ev, rec.Error)
		}
	}

	if rec.Quarantine == "" && rec.Tenant == "" {
		rec.Quarantine = "failed before its tenant was known: " + rec.Error
	}
	_ = ev.Set(event.MustPath("@metadata.quarantine"), rec.Quarantine)

	pick := func(o routeOut) (string, error) {
		if rec.Quarantine != "" {
			return o.quarantine.render(ev, "")
		}
		return o.failures.render(ev, rec.Tenant)
	}
	for i, o := range r.outs {
		if o.when != nil {
			if ok, err := o.when.EvalBool(ev); err != nil || !ok {
				continue
			}
		}
		r.add(ev, rec, i, o, pick)
	}
	// An output whose `when:` does not hold never gets the event, not even
	// a failure: with one output per customer cluster, a fallback to every
	// output would copy one customer's record into the others'. A record
	// no output takes is left without routes; the host keeps it in the
	// dead-letter queue on local disk.
}

func (r *router) add(ev *event.Event, rec *sdk.Record, i int, o routeOut, pick func(routeOut) (string, error)) {
	t, err := pick(o)
	if err != nil {
		// The failures template could not be filled either: fall back
		// to quarantine, whose template the flow keeps simple.
		t, err = o.quarantine.render(ev, "")
		if err != nil {
			t = "quarantine-mdrsflow-default"
		}
	}
	rec.Routes = append(rec.Routes, sdk.Route{Output: i, Target: t})
}

func markRoutingFailure(ev *event.Event, msg string) {
	_ = ev.Set(pathErrorMessage, msg)
	_ = ev.Set(pathEventKind, "pipeline_error")
	addTag(ev, "_mdrsflow_failure")
}

// template is a parsed target template such as
// "logs-{data_stream.dataset}-{tenant}".
type template struct {
	text  string
	parts []tplPart
}

type tplPart struct {
	lit  string
	name string     // placeholder as written; "" for a literal
	path event.Path // field path, for placeholders other than tenant
	meta event.Path // @metadata.<name>, tried first
}

func parseTemplate(s string) (*template, error) {
	t := &template{text: s}
	for s != "" {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			t.parts = append(t.parts, tplPart{lit: s})
			break
		}
		if i > 0 {
			t.parts = append(t.parts, tplPart{lit: s[:i]})
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return nil, fmt.Errorf("%q: `{` without `}`", t.text)
		}
		name := s[i+1 : i+j]
		p := tplPart{name: name}
		if name != "tenant" {
			var err error
			if p.path, err = event.ParsePath(name); err != nil {
				return nil, fmt.Errorf("%q: %w", t.text, err)
			}
			if !strings.ContainsAny(name, `."`) {
				p.meta = event.MustPath(event.MetadataKey + "." + name)
			}
		}
		t.parts = append(t.parts, p)
		s = s[i+j+1:]
	}
	return t, nil
}

func (t *template) render(ev *event.Event, tenant string) (string, error) {
	if len(t.parts) == 1 && t.parts[0].name == "" {
		return t.parts[0].lit, nil
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.name == "" {
			b.WriteString(p.lit)
			continue
		}
		var v string
		if p.name == "tenant" {
			if tenant == "" {
				return "", fmt.Errorf("%q needs {tenant} and the event has none", t.text)
			}
			v = tenant
		} else {
			var raw any
			ok := false
			if !p.meta.IsZero() {
				raw, ok = ev.Get(p.meta)
			}
			if !ok {
				raw, ok = ev.Get(p.path)
			}
			s, isStr := raw.(string)
			if !ok || !isStr || s == "" {
				return "", fmt.Errorf("%q needs {%s} and the event has no such text field", t.text, p.name)
			}
			v = strings.ToLower(s)
			if err := checkTargetPiece(v); err != nil {
				return "", fmt.Errorf("%q: {%s} = %q: %w", t.text, p.name, s, err)
			}
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// checkTargetPiece accepts what may stand in an index or data stream name
// between the dashes: lowercase letters, digits, '_' and '.', at most 100
// bytes. A dash would let an event move itself into another namespace.
func checkTargetPiece(s string) error {
	if len(s) > 100 {
		return fmt.Errorf("longer than 100 bytes")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' {
			continue
		}
		return fmt.Errorf("%q is not allowed in a target (only a-z, 0-9, '_' and '.')", c)
	}
	if s[0] == '.' || s[0] == '_' {
		return fmt.Errorf("must not start with %q", s[0])
	}
	return nil
}

// checkTenant accepts a tenant id as the tenant filter writes it: 1 to
// 100 bytes of lowercase letters, digits and '_', not starting with '_'.
// No '-' and no '.', so {tenant} is always the last part of a target and
// cannot name another tenant's.
func checkTenant(s string) error {
	if s == "" || len(s) > 100 {
		return fmt.Errorf("a tenant id is 1 to 100 bytes")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' {
			continue
		}
		return fmt.Errorf("%q is not allowed in a tenant id (only a-z, 0-9 and '_')", c)
	}
	if s[0] == '_' {
		return fmt.Errorf("a tenant id must not start with '_'")
	}
	return nil
}

// quoteCut quotes s for a message, cut to about 100 bytes.
func quoteCut(s string) string {
	if len(s) <= 100 {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:100]) + fmt.Sprintf("… (%d bytes)", len(s))
}
