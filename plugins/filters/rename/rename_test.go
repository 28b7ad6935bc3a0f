package rename

import (
	"testing"

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/filtertest"
	"github.com/mdrsflow/mdrsflow/runtime/event"
	"github.com/mdrsflow/mdrsflow/sdk"
)

func TestRename(t *testing.T) {
	const zeek = "filters:\n  - rename:\n      fields:\n" +
		"        '\"id.orig_h\"': source.ip\n" +
		"        '\"id.orig_p\"': source.port\n" +
		"        proto: network.transport\n"
	const nested = "filters:\n  - rename:\n      fields:\n        id.orig_h: source.ip\n"
	const noOverwrite = "filters:\n  - rename:\n      overwrite: false\n      fields:\n        proto: network.transport\n"

	filtertest.Run(t, []filtertest.Case{
		{
			Name: "flat dotted keys",
			Flow: zeek,
			In:   `{"id.orig_h":"10.0.0.1","id.orig_p":5353,"proto":"udp","uid":"C1"}`,
			Want: `{"network":{"transport":"udp"},"source":{"ip":"10.0.0.1","port":5353},"uid":"C1"}`,
		},
		{
			Name: "quoted reference does not match a nested object",
			Flow: zeek,
			In:   `{"id":{"orig_h":"10.0.0.1"}}`,
			Want: `{"id":{"orig_h":"10.0.0.1"}}`,
		},
		{
			Name: "nested reference, emptied object removed",
			Flow: nested,
			In:   `{"id":{"orig_h":"10.0.0.1"},"uid":"C1"}`,
			Want: `{"source":{"ip":"10.0.0.1"},"uid":"C1"}`,
		},
		{
			Name: "nested reference, object with other keys kept",
			Flow: nested,
			In:   `{"id":{"orig_h":"10.0.0.1","orig_p":1}}`,
			Want: `{"id":{"orig_p":1},"source":{"ip":"10.0.0.1"}}`,
		},
		{
			Name: "nested reference does not match a flat dotted key",
			Flow: nested,
			In:   `{"id.orig_h":"10.0.0.1"}`,
			Want: `{"id":{"orig_h":"10.0.0.1"}}`,
		},
		{
			Name: "missing field is skipped",
			Flow: zeek,
			In:   `{"uid":"C1"}`,
			Want: `{"uid":"C1"}`,
		},
		{
			Name: "null value is moved",
			Flow: zeek,
			In:   `{"proto":null}`,
			Want: `{"network":{"transport":null}}`,
		},
		{
			Name: "object value is moved whole",
			Flow: "filters:\n  - rename:\n      fields:\n        id: zeek.id\n",
			In:   `{"id":{"orig_h":"10.0.0.1","resp_p":80}}`,
			Want: `{"zeek":{"id":{"orig_h":"10.0.0.1","resp_p":80}}}`,
		},
		{
			Name: "list form, first existing source wins",
			Flow: "filters:\n  - rename:\n      fields:\n        - from: [src, '\"id.orig_h\"']\n          to: source.ip\n",
			In:   `{"id.orig_h":"10.0.0.2","src":"10.0.0.1"}`,
			Want: `{"id":{"orig_h":"10.0.0.2"},"source":{"ip":"10.0.0.1"}}`,
		},
		{
			Name: "list form, later source used when the first is missing",
			Flow: "filters:\n  - rename:\n      fields:\n        - from: [src, '\"id.orig_h\"']\n          to: source.ip\n",
			In:   `{"id.orig_h":"10.0.0.2"}`,
			Want: `{"source":{"ip":"10.0.0.2"}}`,
		},
		{
			Name: "list form, single from",
			Flow: "filters:\n  - rename:\n      fields:\n        - {from: proto, to: network.transport}\n",
			In:   `{"proto":"tcp"}`,
			Want: `{"network":{"transport":"tcp"}}`,
		},
		{
			Name: "order kept: a later entry sees an earlier one's result",
			Flow: "filters:\n  - rename:\n      fields:\n        a: b\n        b: c\n",
			In:   `{"a":1}`,
			Want: `{"c":1}`,
		},
		{
			Name: "overwrite by default",
			Flow: zeek,
			In:   `{"network":{"transport":"old"},"proto":"tcp"}`,
			Want: `{"network":{"transport":"tcp"}}`,
		},
		{
			Name: "overwrite false, target absent",
			Flow: noOverwrite,
			In:   `{"proto":"tcp"}`,
			Want: `{"network":{"transport":"tcp"}}`,
		},
		{
			Name: "overwrite false, target present fails naming both",
			Flow: noOverwrite,
			In:   `{"@timestamp":"2024-01-01T00:00:00Z","network":{"transport":"old"},"proto":"tcp"}`,
			Err:  `cannot rename field proto to network.transport: network.transport already holds "old" and overwrite is false`,
		},
		{
			Name: "overwrite false with on_error tag keeps the event as it was",
			Flow: noOverwrite + "    on_error: tag\n",
			In:   `{"network":{"transport":"old"},"proto":"tcp"}`,
			Want: `{"network":{"transport":"old"},"proto":"tcp","tags":["_rename_failure"]}`,
		},
		{
			Name: "conflict: target parent is a string",
			Flow: zeek,
			In:   `{"@timestamp":"2024-01-01T00:00:00Z","id.orig_h":"10.0.0.1","source":"sensor-1"}`,
			Err:  `cannot rename field "id.orig_h" to source.ip: "source" already holds a string ("sensor-1"), not an object; rename or remove "source" before this step`,
		},
		{
			Name: "conflict leaves the event as it was",
			Flow: zeek + "    on_error: ignore\n",
			In:   `{"proto":"tcp","network":7}`,
			Want: `{"network":7,"proto":"tcp"}`,
		},
		{
			Name: "if condition true",
			Flow: zeek + "    if: 'proto == \"tcp\"'\n",
			In:   `{"proto":"tcp"}`,
			Want: `{"network":{"transport":"tcp"}}`,
		},
		{
			Name: "if condition false",
			Flow: zeek + "    if: 'proto == \"tcp\"'\n",
			In:   `{"proto":"udp"}`,
			Want: `{"proto":"udp"}`,
		},
		{
			Name: "if condition on a key with dots",
			Flow: zeek + "    if: '$env[\"id.orig_h\"] != nil'\n",
			In:   `{"id.orig_h":"10.0.0.1"}`,
			Want: `{"source":{"ip":"10.0.0.1"}}`,
		},
		{
			Name: "into metadata, which is not written",
			Flow: "filters:\n  - rename:\n      fields:\n        _path: '@metadata.zeek_path'\n",
			In:   `{"_path":"conn","uid":"C1"}`,
			Want: `{"uid":"C1"}`,
		},
		{
			Name: "into a child of itself",
			Flow: "filters:\n  - rename:\n      fields:\n        dns: dns.question\n",
			In:   `{"dns":"example.com"}`,
			Want: `{"dns":{"question":"example.com"}}`,
		},
		{
			Name: "onto itself written another way is a no-op",
			Flow: "filters:\n  - rename:\n      fields:\n        a.b: '\"a\".b'\n",
			In:   `{"a":{"b":1}}`,
			Want: `{"a":{"b":1}}`,
		},
	})
}

