package chain_test

import (
	"strings"
	"testing"

	"github.com/mdrsflow/mdrsflow/runtime/chain/chaintest"
	"github.com/mdrsflow/mdrsflow/runtime/event"
	"github.com/mdrsflow/mdrsflow/sdk"
)

// panicky panics on an event whose field "boom" is true: a step with a bug.
type panicky struct{}

var pathBoom = event.MustPath("boom")

func (panicky) Apply(ev *sdk.Event) error {
	if v, _ := ev.Get(pathBoom); v == true {
		var m map[string]int
		m["x"] = 1 // assignment to a nil map
	}
	return nil
}

func init() {
	sdk.Register(sdk.Registration{Kind: sdk.KindFilter, Name: "test_panicky",
		Summary: "panics on boom: true (tests only)", New: func() any { return panicky{} }})
}

// A step that panics fails that event alone, with the step named; the
// events around it go through every step. on_error: tag and ignore apply
// to a panic as to an error, and the steps after it still run.
func TestPanickingStep(t *testing.T) {
	for _, tc := range []struct {
		onError  string
		wantErr  bool
		wantTags bool
	}{
		{onError: "", wantErr: true},
		{onError: "tag", wantTags: true},
		{onError: "ignore"},
	} {
		t.Run("on_error "+tc.onError, func(t *testing.T) {
			onError := ""
			if tc.onError != "" {
				onError = "\n    on_error: " + tc.onError
			}
			c := chaintest.Build(t, `name: p
filters:
  - set: {fields: {before: 1}}
  - test_panicky: {}
    id: buggy`+onError+`
  - set: {fields: {after: 2}}
`)
			res := chaintest.Run(c, "", `{"n":1}`, `{"n":2,"boom":true}`, `{"n":3}`)
			for _, i := range []int{0, 2} {
				if res[i].Error != "" || !strings.Contains(res[i].JSON, `"after":2`) {
					t.Errorf("event %d beside the panic: error %q, document %s", i+1, res[i].Error, res[i].JSON)
				}
			}
			got := res[1]
			if tc.wantErr {
				if !strings.Contains(got.Error, "buggy") || !strings.Contains(got.Error, "step panicked") ||
					!strings.Contains(got.Error, "nil map") {
					t.Errorf("the panicking event's error: %q", got.Error)
				}
				return
			}
			if got.Error != "" || !strings.Contains(got.JSON, `"after":2`) {
				t.Errorf("on_error %s: error %q, document %s", tc.onError, got.Error, got.JSON)
			}
			if tagged := strings.Contains(got.JSON, "_test_panicky_failure"); tagged != tc.wantTags {
				t.Errorf("on_error %s: tagged %v, document %s", tc.onError, tagged, got.JSON)
			}
		})
	}
}
