package lookup

import (
	"testing"

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/filtertest"
)

func TestLookup(t *testing.T) {
	const proto = "filters:\n  - lookup:\n      field: network.iana_number\n      target: network.transport\n" +
		"      table: {1: icmp, 6: tcp, 17: udp, '1.5': odd, true: yes-value, x: {a: [1]}}\n"
	const withDefault = proto + "      default: unknown\n"

	filtertest.Run(t, []filtertest.Case{
		{Name: "integer key", Flow: proto, In: `{"network":{"iana_number":6}}`,
			Want: `{"network":{"iana_number":6,"transport":"tcp"}}`},
		{Name: "whole float looks up the integer", Flow: proto, In: `{"network":{"iana_number":17.0}}`,
			Want: `{"network":{"iana_number":17,"transport":"udp"}}`},
		{Name: "text looks up the integer", Flow: proto, In: `{"network":{"iana_number":"1"}}`,
			Want: `{"network":{"iana_number":"1","transport":"icmp"}}`},
		{Name: "fraction", Flow: proto, In: `{"network":{"iana_number":1.5}}`,
			Want: `{"network":{"iana_number":1.5,"transport":"odd"}}`},
		{Name: "boolean", Flow: proto, In: `{"network":{"iana_number":true}}`,
			Want: `{"network":{"iana_number":true,"transport":"yes-value"}}`},
		{Name: "object value is copied", Flow: proto, In: `{"network":{"iana_number":"x"}}`,
			Want: `{"network":{"iana_number":"x","transport":{"a":[1]}}}`},
		{Name: "not found, no default: nothing written", Flow: proto, In: `{"network":{"iana_number":47}}`,
			Want: `{"network":{"iana_number":47}}`},
		{Name: "not found, default", Flow: withDefault, In: `{"network":{"iana_number":47}}`,
			Want: `{"network":{"iana_number":47,"transport":"unknown"}}`},
		{Name: "null default writes nothing", Flow: proto + "      default: null\n", In: `{"network":{"iana_number":47}}`,
			Want: `{"network":{"iana_number":47}}`},
		{Name: "missing field, default not written", Flow: withDefault, In: `{"uid":"C1"}`, Want: `{"uid":"C1"}`},
		{Name: "null field is skipped", Flow: withDefault, In: `{"network":{"iana_number":null}}`,
			Want: `{"network":{"iana_number":null}}`},
		{Name: "target defaults to the field", Flow: "filters:\n  - lookup:\n      field: proto\n      table: {'6': tcp}\n",
			In: `{"proto":6}`, Want: `{"proto":"tcp"}`},
		{Name: "flat dotted key", Flow: "filters:\n  - lookup:\n      field: '\"id.resp_p\"'\n      target: destination.service\n      table: {443: https}\n",
			In: `{"id.resp_p":443}`, Want: `{"destination":{"service":"https"},"id":{"resp_p":443}}`},
		{Name: "quoted reference does not match a nested object", Flow: "filters:\n  - lookup:\n      field: '\"id.resp_p\"'\n      table: {443: https}\n",
			In: `{"id":{"resp_p":443}}`, Want: `{"id":{"resp_p":443}}`},
		{Name: "array fails naming the field", Flow: proto, In: `{"network":{"iana_number":[6]}}`,
			Err: `cannot look up field network.iana_number: it holds an array ([6]); only text, numbers and booleans can be looked up`},
		{Name: "existing target object is replaced", Flow: proto, In: `{"network":{"iana_number":6,"transport":{"x":1}},"z":1}`,
			Want: `{"network":{"iana_number":6,"transport":"tcp"},"z":1}`},
		{Name: "conflict on target parent", Flow: "filters:\n  - lookup:\n      field: p\n      target: network.transport\n      table: {'6': tcp}\n",
			In: `{"network":"x","p":6}`, Err: `cannot write field network.transport: "network" already holds a string ("x"), not an object`},
		{Name: "file, YAML", Flow: "filters:\n  - lookup:\n      field: _system_name\n      target: observer.geo\n      file: testdata/sites.yaml\n",
			In:   `{"_system_name":"sensor-02-acme"}`,
			Want: `{"_system_name":"sensor-02-acme","observer":{"geo":{"city":"Hamburg","site":"branch"}}}`},
		{Name: "file, JSON, table wins", Flow: "filters:\n  - lookup:\n      field: port\n      file: testdata/services.json\n      table: {22: secure-shell}\n",
			In: `{"port":22}`, Want: `{"port":"secure-shell"}`},
		{Name: "file, JSON", Flow: "filters:\n  - lookup:\n      field: port\n      file: testdata/services.json\n      table: {22: secure-shell}\n",
			In: `{"port":53}`, Want: `{"port":"dns"}`},
		{Name: "with on_error tag", Flow: proto + "    on_error: tag\n", In: `{"network":{"iana_number":{}}}`,
			Want: `{"network":{"iana_number":{}},"tags":["_lookup_failure"]}`},
		{Name: "if condition", Flow: proto + "    if: 'network?.iana_number != 6'\n", In: `{"network":{"iana_number":6}}`,
			Want: `{"network":{"iana_number":6}}`},
	})
}

func TestLookupBadSettings(t *testing.T) {
	filtertest.RunBadConfigs(t, []filtertest.BadConfig{
		{"no field", "filters:\n  - lookup: {table: {a: b}}\n", "field: name the field"},
		{"no table", "filters:\n  - lookup: {field: a}\n", "give the table inline"},
		{"table is a list", "filters:\n  - lookup: {field: a, table: [a]}\n", "expected a mapping of key: value"},
		{"duplicate key", "filters:\n  - lookup: {field: a, table: {6: a, 6.0: b}}\n", `key "6" appears twice`},
		{"bad target", "filters:\n  - lookup: {field: a, target: 'b.', table: {a: b}}\n", "target: field reference"},
		{"missing file", "filters:\n  - lookup: {field: a, file: testdata/nope.yaml}\n", "start: read the lookup table: open testdata/nope.yaml"},
		{"file is a list", "filters:\n  - lookup: {field: a, file: testdata/list.yaml}\n", "lookup table testdata/list.yaml: line 1: expected a mapping"},
	})
}

func TestLookupDocs(t *testing.T) { filtertest.CheckDocs(t, "lookup") }
