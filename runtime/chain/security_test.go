package chain_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/mdrsflow/mdrsflow/runtime/chain"
	"github.com/mdrsflow/mdrsflow/runtime/chain/chaintest"
	"github.com/mdrsflow/mdrsflow/sdk"

	_ "github.com/mdrsflow/mdrsflow/plugins/all"
)

// The tenant isolation property: whatever tenant markers an event
// carries, it is written under its own tenant's targets or to quarantine,
// never under another tenant's. Events are generated from a seeded source
// (the seed is in the failure message), run through a real chain built
// from flow YAML — the tenant step and a router whose target takes
// {data_stream.dataset} from the event — and every route is checked.

const quarantineTarget = "quarantine-mdrsflow-default"

// sidecar is one tenant step configuration under test.
type sidecar struct {
	name   string
	static string   // "" for none
	allow  []string // nil for any valid tenant
	yaml   string   // the tenant step's settings
}

var sidecars = []sidecar{
	{name: "allow list and static", static: "acme", allow: []string{"acme", "globex", "initech_2"},
		yaml: "static: acme\n      allow: [acme, globex, initech_2]"},
	{name: "allow from the environment, no static", allow: []string{"acme", "globex", "initech_2"},
		yaml: "allow: ${MDRSFLOW_TEST_TENANTS}"},
	{name: "static, any tenant", static: "acme", yaml: "static: ${MDRSFLOW_TEST_STATIC}\n      allow: ${MDRSFLOW_TEST_UNSET:-}"},
	{name: "nothing set", yaml: "{}"},
}

func buildPropChain(t *testing.T, sc sidecar) *chain.Chain {
	t.Helper()
	t.Setenv("MDRSFLOW_TEST_TENANTS", "acme, GLOBEX,initech_2")
	t.Setenv("MDRSFLOW_TEST_STATIC", "ACME")
	text := fmt.Sprintf(`name: prop
routing:
  target: "logs-{data_stream.dataset}-{tenant}"
  failures: "failures-mdrsflow-{tenant}"
  quarantine: %q
filters:
  - tenant:
      %s
outputs:
  - file: {path: out}
`, quarantineTarget, sc.yaml)
	c := chaintest.Build(t, text)
	return c
}

// Tenant ids that are valid (some allowed, some not) and values that are
// not tenant ids at all. None of the hostile ones contains the separator,
// so a sensor name ending in one of them has no valid suffix.
var (
	validTenants = []string{"acme", "globex", "initech_2", "evil", "hooli", "0day", "a", "logs",
		strings.Repeat("t", 100)}
	hostileIDs = []string{"../acme", "acme*", "*", "ac.me", "äcme", "\u212acme", "acme evil",
		strings.Repeat("x", 101), "_acme", "acme\n", "acme/..", "acme%2d", "ａｃｍｅ", "acme\x00",
		"{tenant}", "acme,globex"}
	sensorPrefixes = []string{"sensor", "cl-sensor-01", "zeek.dmz", "acme-sensor", "globex", "s p a c e"}
	// Datasets: valid pieces of an index name, and values that would move
	// the target elsewhere if they were taken as they are.
	validDatasets   = []string{"conn", "zeek.dns", "corelight.conn", "a_b.c", "x"}
	hostileDatasets = []string{"conn-evil", "conn-acme", "../x", "*", "", "ünï", strings.Repeat("d", 101),
		".hidden", "_x", "logs-x-evil", "a b", "a,b", "\u212aonn", "conn\n"}
)

// genEvent is one generated event and what the test knows about it.
type genEvent struct {
	json []byte
	// truth is the tenant the event really comes from: its sensor's
	// suffix, or the static tenant for a sensor name without one; "" when
	// it has none (it must be quarantined).
	truth string
	// conflict says a tenant-like field names someone other than truth.
	conflict bool
	// clean says nothing about the event should keep it from its normal
	// target when truth is allowed: a valid dataset, no field spelt twice.
	clean   bool
	dataset string
	desc    []string
}

