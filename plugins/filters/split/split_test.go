package split

import (
	"testing"

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/filtertest"
)

func TestSplit(t *testing.T) {
	const flow = "filters:\n  - split:\n      field: v\n"

	filtertest.Run(t, []filtertest.Case{
		{Name: "defaults: comma, trim, remove empty", Flow: flow, In: `{"v":" a, b ,,c, "}`, Want: `{"v":["a","b","c"]}`},
		{Name: "single piece", Flow: flow, In: `{"v":"a"}`, Want: `{"v":["a"]}`},
		{Name: "empty text gives an empty array", Flow: flow, In: `{"v":""}`, Want: `{"v":[]}`},
		{Name: "trim off", Flow: flow + "      trim: false\n", In: `{"v":" a, b"}`, Want: `{"v":[" a"," b"]}`},
		{Name: "remove_empty off", Flow: flow + "      remove_empty: false\n", In: `{"v":"a,,b,"}`, Want: `{"v":["a","","b",""]}`},
		{Name: "remove_empty off, blank pieces trimmed to empty", Flow: flow + "      remove_empty: false\n", In: `{"v":"a, ,b"}`, Want: `{"v":["a","","b"]}`},
		{Name: "separator", Flow: flow + "      separator: ' | '\n", In: `{"v":"a | b|c"}`, Want: `{"v":["a","b|c"]}`},
		{Name: "target", Flow: flow + "      target: w.list\n", In: `{"v":"a,b"}`, Want: `{"v":"a,b","w":{"list":["a","b"]}}`},
		{Name: "array left as it is", Flow: flow, In: `{"v":["a,b",1]}`, Want: `{"v":["a,b",1]}`},
		{Name: "array copied to a target", Flow: flow + "      target: w\n", In: `{"v":["a,b"]}`, Want: `{"v":["a,b"],"w":["a,b"]}`},
		{Name: "missing field", Flow: flow, In: `{"x":"a,b"}`, Want: `{"x":"a,b"}`},
		{Name: "null field", Flow: flow, In: `{"v":null}`, Want: `{"v":null}`},
		{Name: "number fails naming the field", Flow: flow, In: `{"v":12}`, Err: `cannot split field v: it holds a number (12), not text`},
		{Name: "number with on_error tag", Flow: flow + "    on_error: tag\n", In: `{"v":12}`, Want: `{"tags":["_split_failure"],"v":12}`},
		{Name: "flat dotted key", Flow: "filters:\n  - split:\n      field: '\"zeek.actions\"'\n", In: `{"zeek.actions":"a,b"}`,
			Want: `{"zeek":{"actions":["a","b"]}}`},
		{Name: "quoted reference does not match a nested object", Flow: "filters:\n  - split:\n      field: '\"zeek.actions\"'\n",
			In: `{"zeek":{"actions":"a,b"}}`, Want: `{"zeek":{"actions":"a,b"}}`},
		{Name: "conflict on target", Flow: flow + "      target: w.list\n", In: `{"v":"a","w":"x"}`,
			Err: `cannot write field w.list: "w" already holds a string ("x"), not an object`},
		{Name: "if condition", Flow: flow + "    if: 'v != \"keep,me\"'\n", In: `{"v":"keep,me"}`, Want: `{"v":"keep,me"}`},
	})
}

func TestSplitBadSettings(t *testing.T) {
	filtertest.RunBadConfigs(t, []filtertest.BadConfig{
		{"no field", "filters:\n  - split: {}\n", "field: name the field to split"},
		{"empty separator", "filters:\n  - split: {field: a, separator: ''}\n", "separator: must not be empty"},
		{"bad target", "filters:\n  - split: {field: a, target: '.b'}\n", "target: field reference"},
	})
}

func TestSplitDocs(t *testing.T) { filtertest.CheckDocs(t, "split") }
