package convert

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/filtertest"
	"github.com/mdrsflow/mdrsflow/runtime/event"
	"github.com/mdrsflow/mdrsflow/sdk"
)

func flow(typ string, extra ...string) string {
	return "filters:\n  - convert:\n      fields:\n        v: " + typ + "\n" + strings.Join(extra, "")
}

func TestConvert(t *testing.T) {
	cases := []filtertest.Case{
		// integer
		{Name: "integer from int", Flow: flow("integer"), In: `{"v":5}`, Want: `{"v":5}`},
		{Name: "integer from whole float", Flow: flow("integer"), In: `{"v":5.0}`, Want: `{"v":5}`},
		{Name: "integer from text", Flow: flow("integer"), In: `{"v":"443"}`, Want: `{"v":443}`},
		{Name: "integer from text with spaces and sign", Flow: flow("integer"), In: `{"v":" -7 "}`, Want: `{"v":-7}`},
		{Name: "integer from whole decimal text", Flow: flow("integer"), In: `{"v":"3.0"}`, Want: `{"v":3}`},
		{Name: "integer from exponent text", Flow: flow("integer"), In: `{"v":"1e3"}`, Want: `{"v":1000}`},
		{Name: "integer max", Flow: flow("integer"), In: `{"v":"9223372036854775807"}`, Want: `{"v":9223372036854775807}`},
		{Name: "integer from fraction fails", Flow: flow("integer"), In: `{"v":3.5}`,
			Err: `cannot convert field v to integer: 3.5 has a fraction, which an integer cannot hold; fix the value at the source, or set on_error: tag`},
		{Name: "integer from fraction text fails", Flow: flow("integer"), In: `{"v":"3.5"}`, Err: `"3.5" has a fraction`},
		{Name: "integer from text fails", Flow: flow("integer"), In: `{"v":"abc"}`, Err: `cannot convert field v to integer: "abc" is not a number`},
		{Name: "integer from empty text fails", Flow: flow("integer"), In: `{"v":""}`, Err: `"" is not a number`},
		{Name: "integer too large", Flow: flow("integer"), In: `{"v":"9223372036854775808"}`, Err: `is too large for a 64-bit integer`},
		{Name: "integer from huge float", Flow: flow("integer"), In: `{"v":1e19}`, Err: `is too large for a 64-bit integer`},
		{Name: "integer from boolean fails", Flow: flow("integer"), In: `{"v":true}`, Err: `true is not a number`},
		{Name: "integer from object fails", Flow: flow("integer"), In: `{"v":{"a":1}}`, Err: `{"a":1} cannot be converted`},

		// float
		{Name: "float from int", Flow: flow("float"), In: `{"v":5}`, Want: `{"v":5}`},
		{Name: "float from text", Flow: flow("float"), In: `{"v":"0.25"}`, Want: `{"v":0.25}`},
		{Name: "float keeps float", Flow: flow("float"), In: `{"v":1.5}`, Want: `{"v":1.5}`},
		{Name: "float from NaN fails", Flow: flow("float"), In: `{"v":"NaN"}`, Err: `"NaN" is not a number`},
		{Name: "float from Inf fails", Flow: flow("float"), In: `{"v":"1e999"}`, Err: `"1e999" is not a number`},
		{Name: "float from hex fails", Flow: flow("float"), In: `{"v":"0x1p3"}`, Err: `"0x1p3" is not a number`},

		// string
		{Name: "string from int", Flow: flow("string"), In: `{"v":443}`, Want: `{"v":"443"}`},
		{Name: "string from float", Flow: flow("string"), In: `{"v":1.5}`, Want: `{"v":"1.5"}`},
		{Name: "string from large float", Flow: flow("string"), In: `{"v":1e21}`, Want: `{"v":"1e+21"}`},
		{Name: "string from boolean", Flow: flow("string"), In: `{"v":false}`, Want: `{"v":"false"}`},
		{Name: "string keeps string", Flow: flow("string"), In: `{"v":"x"}`, Want: `{"v":"x"}`},
		{Name: "string from object fails", Flow: flow("string"), In: `{"v":{}}`, Err: `{} cannot be converted`},

		// boolean
		{Name: "boolean from T", Flow: flow("boolean"), In: `{"v":"T"}`, Want: `{"v":true}`},
		{Name: "boolean from F", Flow: flow("boolean"), In: `{"v":"F"}`, Want: `{"v":false}`},
		{Name: "boolean from text", Flow: flow("boolean"), In: `{"v":"False"}`, Want: `{"v":false}`},
		{Name: "boolean from 1", Flow: flow("boolean"), In: `{"v":1}`, Want: `{"v":true}`},
		{Name: "boolean from 0 text", Flow: flow("boolean"), In: `{"v":"0"}`, Want: `{"v":false}`},
		{Name: "boolean keeps boolean", Flow: flow("boolean"), In: `{"v":true}`, Want: `{"v":true}`},
		{Name: "boolean from 2 fails", Flow: flow("boolean"), In: `{"v":2}`, Err: `2 is not a boolean (true/false, t/f, 1/0)`},
		{Name: "boolean from yes fails", Flow: flow("boolean"), In: `{"v":"yes"}`, Err: `"yes" is not a boolean`},

		// ip
		{Name: "ip v4", Flow: flow("ip"), In: `{"v":"10.0.0.1"}`, Want: `{"v":"10.0.0.1"}`},
		{Name: "ip v6 canonical", Flow: flow("ip"), In: `{"v":"2001:0DB8:0000:0000:0000:0000:0000:0001"}`, Want: `{"v":"2001:db8::1"}`},
		{Name: "ip v4-mapped v6", Flow: flow("ip"), In: `{"v":"::FFFF:10.0.0.1"}`, Want: `{"v":"::ffff:10.0.0.1"}`},
		{Name: "ip invalid fails", Flow: flow("ip"), In: `{"v":"10.0.0.256"}`, Err: `cannot convert field v to ip: "10.0.0.256" is not an IPv4 or IPv6 address`},
		{Name: "ip from number fails", Flow: flow("ip"), In: `{"v":167772161}`, Err: `167772161 is not an IPv4 or IPv6 address`},

		// nanoseconds
		{Name: "nanoseconds from float", Flow: flow("nanoseconds"), In: `{"v":0.000123}`, Want: `{"v":123000}`},
		{Name: "nanoseconds from Zeek duration", Flow: flow("nanoseconds"), In: `{"v":1547188415.857497}`, Want: `{"v":1547188415857497000}`},
		{Name: "nanoseconds from int", Flow: flow("nanoseconds"), In: `{"v":3}`, Want: `{"v":3000000000}`},
		{Name: "nanoseconds from text", Flow: flow("nanoseconds"), In: `{"v":"2.5"}`, Want: `{"v":2500000000}`},
		{Name: "nanoseconds rounds to nearest", Flow: flow("nanoseconds"), In: `{"v":"0.0000000015"}`, Want: `{"v":2}`},
		{Name: "nanoseconds rounds down", Flow: flow("nanoseconds"), In: `{"v":"0.0000000014"}`, Want: `{"v":1}`},
		{Name: "nanoseconds negative", Flow: flow("nanoseconds"), In: `{"v":-0.5}`, Want: `{"v":-500000000}`},
		{Name: "nanoseconds too large", Flow: flow("nanoseconds"), In: `{"v":1e10}`, Err: `is too many seconds for 64-bit nanoseconds`},
		{Name: "nanoseconds from text fails", Flow: flow("nanoseconds"), In: `{"v":"1s"}`, Err: `"1s" is not a number`},

		// arrays, missing fields, null, paths
		{Name: "array element by element", Flow: flow("integer"), In: `{"v":["1",2.0,null,3]}`, Want: `{"v":[1,2,null,3]}`},
		{Name: "array with a bad element names it and leaves the field", Flow: flow("integer", "    on_error: tag\n"),
			In: `{"v":["1","x"]}`, Want: `{"tags":["_convert_failure"],"v":["1","x"]}`},
		{Name: "array with a bad element, reason", Flow: flow("integer"), In: `{"v":["1","x"]}`,
			Err: `cannot convert field v (element 1) to integer: "x" is not a number`},
		{Name: "missing field is skipped", Flow: flow("integer"), In: `{"w":"1"}`, Want: `{"w":"1"}`},
		{Name: "null is skipped", Flow: flow("integer"), In: `{"v":null}`, Want: `{"v":null}`},
		{Name: "long value is cut in the message", Flow: flow("integer"), In: `{"v":"` + strings.Repeat("9x", 100) + `"}`,
			Err: `"` + strings.Repeat("9x", 49) + `9… (202 bytes) is not a number`},
		{
			Name: "flat dotted key and nested field",
			Flow: "filters:\n  - convert:\n      fields:\n        '\"id.orig_p\"': integer\n        id.resp_p: integer\n",
			In:   `{"id":{"resp_p":"80"},"id.orig_p":"5353"}`,
			Want: `{"id":{"orig_p":5353,"resp_p":80}}`,
		},
		{
			Name: "nested reference does not match a flat dotted key",
			Flow: "filters:\n  - convert:\n      fields:\n        id.orig_p: integer\n",
			In:   `{"id.orig_p":"5353"}`,
			Want: `{"id":{"orig_p":"5353"}}`,
		},
		{
			Name: "in order: earlier fields are converted when a later one fails",
			Flow: "filters:\n  - convert:\n      fields:\n        a: integer\n        b: integer\n    on_error: ignore\n",
			In:   `{"a":"1","b":"x"}`,
			Want: `{"a":1,"b":"x"}`,
		},
		{Name: "if condition", Flow: flow("integer", "    if: 'v != \"skip\"'\n"), In: `{"v":"skip"}`, Want: `{"v":"skip"}`},
	}
	filtertest.Run(t, cases)
}