func randomCase(r *rand.Rand, s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' && r.IntN(3) == 0 {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// setPath writes v at the dotted path p of m as nested objects.
func setPath(m map[string]any, p string, v any) {
	parts := strings.Split(p, ".")
	for _, k := range parts[:len(parts)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
}

func generate(r *rand.Rand, sc sidecar) genEvent {
	ev := genEvent{clean: true}
	rec := map[string]any{"uid": fmt.Sprintf("C%d", r.Int64())}
	note := func(f string, a ...any) { ev.desc = append(ev.desc, fmt.Sprintf(f, a...)) }

	// Where the event comes from.
	switch r.IntN(10) {
	case 0, 1, 2, 3, 4: // a sensor named after its tenant
		ev.truth = pick(r, validTenants)
		rec["_system_name"] = pick(r, sensorPrefixes) + "-" + randomCase(r, ev.truth)
	case 5, 6: // a sensor name without a suffix
		switch r.IntN(5) {
		case 0:
			rec["_system_name"] = "sensor01"
		case 1:
			rec["_system_name"] = "sensor-"
		case 2:
			rec["_system_name"] = ""
		case 3:
			rec["_system_name"] = map[string]any{"name": "s-evil"}
		}
		ev.truth = sc.static
	default: // a sensor name whose suffix is not a tenant id
		rec["_system_name"] = pick(r, sensorPrefixes) + "-" + pick(r, hostileIDs)
	}
	note("sensor %q", rec["_system_name"])

	// Tenant markers on the record: consistent, conflicting or empty.
	claim := func() any {
		switch r.IntN(20) {
		case 0, 1, 2, 3, 4, 5, 6, 7, 8, 9:
			if ev.truth != "" {
				return randomCase(r, ev.truth)
			}
			return pick(r, validTenants)
		case 10, 11, 12:
			return pick(r, validTenants)
		case 13, 14, 15:
			return pick(r, hostileIDs)
		case 16, 17:
			return nil
		}
		return pick(r, []any{"", int64(7), []any{"acme", "evil"}, map[string]any{"id": "acme"}})
	}
	names := func(v any) bool {
		s, ok := v.(string)
		return v == nil || ok && (s == "" || strings.ToLower(s) == ev.truth && isASCII(s))
	}
	spelt := map[string]int{}
	dsText := r.IntN(12) == 0 // data_stream is text, not an object
	if dsText {
		rec["data_stream"] = "evil" // replaced by the tenant step
		spelt["data_stream"] = 1
		note("data_stream = \"evil\"")
	}
	for _, field := range []string{"organization.id", "data_stream.namespace", "labels.tenant"} {
		if dsText && field == "data_stream.namespace" {
			continue
		}
		n := r.IntN(10) - 5 // below 1: absent; 1: nested; 2: dotted key; 3: both; 4: in an array
		if n < 1 {
			continue
		}
		if n == 4 {
			// An array of objects: Elasticsearch indexes the field from
			// each element.
			v := claim()
			if !names(v) {
				ev.conflict = true
			}
			parent, last, _ := strings.Cut(field, ".")
			rec[parent] = []any{map[string]any{last: v}, map[string]any{"other": 1}}
			spelt[field] = 2
			note("%s = [{%s: %#v}]", parent, last, v)
			continue
		}
		for _, dotted := range []bool{false, true} {
			if n == 1 && dotted || n == 2 && !dotted {
				continue
			}
			v := claim()
			if !names(v) {
				ev.conflict = true
			}
			if dotted {
				rec[field] = v
			} else {
				setPath(rec, field, v)
			}
			spelt[field]++
			note("%s %s= %#v", field, map[bool]string{true: "(dotted) "}[dotted], v)
		}
	}
	if r.IntN(6) == 0 {
		rec["@metadata"] = map[string]any{"tenant": pick(r, validTenants), "quarantine": "",
			"target": "logs-conn-evil", "dataset": "evil"}
		note("@metadata spoofed")
	}
	if r.IntN(6) == 0 {
		rec["tenant"] = pick(r, validTenants) // not a claim field: ignored
	}

	// The dataset that goes into the target.
	ds := pick(r, validDatasets)
	if r.IntN(3) == 0 {
		ds = pick(r, hostileDatasets)
		ev.clean = false
	}
	ev.dataset = ds
	if ds != "" || r.IntN(2) == 0 {
		m, isObject := rec["data_stream"].(map[string]any)
		switch {
		case isObject && r.IntN(2) == 0:
			m["dataset"] = randomCase(r, ds)
		case rec["data_stream"] == nil && r.IntN(2) == 0:
			rec["data_stream"] = map[string]any{"dataset": randomCase(r, ds)}
		default:
			rec["data_stream.dataset"] = randomCase(r, ds)
		}
		note("dataset %q", ds)
	} else {
		ev.clean = false
	}
	for _, n := range spelt {
		if n > 1 {
			ev.clean = false // the same field spelt twice may not expand
		}
	}
	if spelt["data_stream"] > 0 {
		ev.clean = false
	}

	b, err := json.Marshal(rec)
	if err != nil {
		panic(err)
	}
	ev.json = b
	return ev
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func (sc sidecar) allows(id string) bool {
	if id == "" {
		return false
	}
	if sc.allow == nil {
		return true
	}
	for _, a := range sc.allow {
		if a == id {
			return true
		}
	}
	return false
}

func TestTenantIsolationProperty(t *testing.T) {
	const perSidecar = 5000
	for i, sc := range sidecars {
		t.Run(sc.name, func(t *testing.T) {
			seed := uint64(20260 + i)
			r := rand.New(rand.NewPCG(seed, 6))
			c := buildPropChain(t, sc)

			var delivered, failed, quarantined, conflicts, exact int
			for n := 0; n < perSidecar; n++ {
				ev := generate(r, sc)
				out, dropped := c.Process([]sdk.Record{{Data: ev.json, Source: fmt.Sprintf("gen:%d", n)}})
				if dropped != 0 || len(out) != 1 {
					t.Fatalf("seed %d event %d: dropped", seed, n)
				}
				rec := out[0]
				fail := func(format string, a ...any) {
					t.Helper()
					t.Fatalf("seed %d event %d %s\n(%s)\ntruth %q, tenant %q, quarantine %q, error %q, routes %v\n%s",
						seed, n, fmt.Sprintf(format, a...), ev.json, ev.truth, rec.Tenant, rec.Quarantine,
						rec.Error, rec.Routes, strings.Join(ev.desc, "; "))
				}
				if len(rec.Routes) != 1 {
					fail("has %d routes, want 1", len(rec.Routes))
				}
				target := rec.Routes[0].Target
				if ev.conflict {
					conflicts++
				}

				mustQuarantine := !sc.allows(ev.truth) || ev.conflict
				if target == quarantineTarget {
					quarantined++
					if rec.Quarantine == "" {
						fail("went to quarantine without a reason")
					}
					if rec.Tenant != "" {
						fail("quarantined with a tenant")
					}
					var doc struct {
						Error struct{ Message string } `json:"error"`
						Tags  []string                 `json:"tags"`
					}
					if err := json.Unmarshal(rec.Data, &doc); err != nil || doc.Error.Message == "" {
						fail("the quarantined document does not say why: %s (%v)", rec.Data, err)
					}
					continue
				}
				if mustQuarantine {
					fail("was not quarantined; went to %q", target)
				}

				// Under a tenant: its own, in a target that names it last.
				if rec.Tenant != ev.truth {
					fail("written under tenant %q", rec.Tenant)
				}
				own := regexp.MustCompile(`^logs-[a-z0-9._]+-` + regexp.QuoteMeta(ev.truth) + `$`)
				switch {
				case own.MatchString(target):
					delivered++
				case target == "failures-mdrsflow-"+ev.truth && rec.Error != "":
					failed++
				default:
					fail("target %q is not one of tenant %q's", target, ev.truth)
				}
				if ev.clean {
					if target != "logs-"+ev.dataset+"-"+ev.truth {
						fail("a clean event went to %q, want logs-%s-%s", target, ev.dataset, ev.truth)
					}
					exact++
				}
				var doc struct {
					Org struct{ ID any } `json:"organization"`
					DS  struct {
						Namespace any
					} `json:"data_stream"`
				}
				if err := json.Unmarshal(rec.Data, &doc); err != nil {
					fail("document: %v", err)
				}
				if doc.Org.ID != ev.truth || doc.DS.Namespace != ev.truth {
					fail("document names organization.id %v, data_stream.namespace %v: %s",
						doc.Org.ID, doc.DS.Namespace, rec.Data)
				}
			}

			if st := c.Stats(); st.Quarantined != uint64(quarantined) {
				t.Errorf("chain counted %d quarantined, the routes say %d", st.Quarantined, quarantined)
			}
			t.Logf("seed %d: %d events: %d to their tenant's target (%d checked exactly), %d to its failures, "+
				"%d quarantined (%d with conflicting markers)",
				seed, perSidecar, delivered, exact, failed, quarantined, conflicts)
			// The generator must reach every outcome, or the property
			// says little.
			if quarantined < perSidecar/10 || conflicts < perSidecar/10 {
				t.Errorf("too few quarantined (%d) or conflicting (%d) events", quarantined, conflicts)
			}
			if sc.static != "" || sc.allow != nil {
				if delivered < perSidecar/20 || exact < perSidecar/50 || failed < perSidecar/50 {
					t.Errorf("too few delivered (%d, %d exactly) or failed (%d) events", delivered, exact, failed)
				}
			}
		})
	}
}

// TestRouterChecksTenantMetadata checks that a tenant set by anything
// other than the tenant filter (here a set step copying a field into
// @metadata.tenant) is checked before it becomes part of a target.
func TestRouterChecksTenantMetadata(t *testing.T) {
	// The tenant arrives as metadata from an earlier stage of the flow
	// (another process), so only the router's own check stands between
	// it and a target.
	const text = `name: meta
routing:
  target: "logs-{data_stream.dataset}-{tenant}"
outputs:
  - file: {path: out}
`
	c := chaintest.Build(t, text)

	for _, tc := range []struct {
		customer, target, quarantine string
	}{
		{"acme", "logs-conn-acme", ""},
		{"acme-evil", quarantineTarget, `invalid tenant "acme-evil" in @metadata.tenant: '-' is not allowed`},
		{"../evil", quarantineTarget, `invalid tenant "../evil"`},
		{"ACME", quarantineTarget, `'A' is not allowed`},
		{"_acme", quarantineTarget, "must not start with '_'"},
		{strings.Repeat("a", 101), quarantineTarget, "1 to 100 bytes"},
		{"", quarantineTarget, "needs {tenant} and the event has none"},
	} {
		t.Run(tc.customer, func(t *testing.T) {
			in := `{"data_stream":{"dataset":"conn"}}`
			meta := fmt.Sprintf(`{"tenant":%q}`, tc.customer)
			out, _ := c.Process([]sdk.Record{{Data: []byte(in), Meta: []byte(meta)}})
			rec := out[0]
			if got := rec.Routes[0].Target; got != tc.target {
				t.Errorf("target %q, want %q", got, tc.target)
			}
			if !strings.Contains(rec.Quarantine, tc.quarantine) || (tc.quarantine == "") != (rec.Quarantine == "") {
				t.Errorf("quarantine %q, want it to contain %q", rec.Quarantine, tc.quarantine)
			}
			if tc.quarantine != "" && !strings.Contains(string(rec.Data), `"_mdrsflow_quarantine"`) {
				t.Errorf("quarantined document is not tagged: %s", rec.Data)
			}
		})
	}
}

// A step after the tenant filter that writes @metadata.tenant (a set, a
// copy from a record field, a plugin) cannot move the event: it is
// quarantined, even when the new tenant is a valid, allowed one.
func TestOnlyTheTenantFilterSetsTheTenant(t *testing.T) {
	const text = `name: meta
routing:
  target: "logs-{data_stream.dataset}-{tenant}"
filters:
  - tenant: {static: acme, allow: [acme, globex]}
  - copy: {fields: {customer: "@metadata.tenant"}}
    if: customer != nil
outputs:
  - file: {path: out}
`
	c := chaintest.Build(t, text)
	for _, tc := range []struct{ in, target, quarantine string }{
		{`{"data_stream":{"dataset":"conn"}}`, "logs-conn-acme", ""},
		{`{"customer":"globex","data_stream":{"dataset":"conn"}}`, quarantineTarget, `changed from "acme" to "globex"`},
		{`{"customer":"acme","data_stream":{"dataset":"conn"}}`, "logs-conn-acme", ""},
	} {
		out, _ := c.Process([]sdk.Record{{Data: []byte(tc.in)}})
		rec := out[0]
		if got := rec.Routes[0].Target; got != tc.target {
			t.Errorf("%s: target %q, want %q", tc.in, got, tc.target)
		}
		if !strings.Contains(rec.Quarantine, tc.quarantine) || (tc.quarantine == "") != (rec.Quarantine == "") {
			t.Errorf("%s: quarantine %q, want %q", tc.in, rec.Quarantine, tc.quarantine)
		}
	}
}
