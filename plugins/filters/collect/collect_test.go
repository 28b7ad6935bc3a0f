package collect

import (
	"testing"

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/filtertest"
)

func TestCollect(t *testing.T) {
	const flow = "filters:\n  - collect:\n      fields: [source.ip, destination.ip, '\"id.orig_h\"', dns.answers]\n      target: related.ip\n"

	filtertest.Run(t, []filtertest.Case{
		{Name: "two fields", Flow: flow, In: `{"destination":{"ip":"10.0.0.2"},"source":{"ip":"10.0.0.1"}}`,
			Want: `{"destination":{"ip":"10.0.0.2"},"related":{"ip":["10.0.0.1","10.0.0.2"]},"source":{"ip":"10.0.0.1"}}`},
		{Name: "duplicates dropped", Flow: flow, In: `{"destination":{"ip":"10.0.0.1"},"source":{"ip":"10.0.0.1"}}`,
			Want: `{"destination":{"ip":"10.0.0.1"},"related":{"ip":["10.0.0.1"]},"source":{"ip":"10.0.0.1"}}`},
		{Name: "arrays flattened, order of appearance, null and empty skipped", Flow: flow,
			In:   `{"dns":{"answers":["b",null,["c","a"],"",1,1.0]},"source":{"ip":"a"}}`,
			Want: `{"dns":{"answers":["b",null,["c","a"],"",1,1]},"related":{"ip":["a","b","c",1]},"source":{"ip":"a"}}`},
		{Name: "appended to an existing array, without repeating it", Flow: flow,
			In:   `{"related":{"ip":["10.0.0.9","10.0.0.1"]},"source":{"ip":"10.0.0.1"},"destination":{"ip":"10.0.0.2"}}`,
			Want: `{"destination":{"ip":"10.0.0.2"},"related":{"ip":["10.0.0.9","10.0.0.1","10.0.0.2"]},"source":{"ip":"10.0.0.1"}}`},
		{Name: "existing scalar becomes the first element", Flow: flow,
			In:   `{"related":{"ip":"10.0.0.9"},"source":{"ip":"10.0.0.1"}}`,
			Want: `{"related":{"ip":["10.0.0.9","10.0.0.1"]},"source":{"ip":"10.0.0.1"}}`},
		{Name: "nothing new leaves the target as it is", Flow: flow,
			In:   `{"related":{"ip":"10.0.0.1"},"source":{"ip":"10.0.0.1"}}`,
			Want: `{"related":{"ip":"10.0.0.1"},"source":{"ip":"10.0.0.1"}}`},
		{Name: "nothing found writes nothing", Flow: flow, In: `{"source":{"ip":""},"uid":"C1"}`, Want: `{"source":{"ip":""},"uid":"C1"}`},
		{Name: "flat dotted key", Flow: flow, In: `{"id.orig_h":"10.0.0.1"}`,
			Want: `{"id":{"orig_h":"10.0.0.1"},"related":{"ip":["10.0.0.1"]}}`},
		{Name: "nested reference does not match a flat dotted key", Flow: flow, In: `{"source.ip":"10.0.0.1"}`,
			Want: `{"source":{"ip":"10.0.0.1"}}`},
		{Name: "objects are values", Flow: "filters:\n  - collect:\n      fields: [a, b]\n      target: c\n",
			In: `{"a":{"x":1},"b":[{"x":1.0},{"x":2}]}`, Want: `{"a":{"x":1},"b":[{"x":1},{"x":2}],"c":[{"x":1},{"x":2}]}`},
		{Name: "target holding an object fails", Flow: flow, In: `{"related":{"ip":{"v4":"x"}},"source":{"ip":"10.0.0.1"}}`,
			Err: `cannot collect into field related.ip: it holds an object ({"v4":"x"}), and collect writes an array`},
		{Name: "conflict: target parent is a string", Flow: flow, In: `{"related":"x","source":{"ip":"10.0.0.1"}}`,
			Err: `cannot write field related.ip: "related" already holds a string ("x"), not an object`},
		{Name: "conflict with on_error tag leaves the event", Flow: flow + "    on_error: tag\n", In: `{"related":"x","source":{"ip":"10.0.0.1"}}`,
			Want: `{"related":"x","source":{"ip":"10.0.0.1"},"tags":["_collect_failure"]}`},
		{Name: "if condition", Flow: flow + "    if: 'source?.ip != \"10.0.0.1\"'\n", In: `{"source":{"ip":"10.0.0.1"}}`,
			Want: `{"source":{"ip":"10.0.0.1"}}`},
	})
}

func TestCollectBadSettings(t *testing.T) {
	filtertest.RunBadConfigs(t, []filtertest.BadConfig{
		{"no fields", "filters:\n  - collect: {target: a}\n", "fields: name the fields"},
		{"no target", "filters:\n  - collect: {fields: [a]}\n", "target: name the array"},
		{"bad field", "filters:\n  - collect: {fields: [a, 'b.'], target: c}\n", "fields[1]: field reference"},
	})
}

func TestCollectDocs(t *testing.T) { filtertest.CheckDocs(t, "collect") }