func TestConvertBadSettings(t *testing.T) {
	filtertest.RunBadConfigs(t, []filtertest.BadConfig{
		{"no fields", "filters:\n  - convert: {}\n", "fields: name at least one field and its type"},
		{"unknown type", "filters:\n  - convert:\n      fields:\n        a: int\n",
			`fields (line 4): a: unknown type "int"; the types are integer, float, string, boolean, ip, nanoseconds`},
		{"bad reference", "filters:\n  - convert:\n      fields:\n        'a.': integer\n", "ends with '.'"},
		{"fields is a list", "filters:\n  - convert:\n      fields: [a]\n", "expected a mapping"},
	})
}

func TestConvertDocs(t *testing.T) { filtertest.CheckDocs(t, "convert") }

// FuzzConvert checks that no value, of any JSON kind, makes a conversion
// panic, and that each result is an event value.
func FuzzConvert(f *testing.F) {
	for _, s := range []string{`"443"`, `3.5`, `"T"`, `"::1"`, `1e400`, `"1e-400"`, `-0`, `"9223372036854775808"`,
		`[1,"2",null]`, `{"a":1}`, `"  +.5 "`, `"-"`, `"."`, `"1e99999999999"`, `true`, `"0.0000000005"`} {
		f.Add(s)
	}
	types := make([]*Convert, 0, len(converters))
	for name := range converters {
		c := New()
		if err := sdk.DecodeSettingsText([]byte("fields:\n  v: "+name+"\n"), c); err != nil {
			f.Fatal(err)
		}
		if err := c.Validate(); err != nil {
			f.Fatal(err)
		}
		types = append(types, c)
	}
	f.Fuzz(func(t *testing.T, js string) {
		v, err := event.DecodeValue([]byte(js))
		if err != nil {
			v = js // not JSON: use it as text
		}
		for _, c := range types {
			ev := event.New()
			ev.Fields()["v"] = event.CloneValue(v)
			if err := c.Apply(ev); err != nil {
				continue
			}
			if _, err := ev.Encode(nil); err != nil {
				t.Fatalf("%s of %s: result does not encode: %v", c.convs[0].to, js, err)
			}
			checkTypes(t, ev.Fields()["v"], fmt.Sprintf("%s of %s", c.convs[0].to, js))
		}
	})
}

func checkTypes(t *testing.T, v any, what string) {
	switch x := v.(type) {
	case nil, bool, int64, float64, string:
	case []any:
		for _, e := range x {
			checkTypes(t, e, what)
		}
	case map[string]any:
		for _, e := range x {
			checkTypes(t, e, what)
		}
	default:
		t.Fatalf("%s: result holds a %T", what, v)
	}
}
