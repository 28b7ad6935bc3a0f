package remove

import (
	"testing"

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/filtertest"
)

func TestRemove(t *testing.T) {
	const flow = "filters:\n  - remove:\n      fields: [_path, '\"id.orig_h\"', zeek.id.orig_p, '@metadata.x']\n"

	filtertest.Run(t, []filtertest.Case{
		{
			Name: "flat dotted key and plain field",
			Flow: flow,
			In:   `{"_path":"conn","id.orig_h":"10.0.0.1","id.orig_p":1,"uid":"C1"}`,
			Want: `{"id":{"orig_p":1},"uid":"C1"}`,
		},
		{
			Name: "quoted reference does not match a nested object",
			Flow: flow,
			In:   `{"id":{"orig_h":"10.0.0.1"}}`,
			Want: `{"id":{"orig_h":"10.0.0.1"}}`,
		},
		{
			Name: "nested field, emptied objects removed",
			Flow: flow,
			In:   `{"uid":"C1","zeek":{"id":{"orig_p":1}}}`,
			Want: `{"uid":"C1"}`,
		},
		{
			Name: "nested field, other keys kept",
			Flow: flow,
			In:   `{"zeek":{"id":{"orig_p":1,"resp_p":2}}}`,
			Want: `{"zeek":{"id":{"resp_p":2}}}`,
		},
		{
			Name: "missing fields and a parent that is not an object",
			Flow: flow,
			In:   `{"zeek":"x"}`,
			Want: `{"zeek":"x"}`,
		},
		{
			Name: "a single field as a string",
			Flow: "filters:\n  - remove:\n      fields: uid\n",
			In:   `{"proto":"tcp","uid":"C1"}`,
			Want: `{"proto":"tcp"}`,
		},
		{
			Name: "whole object",
			Flow: "filters:\n  - remove:\n      fields: [zeek]\n",
			In:   `{"zeek":{"a":1}}`,
			Want: `{}`,
		},
		{
			Name: "if condition",
			Flow: flow + "    if: '_path == \"dns\"'\n",
			In:   `{"_path":"conn"}`,
			Want: `{"_path":"conn"}`,
		},
	})
}

func TestRemoveBadSettings(t *testing.T) {
	filtertest.RunBadConfigs(t, []filtertest.BadConfig{
		{"no fields", "filters:\n  - remove: {}\n", "fields: name at least one field"},
		{"bad reference", "filters:\n  - remove:\n      fields: [a, 'b..c']\n", "fields[1]: field reference \"b..c\": empty segment"},
		{"fields is a mapping", "filters:\n  - remove:\n      fields: {a: b}\n", "expected a list of field names"},
	})
}

func TestRemoveDocs(t *testing.T) { filtertest.CheckDocs(t, "remove") }
