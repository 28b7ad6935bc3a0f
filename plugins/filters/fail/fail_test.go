package fail

import (
	"testing"

	"github.com/mdrsflow/mdrsflow/plugins/filters/internal/filtertest"
)

func TestFail(t *testing.T) {
	const flow = "filters:\n  - fail: {message: no log type}\n    if: '_path == nil'\n    id: need_type\n"
	filtertest.Run(t, []filtertest.Case{
		{Name: "condition true", Flow: flow, In: `{"ts":1}`, Err: "need_type (test.yaml:2): no log type"},
		{Name: "condition false", Flow: flow, In: `{"_path":"dns"}`, Want: `{"_path":"dns"}`},
		{Name: "on_error tag keeps it", Flow: "filters:\n  - fail: {message: m}\n    on_error: tag\n", In: `{"a":1}`,
			Want: `{"a":1,"tags":["_fail_failure"]}`},
	})
}

func TestFailBadSettings(t *testing.T) {
	filtertest.RunBadConfigs(t, []filtertest.BadConfig{
		{"no message", "filters:\n  - fail: {}\n", "message is required"},
		{"unknown setting", "filters:\n  - fail: {messag: x}\n", `unknown setting "messag"`},
	})
}

func TestFailDocs(t *testing.T) { filtertest.CheckDocs(t, "fail") }
