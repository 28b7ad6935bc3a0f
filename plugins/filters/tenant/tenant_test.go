package tenant

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/filtertest"
	"github.com/mdrsflow/mdrsflow/runtime/chain/chaintest"
	"github.com/mdrsflow/mdrsflow/sdk"
)

func TestTenant(t *testing.T) {
	const bare = "filters:\n  - tenant: {}\n"
	const static = "filters:\n  - tenant:\n      static: acme\n"
	const allowed = "filters:\n  - tenant:\n      static: acme\n      allow: [acme, globex]\n"
	const ok = `"data_stream":{"namespace":"acme"},"organization":{"id":"acme"}`

	filtertest.Run(t, []filtertest.Case{
		{Name: "sensor suffix", Flow: bare, In: `{"_system_name":"sensor-01-acme"}`,
			Want: `{"_system_name":"sensor-01-acme",` + ok + `}`, Tenant: "acme"},
		{Name: "sensor suffix wins over static", Flow: "filters:\n  - tenant: {static: globex}\n", In: `{"_system_name":"sensor-01-acme"}`,
			Want: `{"_system_name":"sensor-01-acme",` + ok + `}`, Tenant: "acme"},
		{Name: "capitals lower-cased", Flow: bare, In: `{"_system_name":"Sensor-01-ACME"}`,
			Want: `{"_system_name":"Sensor-01-ACME",` + ok + `}`, Tenant: "acme"},
		{Name: "digits and underscore", Flow: bare, In: `{"_system_name":"s-acme_2"}`,
			Want: `{"_system_name":"s-acme_2","data_stream":{"namespace":"acme_2"},"organization":{"id":"acme_2"}}`, Tenant: "acme_2"},
		{Name: "static fallback, no separator", Flow: static, In: `{"_system_name":"sensor01"}`,
			Want: `{"_system_name":"sensor01",` + ok + `}`, Tenant: "acme"},
		{Name: "static fallback, no sensor name", Flow: static, In: `{"uid":"C1"}`,
			Want: `{` + ok + `,"uid":"C1"}`, Tenant: "acme"},
		{Name: "name ends in separator: quarantined, not repaired by static", Flow: static,
			In: `{"_system_name":"sensor-"}`, Want: `{"_system_name":"sensor-"}`,
			Quarantine: `sensor name "sensor-" (in _system_name) ends in "-" with no tenant after it`},
		{Name: "sensor name not text: quarantined, not repaired by static", Flow: static,
			In: `{"_system_name":7}`, Want: `{"_system_name":7}`,
			Quarantine: `_system_name holds a number (7), not a sensor name`},
		{Name: "static upper case lower-cased at load", Flow: "filters:\n  - tenant: {static: ACME}\n", In: `{}`,
			Want: `{` + ok + `}`, Tenant: "acme"},
		{Name: "separator setting", Flow: "filters:\n  - tenant: {separator: '.'}\n", In: `{"_system_name":"sensor-01.acme"}`,
			Want: `{"_system_name":"sensor-01.acme",` + ok + `}`, Tenant: "acme"},
		{Name: "sensor_field with dots", Flow: "filters:\n  - tenant: {sensor_field: '\"observer.name\"'}\n",
			In: `{"observer.name":"zeek-acme"}`, Want: `{"data_stream":{"namespace":"acme"},"observer":{"name":"zeek-acme"},"organization":{"id":"acme"}}`, Tenant: "acme"},
		{Name: "sensor_field nested", Flow: "filters:\n  - tenant: {sensor_field: observer.name}\n",
			In: `{"observer":{"name":"zeek-acme"}}`, Want: `{"data_stream":{"namespace":"acme"},"observer":{"name":"zeek-acme"},"organization":{"id":"acme"}}`, Tenant: "acme"},
		{Name: "allowed", Flow: allowed, In: `{"_system_name":"sensor-globex"}`,
			Want: `{"_system_name":"sensor-globex","data_stream":{"namespace":"globex"},"organization":{"id":"globex"}}`, Tenant: "globex"},
		{Name: "if condition false leaves the event alone", Flow: static + "    if: '_system_name != nil'\n", In: `{"a":1}`, Want: `{"a":1}`},

		// spoofing: nothing on the record is trusted; a record that names
		// another tenant is quarantined, one that names its own is kept
		{Name: "own tenant named in every spelling is kept", Flow: bare,
			In: `{"_system_name":"sensor-acme","data_stream":{"dataset":"zeek.conn","namespace":"ACME"},` +
				`"organization.id":"acme","organization":{"name":"Acme"},"labels":{"tenant":"Acme"}}`,
			Want: `{"_system_name":"sensor-acme","data_stream":{"dataset":"zeek.conn","namespace":"acme"},` +
				`"labels":{"tenant":"Acme"},"organization":{"id":"acme","name":"Acme"}}`, Tenant: "acme"},
		{Name: "empty and null tenant fields name nobody", Flow: static,
			In:   `{"organization":{"id":null},"data_stream.namespace":"","labels":{"tenant":null}}`,
			Want: `{"data_stream":{"namespace":"acme"},"labels":{"tenant":null},"organization":{"id":"acme"}}`, Tenant: "acme"},
		{Name: "spoofed non-object parents replaced", Flow: static,
			In:   `{"data_stream":"evil","organization":"Evil Corp"}`,
			Want: `{` + ok + `}`, Tenant: "acme"},
		{Name: "spoofed metadata on input is discarded", Flow: static,
			In:   `{"@metadata":{"tenant":"evil","quarantine":""}}`,
			Want: `{` + ok + `}`, Tenant: "acme"},
		{Name: "claim_fields empty: the record's fields are overwritten", Flow: "filters:\n  - tenant: {claim_fields: []}\n",
			In:   `{"_system_name":"sensor-acme","data_stream.namespace":"evil","organization":{"id":"evil"}}`,
			Want: `{"_system_name":"sensor-acme",` + ok + `}`, Tenant: "acme"},
		{Name: "claim_fields custom", Flow: "filters:\n  - tenant: {static: acme, claim_fields: [customer]}\n",
			In: `{"customer":"evil","organization":{"id":"evil"}}`, Want: `{"customer":"evil","organization":{"id":"evil"}}`,
			Quarantine: `tenant conflict: the record's customer is "evil", but its tenant from the static setting is "acme"`},

		// quarantine
		// quarantine
		{Name: "no sensor name and no static", Flow: bare, In: `{"uid":"C1"}`, Want: `{"uid":"C1"}`,
			Quarantine: "no tenant: the event has no sensor name in _system_name and no static tenant is set"},
		{Name: "sensor name without separator and no static", Flow: bare, In: `{"_system_name":"sensor01"}`, Want: `{"_system_name":"sensor01"}`,
			Quarantine: `no tenant: sensor name "sensor01" (in _system_name) does not end in "-" and a tenant id, and no static tenant is set`},
		{Name: "sensor name not text and no static", Flow: bare, In: `{"_system_name":{"a":1}}`, Want: `{"_system_name":{"a":1}}`,
			Quarantine: `_system_name holds an object ({"a":1}), not a sensor name`},
		{Name: "invalid characters", Flow: static, In: `{"_system_name":"sensor-ac.me"}`, Want: `{"_system_name":"sensor-ac.me"}`,
			Quarantine: `invalid tenant "ac.me" from sensor name "sensor-ac.me" (in _system_name): a tenant id is lowercase letters, digits and _`},
		{Name: "invalid non-ASCII", Flow: bare, In: `{"_system_name":"sensor-äcme"}`, Want: `{"_system_name":"sensor-äcme"}`,
			Quarantine: `invalid tenant "äcme" from sensor name "sensor-äcme"`},
		{Name: "invalid leading underscore", Flow: bare, In: `{"_system_name":"sensor-_acme"}`, Want: `{"_system_name":"sensor-_acme"}`,
			Quarantine: `invalid tenant "_acme"`},
		{Name: "invalid too long", Flow: bare, In: `{"_system_name":"s-` + strings.Repeat("a", 101) + `"}`,
			Want:       `{"_system_name":"s-` + strings.Repeat("a", 101) + `"}`,
			Quarantine: `invalid tenant "` + strings.Repeat("a", 99) + `… (103 bytes) from sensor name`},
		{Name: "longest valid", Flow: bare, In: `{"_system_name":"s-` + strings.Repeat("a", 100) + `"}`,
			Want: `{"_system_name":"s-` + strings.Repeat("a", 100) + `","data_stream":{"namespace":"` + strings.Repeat("a", 100) +
				`"},"organization":{"id":"` + strings.Repeat("a", 100) + `"}}`, Tenant: strings.Repeat("a", 100)},
		{Name: "not in allow", Flow: allowed, In: `{"_system_name":"sensor-01-evil"}`, Want: `{"_system_name":"sensor-01-evil"}`,
			Quarantine: `tenant "evil" from sensor name "sensor-01-evil" (in _system_name) is not in allow (acme, globex)`},
		{Name: "invalid suffix does not fall back to static", Flow: allowed, In: `{"_system_name":"sensor-a b"}`, Want: `{"_system_name":"sensor-a b"}`,
			Quarantine: `invalid tenant "a b"`},
		{Name: "quarantined record keeps its own tenant fields", Flow: bare,
			In: `{"organization":{"id":"evil"}}`, Want: `{"organization":{"id":"evil"}}`, Quarantine: "no tenant"},
		{Name: "non-ASCII that lower-cases to ASCII stays invalid", Flow: static,
			In: "{\"_system_name\":\"s-\u212acme\"}", Want: "{\"_system_name\":\"s-\u212acme\"}",
			Quarantine: "invalid tenant"},
	})
}

