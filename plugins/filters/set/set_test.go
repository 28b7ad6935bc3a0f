package set

import (
	"testing"

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/filtertest"
	"github.com/mdrsflow/mdrsflow/runtime/event"
	"github.com/mdrsflow/mdrsflow/sdk"
)

func TestSet(t *testing.T) {
	const consts = "filters:\n  - set:\n      fields:\n" +
		"        event.kind: event\n" +
		"        event.category: [network]\n" +
		"        zeek.version: 7\n" +
		"        zeek.ratio: 0.5\n" +
		"        zeek.ok: true\n" +
		"        zeek.none: null\n" +
		"        zeek.day: 2024-01-02\n" +
		"        zeek.obj: {a: 1, b: [x, 2.5]}\n" +
		"        '\"zeek.flat\"': 1\n"

	filtertest.Run(t, []filtertest.Case{
		{
			Name: "constants of every type",
			Flow: consts,
			In:   `{}`,
			Want: `{"event":{"category":["network"],"kind":"event"},"zeek":{"day":"2024-01-02","flat":1,"none":null,` +
				`"obj":{"a":1,"b":["x",2.5]},"ok":true,"ratio":0.5,"version":7}}`,
		},
		{
			Name: "constants overwrite by default",
			Flow: "filters:\n  - set:\n      fields:\n        event.kind: event\n",
			In:   `{"event":{"kind":"alert","id":"x"}}`,
			Want: `{"event":{"id":"x","kind":"event"}}`,
		},
		{
			Name: "if_missing keeps what exists",
			Flow: "filters:\n  - set:\n      if_missing: true\n      fields:\n        event.kind: event\n        event.type: [connection]\n",
			In:   `{"event":{"kind":"alert"}}`,
			Want: `{"event":{"kind":"alert","type":["connection"]}}`,
		},
		{
			Name: "expression result",
			Flow: "filters:\n  - set:\n      expr:\n        network.transport: 'lower(proto)'\n        network.bytes: 'orig_bytes + resp_bytes'\n",
			In:   `{"orig_bytes":100,"proto":"TCP","resp_bytes":20}`,
			Want: `{"network":{"bytes":120,"transport":"tcp"},"orig_bytes":100,"proto":"TCP","resp_bytes":20}`,
		},
		{
			Name: "expression on a key with dots and on metadata",
			Flow: "filters:\n  - set:\n      fields:\n        '@metadata.site': hq\n      expr:\n        source.ip: '$env[\"id.orig_h\"]'\n        observer.name: 'meta(\"site\")'\n",
			In:   `{"id.orig_h":"10.0.0.1"}`,
			Want: `{"id":{"orig_h":"10.0.0.1"},"observer":{"name":"hq"},"source":{"ip":"10.0.0.1"}}`,
		},
		{
			Name: "expressions run in order after constants",
			Flow: "filters:\n  - set:\n      fields:\n        a: 2\n      expr:\n        b: 'a * 10'\n        c: 'b + 1'\n",
			In:   `{}`,
			Want: `{"a":2,"b":20,"c":21}`,
		},
		{
			Name: "nil result writes nothing",
			Flow: "filters:\n  - set:\n      expr:\n        source.bytes: 'orig_bytes'\n",
			In:   `{"proto":"tcp"}`,
			Want: `{"proto":"tcp"}`,
		},
		{
			Name: "object result is copied, not shared",
			Flow: "filters:\n  - set:\n      expr:\n        destination: 'source'\n  - set:\n      fields:\n        destination.ip: 10.0.0.2\n",
			In:   `{"source":{"ip":"10.0.0.1"}}`,
			Want: `{"destination":{"ip":"10.0.0.2"},"source":{"ip":"10.0.0.1"}}`,
		},
		{
			Name: "expression with if_missing is not evaluated for present fields",
			Flow: "filters:\n  - set:\n      if_missing: true\n      expr:\n        a: '1 / 0 > 0 ? 1 : 2'\n",
			In:   `{"a":"kept"}`,
			Want: `{"a":"kept"}`,
		},
		{
			Name: "expression that fails at run time names the field",
			Flow: "filters:\n  - set:\n      expr:\n        network.bytes: 'orig_bytes + resp_bytes'\n",
			In:   `{"orig_bytes":"many","resp_bytes":1}`,
			Err:  `cannot compute field network.bytes: expression "orig_bytes + resp_bytes": invalid operation`,
		},
		{
			Name: "conflict: setting source.ip while source is a string",
			Flow: "filters:\n  - set:\n      fields:\n        source.ip: 10.0.0.1\n",
			In:   `{"source":"sensor"}`,
			Err:  `cannot write field source.ip: "source" already holds a string ("sensor"), not an object`,
		},
		{
			Name: "conflict with on_error tag",
			Flow: "filters:\n  - set:\n      fields:\n        source.ip: 10.0.0.1\n    on_error: tag\n",
			In:   `{"source":"sensor"}`,
			Want: `{"source":"sensor","tags":["_set_failure"]}`,
		},
		{
			Name: "flat dotted key target written as one key, expanded on output",
			Flow: "filters:\n  - set:\n      fields:\n        '\"source.ip\"': 10.0.0.1\n",
			In:   `{"source":{"port":1}}`,
			Want: `{"source":{"ip":"10.0.0.1","port":1}}`,
		},
		{
			Name: "if condition",
			Flow: "filters:\n  - set:\n      fields:\n        event.kind: alert\n    if: 'notice == true'\n",
			In:   `{"notice":false}`,
			Want: `{"notice":false}`,
		},
	})
}

func TestSetBadSettings(t *testing.T) {
	filtertest.RunBadConfigs(t, []filtertest.BadConfig{
		{"nothing to set", "filters:\n  - set: {}\n", "set needs fields (constants) or expr"},
		{"expression does not compile", "filters:\n  - set:\n      expr:\n        a: 'proto =='\n", `expr (line 4): a: expression "proto =="`},
		{"expression is a list", "filters:\n  - set:\n      expr:\n        a: [1]\n", "expected an expression"},
		{"bad reference", "filters:\n  - set:\n      fields:\n        '\"a': 1\n", "unterminated quote"},
		{"infinity", "filters:\n  - set:\n      fields:\n        a: .inf\n", "not a number JSON can hold"},
		{"integer too large", "filters:\n  - set:\n      fields:\n        a: 0xFFFFFFFFFFFFFFFF\n", "does not fit a 64-bit integer"},
		{"fields is a list", "filters:\n  - set:\n      fields: [a]\n", "expected a mapping"},
	})
}

// TestSetConstantsNotShared checks that each event gets its own copy of a
// constant list, so a later step that changes one event's list in place
// cannot change what the next event gets.
func TestSetConstantsNotShared(t *testing.T) {
	s := New()
	if err := sdk.DecodeSettingsText([]byte("fields:\n  tags: [zeek]\n"), s); err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	tags := event.MustPath("tags")
	first, second := event.New(), event.New()
	if err := s.Apply(first); err != nil {
		t.Fatal(err)
	}
	v, _ := first.Get(tags)
	v.([]any)[0] = "changed"
	if err := s.Apply(second); err != nil {
		t.Fatal(err)
	}
	if got, _ := second.Get(tags); got.([]any)[0] != "zeek" {
		t.Fatalf("second event's tags = %v; the constant was shared", got)
	}
}

func TestSetDocs(t *testing.T) { filtertest.CheckDocs(t, "set") }
