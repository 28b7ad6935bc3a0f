package date

import (
	"strings"
	"testing"

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/filtertest"
	"github.com/mdrsflow/mdrsflow/runtime/event"
	"github.com/mdrsflow/mdrsflow/sdk"
)

func flow(settings ...string) string {
	s := "filters:\n  - date:\n"
	if len(settings) == 0 {
		return s + "      {}\n"
	}
	for _, x := range settings {
		s += "      " + x + "\n"
	}
	return s
}

func TestDate(t *testing.T) {
	filtertest.Run(t, []filtertest.Case{
		// iso8601
		{Name: "iso with fraction", Flow: flow(), In: `{"ts":"2018-03-24T17:15:20.865716Z"}`,
			Want: `{"@timestamp":"2018-03-24T17:15:20.865716Z","ts":"2018-03-24T17:15:20.865716Z"}`},
		{Name: "iso without fraction", Flow: flow(), In: `{"ts":"2018-03-24T17:15:20Z"}`,
			Want: `{"@timestamp":"2018-03-24T17:15:20.000000Z","ts":"2018-03-24T17:15:20Z"}`},
		{Name: "iso with offset", Flow: flow(), In: `{"ts":"2018-03-24T19:15:20.5+02:00"}`,
			Want: `{"@timestamp":"2018-03-24T17:15:20.500000Z","ts":"2018-03-24T19:15:20.5+02:00"}`},
		{Name: "iso with compact offset and space", Flow: flow(), In: `{"ts":"2018-03-24 12:15:20-0500"}`,
			Want: `{"@timestamp":"2018-03-24T17:15:20.000000Z","ts":"2018-03-24 12:15:20-0500"}`},
		{Name: "iso with hour offset and comma", Flow: flow(), In: `{"ts":"2018-03-24T18:15:20,25+01"}`,
			Want: `{"@timestamp":"2018-03-24T17:15:20.250000Z","ts":"2018-03-24T18:15:20,25+01"}`},
		{Name: "iso without zone is UTC", Flow: flow(), In: `{"ts":"2018-03-24T17:15:20.865716"}`,
			Want: `{"@timestamp":"2018-03-24T17:15:20.865716Z","ts":"2018-03-24T17:15:20.865716"}`},
		{Name: "iso without zone in timezone", Flow: flow("timezone: Europe/Berlin"), In: `{"ts":"2018-07-24T17:15:20"}`,
			Want: `{"@timestamp":"2018-07-24T15:15:20.000000Z","ts":"2018-07-24T17:15:20"}`},
		{Name: "iso with zone ignores timezone", Flow: flow("timezone: Europe/Berlin"), In: `{"ts":"2018-07-24T17:15:20Z"}`,
			Want: `{"@timestamp":"2018-07-24T17:15:20.000000Z","ts":"2018-07-24T17:15:20Z"}`},
		{Name: "iso date only", Flow: flow(), In: `{"ts":"2018-03-24"}`,
			Want: `{"@timestamp":"2018-03-24T00:00:00.000000Z","ts":"2018-03-24"}`},
		{Name: "iso with more than nine fraction digits", Flow: flow("precision: nanos"), In: `{"ts":"2018-03-24T17:15:20.1234567891Z"}`,
			Want: `{"@timestamp":"2018-03-24T17:15:20.123456789Z","ts":"2018-03-24T17:15:20.1234567891Z"}`},
		{Name: "iso February 30th fails", Flow: flow(), In: `{"ts":"2018-02-30T00:00:00Z"}`,
			Err: `cannot read field ts as a time: "2018-02-30T00:00:00Z" matches none of the formats (iso8601, unix)`},

		// unix
		{Name: "epoch float keeps microseconds", Flow: flow(), In: `{"ts":1547188415.857497}`,
			Want: `{"@timestamp":"2019-01-11T06:33:35.857497Z","ts":1547188415.857497}`},
		{Name: "epoch float, millis truncates", Flow: flow("precision: millis"), In: `{"ts":1547188415.857497}`,
			Want: `{"@timestamp":"2019-01-11T06:33:35.857Z","ts":1547188415.857497}`},
		{Name: "epoch float, nanos", Flow: flow("precision: nanos"), In: `{"ts":1547188415.857497}`,
			Want: `{"@timestamp":"2019-01-11T06:33:35.857497000Z","ts":1547188415.857497}`},
		{Name: "epoch text keeps every digit", Flow: flow("precision: nanos"), In: `{"ts":"1547188415.857497123"}`,
			Want: `{"@timestamp":"2019-01-11T06:33:35.857497123Z","ts":"1547188415.857497123"}`},
		{Name: "epoch integer", Flow: flow(), In: `{"ts":1547188415}`,
			Want: `{"@timestamp":"2019-01-11T06:33:35.000000Z","ts":1547188415}`},
		{Name: "epoch before 1970", Flow: flow("precision: millis"), In: `{"ts":-1.5}`,
			Want: `{"@timestamp":"1969-12-31T23:59:58.500Z","ts":-1.5}`},
		{Name: "epoch ignores timezone", Flow: flow("timezone: America/New_York"), In: `{"ts":0}`,
			Want: `{"@timestamp":"1970-01-01T00:00:00.000000Z","ts":0}`},

		// unix_ms
		{Name: "epoch millis", Flow: flow("formats: [unix_ms]", "precision: millis"), In: `{"ts":1547188415857}`,
			Want: `{"@timestamp":"2019-01-11T06:33:35.857Z","ts":1547188415857}`},
		{Name: "epoch millis with fraction", Flow: flow("formats: unix_ms"), In: `{"ts":"1547188415857.497"}`,
			Want: `{"@timestamp":"2019-01-11T06:33:35.857497Z","ts":"1547188415857.497"}`},

		// rfc2822 and layouts
		{Name: "rfc2822", Flow: flow("formats: [rfc2822]"), In: `{"ts":"Sat, 24 Mar 2018 18:15:20 +0100"}`,
			Want: `{"@timestamp":"2018-03-24T17:15:20.000000Z","ts":"Sat, 24 Mar 2018 18:15:20 +0100"}`},
		{Name: "rfc2822 without day name", Flow: flow("formats: [rfc2822]"), In: `{"ts":"24 Mar 2018 17:15 +0000"}`,
			Want: `{"@timestamp":"2018-03-24T17:15:00.000000Z","ts":"24 Mar 2018 17:15 +0000"}`},
		{Name: "Go layout in timezone", Flow: flow(`formats: ["2006-01-02 15:04:05.000000"]`, "timezone: Asia/Tokyo"),
			In:   `{"ts":"2018-03-25 02:15:20.865716"}`,
			Want: `{"@timestamp":"2018-03-24T17:15:20.865716Z","ts":"2018-03-25 02:15:20.865716"}`},
		{Name: "formats tried in order", Flow: flow(`formats: ["02/01/2006", iso8601, unix]`), In: `{"ts":"24/03/2018"}`,
			Want: `{"@timestamp":"2018-03-24T00:00:00.000000Z","ts":"24/03/2018"}`},
		{Name: "logstash spelling of names", Flow: flow("formats: [ISO8601, UNIX]"), In: `{"ts":"1"}`,
			Want: `{"@timestamp":"1970-01-01T00:00:01.000000Z","ts":"1"}`},

		// settings
		{Name: "field, target and remove_field", Flow: flow(`field: '"zeek.ts"'`, "target: event.created", "remove_field: true"),
			In: `{"zeek.ts":1}`, Want: `{"event":{"created":"1970-01-01T00:00:01.000000Z"}}`},
		{Name: "quoted reference does not match a nested object", Flow: flow(`field: '"zeek.ts"'`, "required: true"),
			In: `{"zeek":{"ts":1}}`, Err: `field "zeek.ts" is missing and required is true`},
		{Name: "nested field", Flow: flow("field: zeek.ts"),
			In: `{"zeek":{"ts":1}}`, Want: `{"@timestamp":"1970-01-01T00:00:01.000000Z","zeek":{"ts":1}}`},
		{Name: "remove_field onto itself keeps the field", Flow: flow("target: ts", "remove_field: true"),
			In: `{"ts":1}`, Want: `{"ts":"1970-01-01T00:00:01.000000Z"}`},
		{Name: "missing field is skipped", Flow: flow(), In: `{"@timestamp":"x","uid":"C1"}`, Want: `{"@timestamp":"x","uid":"C1"}`},
		{Name: "null field is skipped", Flow: flow(), In: `{"ts":null}`, Want: `{"ts":null}`},
		{Name: "missing field, required", Flow: flow("required: true"), In: `{"uid":"C1"}`,
			Err: `field ts is missing and required is true: the event has no time; check the sensor's output`},
		{Name: "existing target overwritten", Flow: flow(), In: `{"@timestamp":"old","ts":0}`,
			Want: `{"@timestamp":"1970-01-01T00:00:00.000000Z","ts":0}`},

		// failures
		{Name: "unparsable text", Flow: flow(), In: `{"ts":"yesterday"}`,
			Err: `cannot read field ts as a time: "yesterday" matches none of the formats (iso8601, unix); fix the value at the source or add its layout to formats`},
		{Name: "number with only text formats", Flow: flow("formats: [iso8601]"), In: `{"ts":5}`,
			Err: `5 matches none of the formats (iso8601)`},
		{Name: "boolean", Flow: flow(), In: `{"ts":true}`, Err: `cannot read field ts as a time: it holds a boolean (true); a time is text or a number`},
		{Name: "object", Flow: flow(), In: `{"ts":{"a":1}}`, Err: `it holds an object ({"a":1})`},
		{Name: "year out of range", Flow: flow(), In: `{"ts":1547188415857497}`,
			Err: `cannot read field ts as a time: 1547188415857497 is the year`},
		{Name: "conflict on target", Flow: flow("target: event.created"), In: `{"event":"x","ts":0}`,
			Err: `cannot write field event.created: "event" already holds a string ("x"), not an object`},
		{Name: "unparsable with on_error tag", Flow: flow() + "    on_error: tag\n", In: `{"ts":"x"}`,
			Want: `{"tags":["_date_failure"],"ts":"x"}`},
		{Name: "if condition", Flow: flow() + "    if: '_path == \"conn\"'\n", In: `{"_path":"dns","ts":0}`,
			Want: `{"_path":"dns","ts":0}`},
	})
}

