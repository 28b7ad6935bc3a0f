package copy

import (
	"testing"

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/filtertest"
	_ "github.com/mdrsflow/mdrsflow/plugins/filters/rename" // to change the copy in a test
)

func TestCopy(t *testing.T) {
	const flat = "filters:\n  - copy:\n      fields:\n        '\"id.orig_h\"': source.ip\n        uid: event.id\n"
	const noOverwrite = "filters:\n  - copy:\n      overwrite: false\n      fields:\n        uid: event.id\n"

	filtertest.Run(t, []filtertest.Case{
		{
			Name: "flat dotted key, source kept",
			Flow: flat,
			In:   `{"id.orig_h":"10.0.0.1","uid":"C1"}`,
			Want: `{"event":{"id":"C1"},"id":{"orig_h":"10.0.0.1"},"source":{"ip":"10.0.0.1"},"uid":"C1"}`,
		},
		{
			Name: "quoted reference does not match a nested object",
			Flow: flat,
			In:   `{"id":{"orig_h":"10.0.0.1"}}`,
			Want: `{"id":{"orig_h":"10.0.0.1"}}`,
		},
		{
			Name: "nested reference",
			Flow: "filters:\n  - copy:\n      fields:\n        id.orig_h: source.ip\n",
			In:   `{"id":{"orig_h":"10.0.0.1"}}`,
			Want: `{"id":{"orig_h":"10.0.0.1"},"source":{"ip":"10.0.0.1"}}`,
		},
		{
			Name: "missing field is skipped",
			Flow: flat,
			In:   `{"proto":"tcp"}`,
			Want: `{"proto":"tcp"}`,
		},
		{
			Name: "deep copy: a later change to the copy leaves the source alone",
			Flow: "filters:\n  - copy:\n      fields:\n        id: zeek.id\n  - rename:\n      fields:\n        zeek.id.orig_h: source.ip\n",
			In:   `{"id":{"orig_h":"10.0.0.1","orig_p":1}}`,
			Want: `{"id":{"orig_h":"10.0.0.1","orig_p":1},"source":{"ip":"10.0.0.1"},"zeek":{"id":{"orig_p":1}}}`,
		},
		{
			Name: "list form, first existing source wins",
			Flow: "filters:\n  - copy:\n      fields:\n        - from: [host.name, _system_name]\n          to: observer.name\n",
			In:   `{"_system_name":"sensor-acme"}`,
			Want: `{"_system_name":"sensor-acme","observer":{"name":"sensor-acme"}}`,
		},
		{
			Name: "overwrite by default",
			Flow: flat,
			In:   `{"event":{"id":"old"},"uid":"C1"}`,
			Want: `{"event":{"id":"C1"},"uid":"C1"}`,
		},
		{
			Name: "overwrite false, target present fails naming both",
			Flow: noOverwrite,
			In:   `{"event":{"id":"old"},"uid":"C1"}`,
			Err:  `cannot copy field uid to event.id: event.id already holds "old" and overwrite is false`,
		},
		{
			Name: "overwrite false with on_error tag",
			Flow: noOverwrite + "    on_error: tag\n",
			In:   `{"event":{"id":"old"},"uid":"C1"}`,
			Want: `{"event":{"id":"old"},"tags":["_copy_failure"],"uid":"C1"}`,
		},
		{
			Name: "conflict: target parent is a string",
			Flow: flat,
			In:   `{"event":"x","uid":"C1"}`,
			Err:  `cannot copy field uid to event.id: "event" already holds a string ("x"), not an object`,
		},
		{
			Name: "if condition false",
			Flow: flat + "    if: 'uid == \"C2\"'\n",
			In:   `{"uid":"C1"}`,
			Want: `{"uid":"C1"}`,
		},
	})
}

func TestCopyBadSettings(t *testing.T) {
	filtertest.RunBadConfigs(t, []filtertest.BadConfig{
		{"no fields", "filters:\n  - copy: {}\n", "fields: name at least one field"},
		{"bad reference", "filters:\n  - copy:\n      fields:\n        'a.': b\n", "ends with '.'"},
	})
}

func TestCopyDocs(t *testing.T) { filtertest.CheckDocs(t, "copy") }
