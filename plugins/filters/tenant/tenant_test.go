package tenant

import (
	"strings"
	"testing"

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/filtertest"
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
		{Name: "static fallback, name ends in separator", Flow: static, In: `{"_system_name":"sensor-"}`,
			Want: `{"_system_name":"sensor-",` + ok + `}`, Tenant: "acme"},
		{Name: "static fallback, sensor name not text", Flow: static, In: `{"_system_name":7}`,
			Want: `{"_system_name":7,` + ok + `}`, Tenant: "acme"},
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

		// spoofing: nothing on the record is trusted
		{Name: "spoofed nested fields overwritten", Flow: bare,
			In:   `{"_system_name":"sensor-acme","data_stream":{"dataset":"zeek.conn","namespace":"evil"},"organization":{"id":"evil","name":"Acme"}}`,
			Want: `{"_system_name":"sensor-acme","data_stream":{"dataset":"zeek.conn","namespace":"acme"},"organization":{"id":"acme","name":"Acme"}}`, Tenant: "acme"},
		{Name: "spoofed dotted keys removed", Flow: bare,
			In:   `{"_system_name":"sensor-acme","data_stream.namespace":"evil","organization.id":"evil"}`,
			Want: `{"_system_name":"sensor-acme",` + ok + `}`, Tenant: "acme"},
		{Name: "spoofed non-object parents replaced", Flow: static,
			In:   `{"data_stream":"evil","organization":"Evil Corp"}`,
			Want: `{` + ok + `}`, Tenant: "acme"},
		{Name: "spoofed metadata on input is discarded", Flow: static,
			In:   `{"@metadata":{"tenant":"evil","quarantine":""}}`,
			Want: `{` + ok + `}`, Tenant: "acme"},

		// quarantine
		{Name: "no sensor name and no static", Flow: bare, In: `{"uid":"C1"}`, Want: `{"uid":"C1"}`,
			Quarantine: "no tenant: the event has no sensor name in _system_name and no static tenant is set"},
		{Name: "sensor name without separator and no static", Flow: bare, In: `{"_system_name":"sensor01"}`, Want: `{"_system_name":"sensor01"}`,
			Quarantine: `no tenant: sensor name "sensor01" (in _system_name) does not end in "-" and a tenant id, and no static tenant is set`},
		{Name: "sensor name not text and no static", Flow: bare, In: `{"_system_name":{"a":1}}`, Want: `{"_system_name":{"a":1}}`,
			Quarantine: `no tenant: _system_name holds an object ({"a":1}), not a sensor name`},
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
		{"empty separator", "filters:\n  - tenant: {separator: ''}\n", "separator: must not be empty"},
		{"bad sensor_field", "filters:\n  - tenant: {sensor_field: ''}\n", "sensor_field: empty field reference"},
	})
}

func TestValid(t *testing.T) {
	for id, want := range map[string]bool{
		"acme": true, "a": true, "0": true, "acme_2": true, "2acme": true, strings.Repeat("z", 100): true,
		"": false, "_acme": false, "Acme": false, "ac-me": false, "ac.me": false, "ac me": false,
		"äcme": false, strings.Repeat("z", 101): false, "acme\n": false, "*": false,
	} {
		if got := Valid(id); got != want {
			t.Errorf("Valid(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestTenantDocs(t *testing.T) { filtertest.CheckDocs(t, "tenant") }