// TestTenantConflicts checks that a record whose own fields name another
// tenant than its sensor (or the static setting) is quarantined, however
// the field is spelt, and never written under either tenant.
func TestTenantConflicts(t *testing.T) {
	const bare = "filters:\n  - tenant: {}\n"
	const from = `, but its tenant from sensor name "sensor-acme" (in _system_name) is "acme"`
	var cases []filtertest.Case
	for _, c := range []struct{ name, fields, field, value, written string }{
		{"nested organization.id", `"organization":{"id":"evil"}`, "organization.id", `"evil"`, ""},
		{"dotted organization.id", `"organization.id":"evil"`, "organization.id", `"evil"`, `"organization":{"id":"evil"}`},
		{"nested namespace", `"data_stream":{"dataset":"zeek.conn","namespace":"evil"}`, "data_stream.namespace", `"evil"`, ""},
		{"dotted namespace", `"data_stream.namespace":"evil"`, "data_stream.namespace", `"evil"`, `"data_stream":{"namespace":"evil"}`},
		{"dotted namespace beside nested data_stream", `"data_stream":{"dataset":"x"},"data_stream.namespace":"evil"`,
			"data_stream.namespace", `"evil"`, `"data_stream":{"dataset":"x","namespace":"evil"}`},
		{"dotted key inside an object", `"labels":{"a":1},"organization":{"x.y":2,"id":"evil"}`,
			"organization.id", `"evil"`, `"labels":{"a":1},"organization":{"id":"evil","x":{"y":2}}`},
		{"labels.tenant", `"labels":{"tenant":"evil"}`, "labels.tenant", `"evil"`, ""},
		{"dotted labels.tenant", `"labels.tenant":"globex"`, "labels.tenant", `"globex"`, `"labels":{"tenant":"globex"}`},
		{"inside an array of objects", `"organization":[{"id":"acme"},{"id":"evil"}]`, "organization.id", `"evil"`, ""},
		{"a number", `"organization":{"id":7}`, "organization.id", `7`, ""},
		{"a list", `"organization":{"id":["acme","evil"]}`, "organization.id", `["acme","evil"]`, ""},
		{"an object", `"data_stream":{"namespace":{"a":"acme"}}`, "data_stream.namespace", `{"a":"acme"}`, ""},
		{"an invalid id", `"organization":{"id":"acme-evil"}`, "organization.id", `"acme-evil"`, ""},
		{"trailing space", `"organization":{"id":"acme "}`, "organization.id", `"acme "`, ""},
	} {
		in := `{"_system_name":"sensor-acme",` + c.fields + `}`
		want := in
		if c.written != "" {
			want = `{"_system_name":"sensor-acme",` + c.written + `}`
		}
		cases = append(cases, filtertest.Case{Name: c.name, Flow: bare, In: in, Want: want,
			Quarantine: "tenant conflict: the record's " + c.field + " is " + c.value + from})
	}
	cases = append(cases, filtertest.Case{Name: "static tenant contradicted",
		Flow: "filters:\n  - tenant: {static: acme}\n", In: `{"data_stream.namespace":"evil"}`,
		Want:       `{"data_stream":{"namespace":"evil"}}`,
		Quarantine: `tenant conflict: the record's data_stream.namespace is "evil", but its tenant from the static setting is "acme"`})
	filtertest.Run(t, cases)
}

