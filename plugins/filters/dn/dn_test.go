package dn

import (
	"reflect"
	"testing"

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/filtertest"
)

func TestParse(t *testing.T) {
	cases := []struct {
		name, in string
		want     []Attribute
	}{
		{"plain", "CN=a,O=b,C=US", []Attribute{{"CN", "a"}, {"O", "b"}, {"C", "US"}}},
		{"escaped comma", `O=Example\, Inc.,C=US`, []Attribute{{"O", "Example, Inc."}, {"C", "US"}}},
		{"hex pair and backslash", `CN=caf\C3\A9\\x`, []Attribute{{"CN", `café\x`}}},
		{"spaces around separators", "CN = a b , O=c ,  C=US", []Attribute{{"CN", "a b"}, {"O", "c"}, {"C", "US"}}},
		{"escaped trailing space kept", `CN=a\ ,O=b`, []Attribute{{"CN", "a "}, {"O", "b"}}},
		{"multi-valued RDN", "CN=a+UID=1,O=b", []Attribute{{"CN", "a"}, {"UID", "1"}, {"O", "b"}}},
		{"pair without =", "junk,CN=a", []Attribute{{"CN", "a"}}},
		{"empty value", "CN=,O=b", []Attribute{{"CN", ""}, {"O", "b"}}},
		{"empty", "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Parse(tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Parse(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestDN(t *testing.T) {
	const subj = `"CN=*.gcp.cloud.es.io,O=Elasticsearch\\, Inc.,OU=a,OU=b,L=Mountain View,ST=California,C=US,emailAddress=x@y"`
	filtertest.Run(t, []filtertest.Case{
		{
			Name: "ECS names as arrays",
			Flow: "filters:\n  - dn: {field: s, target: x.subject}\n",
			In:   `{"s":` + subj + `}`,
			Want: `{"s":` + subj + `,"x":{"subject":{"common_name":["*.gcp.cloud.es.io"],"country":["US"],` +
				`"locality":["Mountain View"],"organization":["Elasticsearch, Inc."],"organizational_unit":["a","b"],` +
				`"state_or_province":["California"]}}}`,
		},
		{
			Name: "own names as strings, repeated types left out",
			Flow: "filters:\n  - dn:\n      field: s\n      target: z\n      arrays: false\n" +
				"      names: {cn: common_name, OU: organizational_unit, st: state, EMAILADDRESS: email}\n",
			In:   `{"s":` + subj + `}`,
			Want: `{"s":` + subj + `,"z":{"common_name":"*.gcp.cloud.es.io","email":"x@y","state":"California"}}`,
		},
		{
			Name: "missing and null write nothing",
			Flow: "filters:\n  - dn: {field: s, target: z}\n",
			In:   `{"s":null}`,
			Want: `{"s":null}`,
		},
		{
			Name: "not text",
			Flow: "filters:\n  - dn: {field: s, target: z}\n",
			In:   `{"s":["CN=a"]}`,
			Err:  "holds an array, not a distinguished name",
		},
		{
			Name: "target in the way",
			Flow: "filters:\n  - dn: {field: s, target: z.w}\n",
			In:   `{"s":"CN=a","z":1}`,
			Err:  "cannot write field z.w.common_name",
		},
	})
}

func TestBadConfig(t *testing.T) {
	filtertest.RunBadConfigs(t, []filtertest.BadConfig{
		{"no field", "filters:\n  - dn: {target: a}\n", "field: empty field reference"},
		{"no target", "filters:\n  - dn: {field: a}\n", "target: empty field reference"},
		{"type twice", "filters:\n  - dn: {field: a, target: b, names: {cn: x, CN: y}}\n", "listed twice"},
	})
}

func TestDocs(t *testing.T) { filtertest.CheckDocs(t, "dn") }