func TestDateBadSettings(t *testing.T) {
	filtertest.RunBadConfigs(t, []filtertest.BadConfig{
		{"unknown format", "filters:\n  - date: {formats: [iso8061]}\n", `formats[0]: "iso8061" is not a known format`},
		{"joda pattern", "filters:\n  - date: {formats: ['yyyy-MM-dd HH:mm:ss']}\n", "is not a known format"},
		{"no formats", "filters:\n  - date: {formats: []}\n", "formats: name at least one format"},
		{"precision", "filters:\n  - date: {precision: seconds}\n", `precision: "seconds" is not one of millis, micros, nanos`},
		{"timezone", "filters:\n  - date: {timezone: Mars/Olympus}\n", `timezone: "Mars/Olympus" is not a time zone`},
		{"empty timezone", "filters:\n  - date: {timezone: ''}\n", `timezone: "" is not a time zone`},
		{"field", "filters:\n  - date: {field: ''}\n", "field: empty field reference"},
		{"target", "filters:\n  - date: {target: 'a..b'}\n", "target: field reference"},
	})
}

func TestDateDocs(t *testing.T) { filtertest.CheckDocs(t, "date") }

func newDate(tb testing.TB, settings string) *Date {
	d := New()
	if err := sdk.DecodeSettingsText([]byte(settings), d); err != nil {
		tb.Fatal(err)
	}
	if err := d.Validate(); err != nil {
		tb.Fatal(err)
	}
	return d
}