// TestTenantAllowForms checks that allow takes a YAML list or one
// comma-separated string, as an environment variable carries it, and that
// an empty one allows any valid tenant.
func TestTenantAllowForms(t *testing.T) {
	in := func(id string) string { return `{"_system_name":"sensor-` + id + `"}` }
	want := func(id string) string {
		return `{"_system_name":"sensor-` + id + `","data_stream":{"namespace":"` + id +
			`"},"organization":{"id":"` + id + `"}}`
	}
	flow := func(allow string) string { return "filters:\n  - tenant:\n      allow: " + allow + "\n" }
	var cases []filtertest.Case
	for _, c := range []struct{ name, allow string }{
		{"list", "[acme, globex]"},
		{"comma-separated", "acme,globex"},
		{"comma-separated with spaces and capitals", "' Acme , GLOBEX ,'"},
		{"list entries with commas", "['acme,globex']"},
	} {
		cases = append(cases,
			filtertest.Case{Name: c.name + " allows", Flow: flow(c.allow), In: in("globex"), Want: want("globex"), Tenant: "globex"},
			filtertest.Case{Name: c.name + " refuses", Flow: flow(c.allow), In: in("initech"), Want: in("initech"),
				Quarantine: `tenant "initech" from sensor name "sensor-initech" (in _system_name) is not in allow (acme, globex)`})
	}
	for _, c := range []struct{ name, allow string }{
		{"empty string", "''"}, {"blanks", "'  '"}, {"null", "null"}, {"empty list", "[]"},
	} {
		cases = append(cases, filtertest.Case{Name: c.name + " allows any valid tenant", Flow: flow(c.allow),
			In: in("initech"), Want: want("initech"), Tenant: "initech"})
	}
	filtertest.Run(t, cases)

	t.Run("from the environment", func(t *testing.T) {
		for env, wantQ := range map[string]string{"acme,globex": "", "acme": "not in allow (acme)", "": ""} {
			t.Setenv("MDRSFLOW_TENANTS", env)
			c := chaintest.Build(t, "filters:\n  - tenant:\n      allow: ${MDRSFLOW_TENANTS:-}\n")
			got := chaintest.Run(c, "", in("globex"))[0]
			if !strings.Contains(got.Quarantine, wantQ) || (wantQ == "") != (got.Tenant == "globex") {
				t.Errorf("MDRSFLOW_TENANTS=%q: tenant %q, quarantine %q; want quarantine containing %q",
					env, got.Tenant, got.Quarantine, wantQ)
			}
		}
	})
}

