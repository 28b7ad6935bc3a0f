package append

import (
	"testing"

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/filtertest"
)

func TestAppend(t *testing.T) {
	const flow = "filters:\n  - append:\n      field: event.type\n      values: [connection, start]\n"

	filtertest.Run(t, []filtertest.Case{
		{Name: "missing field becomes an array", Flow: flow, In: `{}`, Want: `{"event":{"type":["connection","start"]}}`},
		{Name: "null field becomes an array", Flow: flow, In: `{"event":{"type":null}}`, Want: `{"event":{"type":["connection","start"]}}`},
		{Name: "appended, present values skipped", Flow: flow, In: `{"event":{"type":["start"]}}`,
			Want: `{"event":{"type":["start","connection"]}}`},
		{Name: "all present: left as it is", Flow: flow, In: `{"event":{"type":["start","x","connection"]}}`,
			Want: `{"event":{"type":["start","x","connection"]}}`},
		{Name: "scalar becomes the first element", Flow: flow, In: `{"event":{"type":"end"}}`,
			Want: `{"event":{"type":["end","connection","start"]}}`},
		{Name: "scalar that is a value still becomes an array", Flow: flow, In: `{"event":{"type":"start"}}`,
			Want: `{"event":{"type":["start","connection"]}}`},
		{Name: "duplicate values in the setting added once", Flow: "filters:\n  - append:\n      field: tags\n      values: [a, a, b]\n",
			In: `{}`, Want: `{"tags":["a","b"]}`},
		{Name: "single value and numbers", Flow: "filters:\n  - append:\n      field: n\n      values: 1\n",
			In: `{"n":[1.0]}`, Want: `{"n":[1]}`},
		{Name: "objects as values", Flow: "filters:\n  - append:\n      field: n\n      values: [{a: 1}]\n",
			In: `{"n":[{"a":2}]}`, Want: `{"n":[{"a":2},{"a":1}]}`},
		{Name: "flat dotted key", Flow: "filters:\n  - append:\n      field: '\"event.type\"'\n      values: [x]\n",
			In: `{"event.type":["y"]}`, Want: `{"event":{"type":["y","x"]}}`},
		{Name: "nested reference does not match a flat dotted key", Flow: "filters:\n  - append:\n      field: event.kind\n      values: [x]\n",
			In: `{"event.type":"y"}`, Want: `{"event":{"kind":["x"],"type":"y"}}`},
		{Name: "object fails naming the field", Flow: flow, In: `{"event":{"type":{"a":1}}}`,
			Err: `cannot append to field event.type: it holds an object ({"a":1}), not an array`},
		{Name: "conflict: parent is a string", Flow: flow, In: `{"event":"x"}`,
			Err: `cannot write field event.type: "event" already holds a string ("x"), not an object`},
		{Name: "conflict with on_error tag", Flow: flow + "    on_error: tag\n", In: `{"event":"x"}`,
			Want: `{"event":"x","tags":["_append_failure"]}`},
		{Name: "if condition", Flow: flow + "    if: '_path == \"conn\"'\n", In: `{"_path":"dns"}`, Want: `{"_path":"dns"}`},
	})
}

func TestAppendBadSettings(t *testing.T) {
	filtertest.RunBadConfigs(t, []filtertest.BadConfig{
		{"no field", "filters:\n  - append: {values: [a]}\n", "field: name the array"},
		{"no values", "filters:\n  - append: {field: a}\n", "values: give at least one value"},
		{"empty values", "filters:\n  - append: {field: a, values: []}\n", "values: give at least one value"},
		{"bad field", "filters:\n  - append: {field: '\"a', values: [a]}\n", "unterminated quote"},
	})
}

func TestAppendDocs(t *testing.T) { filtertest.CheckDocs(t, "append") }