// FuzzDate checks that no value makes the filter panic and that whatever
// it writes is well formed.
func FuzzDate(f *testing.F) {
	for _, s := range []string{`"2018-03-24T17:15:20.865716Z"`, `1547188415.857497`, `"1547188415857"`,
		`"2018-03-24T17:15:20+"`, `"2018-03-24T17:15:20.Z"`, `"9999-12-31T23:59:59.999999999-23:59"`,
		`-62135596801`, `1e300`, `"Sat, 24 Mar 2018 18:15:20 +0100"`, `"0000-01-01"`, `"2018-03-24 17"`} {
		f.Add(s)
	}
	dates := []*Date{
		newDate(f, "formats: [iso8601, unix, unix_ms, rfc2822, '2006-01-02 15:04:05']\nprecision: nanos\n"),
		newDate(f, "formats: [unix_ms]\ntimezone: Europe/Berlin\n"),
	}
	ts := event.MustPath("@timestamp")
	f.Fuzz(func(t *testing.T, js string) {
		v, err := event.DecodeValue([]byte(js))
		if err != nil {
			v = js
		}
		for _, d := range dates {
			ev := event.New()
			ev.Fields()["ts"] = v
			if err := d.Apply(ev); err != nil {
				continue
			}
			out, ok := ev.Get(ts)
			if !ok {
				continue
			}
			s, _ := out.(string)
			if len(s) != len("2006-01-02T15:04:05.")+d.digits+1 || !strings.HasSuffix(s, "Z") {
				t.Fatalf("%s gave %q", js, s)
			}
		}
	})
}

func BenchmarkDate(b *testing.B) {
	d := newDate(b, "{}")
	ev, err := event.Decode([]byte(`{"ts":1547188415.857497,"uid":"CHhAvVGS1DHFjwGM9"}`))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Apply(ev); err != nil {
			b.Fatal(err)
		}
	}
}
