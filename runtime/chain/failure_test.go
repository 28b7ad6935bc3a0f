package chain_test

import (
	"encoding/json"
	"testing"

	"github.com/mdrsflow/mdrsflow/runtime/chain/chaintest"
)

// A record a step fails on is written with the record as it arrived in
// event.original, beside the half-transformed document, so it can be fixed
// and sent again; an event.original the record already had is kept.
func TestFailedEventKeepsTheRecord(t *testing.T) {
	c := chaintest.Build(t, `name: f
filters:
  - set: {fields: {seen: true}}
  - set:
      expr: {n2: 'n + "x"'}
`)
	in := []string{
		`{"n":1,"msg":"a \"quoted\" word"}`,
		`{"n":2,"event":{"original":"from the sensor"}}`,
	}
	res := chaintest.Run(c, "", in...)
	for i, want := range []string{in[0], "from the sensor"} {
		if res[i].Error == "" {
			t.Fatalf("event %d did not fail: %s", i+1, res[i].JSON)
		}
		var doc struct {
			Seen  bool `json:"seen"`
			Event struct {
				Original string `json:"original"`
				Kind     string `json:"kind"`
			} `json:"event"`
		}
		if err := json.Unmarshal([]byte(res[i].JSON), &doc); err != nil {
			t.Fatalf("event %d: %v: %s", i+1, err, res[i].JSON)
		}
		if doc.Event.Original != want || doc.Event.Kind != "pipeline_error" || !doc.Seen {
			t.Errorf("event %d: event.original %q (want %q), event.kind %q, steps before kept %v",
				i+1, doc.Event.Original, want, doc.Event.Kind, doc.Seen)
		}
	}
}