func TestRenameBadSettings(t *testing.T) {
	filtertest.RunBadConfigs(t, []filtertest.BadConfig{
		{"no fields", "filters:\n  - rename: {}\n", "fields: name at least one field"},
		{"fields is a string", "filters:\n  - rename:\n      fields: proto\n", "expected a mapping `from: to` or a list"},
		{"empty segment", "filters:\n  - rename:\n      fields:\n        a..b: c\n", "empty segment"},
		{"empty target", "filters:\n  - rename:\n      fields:\n        a: ''\n", "to: empty field reference"},
		{"list entry without to", "filters:\n  - rename:\n      fields:\n        - from: a\n", "the entry has no to"},
		{"list entry without from", "filters:\n  - rename:\n      fields:\n        - to: a\n", "the entry has no from"},
		{"list entry with unknown key", "filters:\n  - rename:\n      fields:\n        - {from: a, too: b}\n", `unknown key "too"`},
		{"duplicate key", "filters:\n  - rename:\n      fields:\n        a: b\n        a: c\n", `key "a" appears twice`},
		{"unknown setting", "filters:\n  - rename:\n      field: {a: b}\n", `unknown setting "field"`},
	})
}

func TestRenameDocs(t *testing.T) { filtertest.CheckDocs(t, "rename") }

func BenchmarkRename(b *testing.B) {
	fwd := newRename(b, "fields:\n  '\"id.orig_h\"': source.ip\n  '\"id.orig_p\"': source.port\n"+
		"  '\"id.resp_h\"': destination.ip\n  '\"id.resp_p\"': destination.port\n  proto: network.transport\n")
	back := newRename(b, "fields:\n  source.ip: '\"id.orig_h\"'\n  source.port: '\"id.orig_p\"'\n"+
		"  destination.ip: '\"id.resp_h\"'\n  destination.port: '\"id.resp_p\"'\n  network.transport: proto\n")
	ev, err := event.Decode([]byte(`{"id.orig_h":"10.0.0.1","id.orig_p":52000,"id.resp_h":"10.0.0.2",` +
		`"id.resp_p":443,"proto":"tcp","uid":"CHhAvVGS1DHFjwGM9"}`))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() { // each iteration renames five fields there and back
		if err := fwd.Apply(ev); err != nil {
			b.Fatal(err)
		}
		if err := back.Apply(ev); err != nil {
			b.Fatal(err)
		}
	}
}

func newRename(b *testing.B, settings string) *Rename {
	r := New()
	if err := sdk.DecodeSettingsText([]byte(settings), r); err != nil {
		b.Fatal(err)
	}
	if err := r.Validate(); err != nil {
		b.Fatal(err)
	}
	return r
}
