package drop

import (
	"testing"

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/filtertest"
)

func TestDrop(t *testing.T) {
	const flow = "filters:\n  - drop: {}\n    if: '_path == \"dns\" && query == \"wpad\"'\n"

	filtertest.Run(t, []filtertest.Case{
		{Name: "condition true", Flow: flow, In: `{"_path":"dns","query":"wpad"}`, Dropped: true},
		{Name: "condition false", Flow: flow, In: `{"_path":"dns","query":"example.com"}`, Want: `{"_path":"dns","query":"example.com"}`},
		{Name: "no condition drops everything", Flow: "filters:\n  - drop:\n", In: `{"a":1}`, Dropped: true},
		{Name: "on_error does not stop a drop", Flow: "filters:\n  - drop: {}\n    on_error: ignore\n", In: `{"a":1}`, Dropped: true},
	})
}

func TestDropBadSettings(t *testing.T) {
	filtertest.RunBadConfigs(t, []filtertest.BadConfig{
		{"a setting", "filters:\n  - drop: {field: a}\n", `unknown setting "field"`},
	})
}

func TestDropDocs(t *testing.T) { filtertest.CheckDocs(t, "drop") }