// TestTenantSecondStep checks that a later tenant step has the last word:
// it clears an earlier quarantine, and an earlier tenant when it
// quarantines.
func TestTenantSecondStep(t *testing.T) {
	filtertest.Run(t, []filtertest.Case{
		{Name: "quarantine then tenant", Flow: "filters:\n  - tenant: {}\n  - tenant: {static: acme}\n",
			In: `{}`, Want: `{"data_stream":{"namespace":"acme"},"organization":{"id":"acme"}}`, Tenant: "acme"},
		{Name: "tenant then quarantine", Flow: "filters:\n  - tenant: {static: acme}\n  - tenant: {sensor_field: sensor}\n",
			In: `{}`, Want: `{"data_stream":{"namespace":"acme"},"organization":{"id":"acme"}}`, Quarantine: "no tenant"},
	})
}

func TestTenantBadSettings(t *testing.T) {
	filtertest.RunBadConfigs(t, []filtertest.BadConfig{
		{"dash in static", "filters:\n  - tenant: {static: acme-corp}\n", `static: "acme-corp" is not a valid tenant id: a tenant id is lowercase letters, digits and _`},
		{"space in static", "filters:\n  - tenant: {static: 'ac me'}\n", `static: "ac me" is not a valid tenant id`},
		{"static not allowed", "filters:\n  - tenant: {static: acme, allow: [globex]}\n", `static: tenant "acme" is not in allow (globex)`},
		{"invalid allow entry", "filters:\n  - tenant: {allow: [acme, 'a-b']}\n", `allow[1]: "a-b" is not a valid tenant id`},
		{"invalid entry in an allow string", "filters:\n  - tenant: {allow: 'acme,a.b'}\n", `allow[1]: "a.b" is not a valid tenant id`},
		{"allow separated by spaces", "filters:\n  - tenant: {allow: 'acme globex'}\n", `"acme globex" is not a valid tenant id: ` +
			rule + "; separate ids with commas"},
		{"allow as a mapping", "filters:\n  - tenant: {allow: {acme: true}}\n", "expected tenant ids as a list or a comma-separated string"},
		{"static not in an allow string", "filters:\n  - tenant: {static: acme, allow: 'globex, initech'}\n",
			`static: tenant "acme" is not in allow (globex, initech)`},
		{"claim field in metadata", "filters:\n  - tenant: {claim_fields: ['@metadata.tenant']}\n", "claim_fields[0]: @metadata.tenant is metadata"},
		{"empty separator", "filters:\n  - tenant: {separator: ''}\n", "separator: must not be empty"},
		{"bad sensor_field", "filters:\n  - tenant: {sensor_field: ''}\n", "sensor_field: empty field reference"},
		// Commas with every id missing are a list gone wrong, not "any tenant".
		{"allow of commas only", "filters:\n  - tenant: {allow: ' , ,'}\n", "allow holds only commas and blanks"},
	})
}

