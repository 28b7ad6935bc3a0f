package parse_json

import (
	"testing"

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/filtertest"

	// Steps the cases combine with parse_json.
	_ "github.com/mdrsflow/mdrsflow/plugins/filters/rename"
	_ "github.com/mdrsflow/mdrsflow/plugins/filters/set"
)

func TestParseJSON(t *testing.T) {
	filtertest.Run(t, []filtertest.Case{
		{
			Name: "into a target",
			Flow: "filters:\n  - parse_json: {field: message, target: doc}\n",
			In:   `{"message":"{\"a\":1,\"b\":[2.5,\"x\"],\"big\":18446744073709551615}"}`,
			Want: `{"doc":{"a":1,"b":[2.5,"x"],"big":18446744073709552000},` +
				`"message":"{\"a\":1,\"b\":[2.5,\"x\"],\"big\":18446744073709551615}"}`,
		},
		{
			Name: "a scalar into a target",
			Flow: "filters:\n  - parse_json: {field: message, target: n, remove_field: true}\n",
			In:   `{"message":" 42 "}`,
			Want: `{"n":42}`,
		},
		{
			Name: "merged at the top level",
			Flow: "filters:\n  - parse_json: {field: message, remove_field: true}\n",
			In:   `{"a":"old","message":"{\"a\":\"new\",\"c\":true}","z":0}`,
			Want: `{"a":"new","c":true,"z":0}`,
		},
		{
			Name: "replace unwraps a Splunk result and keeps metadata",
			Flow: "filters:\n" +
				"  - rename: {fields: {result.host: '@metadata.host'}}\n" +
				"  - parse_json: {field: result._raw, replace: true}\n" +
				"  - rename: {fields: {'@metadata.host': host.name}}\n",
			In:   `{"preview":false,"result":{"_raw":"{\"ts\":1.5,\"id.orig_h\":\"10.0.0.1\",\"result\":\"ok\"}","host":"h1"}}`,
			Want: `{"host":{"name":"h1"},"id":{"orig_h":"10.0.0.1"},"result":"ok","ts":1.5}`,
		},
		{
			Name: "metadata inside the JSON is dropped",
			Flow: "filters:\n  - parse_json: {field: m, replace: true}\n" +
				"  - set: {expr: {tenant: 'meta(\"tenant\") ?? \"none\"'}}\n",
			In:   `{"m":"{\"@metadata\":{\"tenant\":\"evil\"},\"a\":1}"}`,
			Want: `{"a":1,"tenant":"none"}`,
		},
		{
			Name: "missing field is skipped",
			Flow: "filters:\n  - parse_json: {field: message, replace: true}\n",
			In:   `{"a":1}`,
			Want: `{"a":1}`,
		},
		{
			Name: "invalid JSON fails and leaves the event",
			Flow: "filters:\n  - parse_json: {field: message, replace: true}\n",
			In:   `{"message":"{\"a\":"}`,
			Err:  "field message is not valid JSON",
		},
		{
			Name: "not a string",
			Flow: "filters:\n  - parse_json: {field: message}\n",
			In:   `{"message":{"a":1}}`,
			Err:  "holds an object, not JSON text",
		},
		{
			Name: "an array needs a target",
			Flow: "filters:\n  - parse_json: {field: message}\n",
			In:   `{"message":"[1,2]"}`,
			Err:  "not an object; set target",
		},
		{
			Name: "target in the way",
			Flow: "filters:\n  - parse_json: {field: message, target: a.b}\n",
			In:   `{"a":"x","message":"{}"}`,
			Err:  "cannot write field a.b",
		},
	})
}

func TestBadConfig(t *testing.T) {
	filtertest.RunBadConfigs(t, []filtertest.BadConfig{
		{"no field", "filters:\n  - parse_json: {}\n", "field: empty field reference"},
		{"bad target", "filters:\n  - parse_json: {field: a, target: 'a..b'}\n", "target:"},
		{"unknown setting", "filters:\n  - parse_json: {field: a, into: b}\n", "into"},
	})
}

func TestDocs(t *testing.T) { filtertest.CheckDocs(t, "parse_json") }
