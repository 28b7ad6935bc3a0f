package nest

import (
	"testing"

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/filtertest"

	// Steps the cases combine with nest.
	_ "github.com/mdrsflow/mdrsflow/plugins/filters/set"
)

func TestNest(t *testing.T) {
	const meta = "filters:\n  - set: {fields: {'@metadata.stream': conn}}\n"
	filtertest.Run(t, []filtertest.Case{
		{
			Name: "the top level into a fixed object",
			Flow: "filters:\n  - nest: {target: work}\n",
			In:   `{"host":"10.0.0.1","uid":"C1"}`,
			Want: `{"work":{"host":"10.0.0.1","uid":"C1"}}`,
		},
		{
			Name: "into a name from metadata, dots expanded",
			Flow: meta + "  - nest: {target: 'zeek.{stream}', expand_dots: true}\n",
			In:   `{"id.orig_h":"10.0.0.1","id.orig_p":1,"uid":"C1"}`,
			Want: `{"zeek":{"conn":{"id":{"orig_h":"10.0.0.1","orig_p":1},"uid":"C1"}}}`,
		},
		{
			Name: "dots kept without expand_dots",
			Flow: "filters:\n  - nest: {target: z}\n  - set: {expr: {o: 'z[\"id.orig_h\"]'}}\n",
			In:   `{"id.orig_h":"10.0.0.1"}`,
			Want: `{"o":"10.0.0.1","z":{"id":{"orig_h":"10.0.0.1"}}}`,
		},
		{
			Name: "excluded keys stay",
			Flow: "filters:\n  - nest: {target: z, exclude: [event, tags]}\n",
			In:   `{"a":1,"event":{"original":"x"},"tags":["t"]}`,
			Want: `{"event":{"original":"x"},"tags":["t"],"z":{"a":1}}`,
		},
		{
			Name: "an object into a name from a field, merged",
			Flow: "filters:\n  - nest: {field: work, target: 'zeek.{kind}'}\n",
			In:   `{"kind":"dns","work":{"query":"a.example","rcode":0},"zeek":{"dns":{"rcode":3,"x":1},"session_id":"C1"}}`,
			Want: `{"kind":"dns","zeek":{"dns":{"query":"a.example","rcode":0,"x":1},"session_id":"C1"}}`,
		},
		{
			Name: "a field named like the target is moved too",
			Flow: "filters:\n  - nest: {target: zeek.conn}\n",
			In:   `{"uid":"C1","zeek":"x"}`,
			Want: `{"zeek":{"conn":{"uid":"C1","zeek":"x"}}}`,
		},
		{
			Name: "nothing to move writes nothing",
			Flow: "filters:\n  - nest: {field: work, target: z}\n",
			In:   `{"a":1,"work":{}}`,
			Want: `{"a":1,"work":{}}`,
		},
		{
			Name: "missing field is skipped",
			Flow: "filters:\n  - nest: {field: work, target: z}\n",
			In:   `{"a":1}`,
			Want: `{"a":1}`,
		},
		{
			Name: "placeholder that is not a word",
			Flow: "filters:\n  - nest: {target: 'zeek.{kind}'}\n",
			In:   `{"kind":"../x"}`,
			Err:  `{kind} is "../x", not a word`,
		},
		{
			Name: "placeholder missing",
			Flow: "filters:\n  - nest: {target: 'zeek.{kind}'}\n",
			In:   `{"a":1}`,
			Err:  `{kind} is null`,
		},
		{
			Name: "not an object",
			Flow: "filters:\n  - nest: {field: work, target: z}\n",
			In:   `{"work":"x"}`,
			Err:  "holds a string, not an object",
		},
		{
			Name: "dotted key conflict",
			Flow: "filters:\n  - nest: {target: z, expand_dots: true}\n",
			In:   `{"a":1,"a.b":2}`,
			Err:  "cannot expand",
		},
		{
			Name: "target in the way leaves the event as it was",
			Flow: "filters:\n  - nest: {field: work, target: a.b}\n",
			In:   `{"a":"x","work":{"k":1}}`,
			Err:  "cannot write field a.b",
		},
	})
}

func TestBadConfig(t *testing.T) {
	filtertest.RunBadConfigs(t, []filtertest.BadConfig{
		{"no target", "filters:\n  - nest: {}\n", "target: empty"},
		{"open brace", "filters:\n  - nest: {target: 'zeek.{x'}\n", "without '}'"},
		{"bad shape", "filters:\n  - nest: {target: 'zeek..{x}'}\n", "empty segment"},
		{"exclude with field", "filters:\n  - nest: {field: a, target: b, exclude: [c]}\n", "needs field unset"},
	})
}

func TestDocs(t *testing.T) { filtertest.CheckDocs(t, "nest") }