func TestValid(t *testing.T) {
	for id, want := range map[string]bool{
		"acme": true, "a": true, "0": true, "acme_2": true, "2acme": true, strings.Repeat("z", 100): true,
		"": false, "_acme": false, "Acme": false, "ac-me": false, "ac.me": false, "ac me": false,
		"äcme": false, strings.Repeat("z", 101): false, "acme\n": false, "*": false,
		"\u212acme": false, "../acme": false, "acme*": false, "acme_evil": true,
	} {
		if got := Valid(id); got != want {
			t.Errorf("Valid(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestTenantDocs(t *testing.T) { filtertest.CheckDocs(t, "tenant") }

// A static tenant without an allow list is valid but lets a sensor name
// pick any tenant; starting says so. With an allow list it says nothing.
func TestStaticWithoutAllowWarns(t *testing.T) {
	for settings, warn := range map[string]bool{
		"static: acme\n":                true,
		"static: acme\nallow: [acme]\n": false,
		"allow: [acme]\n":               false,
	} {
		reg, _ := sdk.Lookup(sdk.KindFilter, "tenant")
		f := reg.New()
		if err := sdk.DecodeSettingsText([]byte(settings), f); err != nil {
			t.Fatal(err)
		}
		if err := f.(sdk.Validator).Validate(); err != nil {
			t.Fatal(err)
		}
		var logs strings.Builder
		env := sdk.Env{Logger: slog.New(slog.NewTextHandler(&logs, nil))}
		if err := f.(sdk.Starter).Start(context.Background(), env); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(logs.String(), "without an allow list"); got != warn {
			t.Errorf("%q: warned %v, want %v: %s", settings, got, warn, logs.String())
		}
	}
}
