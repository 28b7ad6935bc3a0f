package chain_test

import (
	"strings"
	"testing"

	"github.com/mdrsflow/mdrsflow/runtime/chain/chaintest"
)

// Keys with dots are rewritten into objects before routing reads the
// document and before it is written; a document without them is written
// as encoded once. A dotted key that clashes with a value fails the event.
func TestDottedKeysAreExpandedBeforeRoutingAndWriting(t *testing.T) {
	c := chaintest.Build(t, `name: d
filters:
  - tenant: {static: acme}
  - set: {fields: {seen: true}}
outputs:
  - file: {path: out}
`)
	res := chaintest.Run(c, "",
		`{"data_stream.type":"logs","data_stream.dataset":"zeek","id":{"orig_h":"10.0.0.1"},"id.resp_h":"10.0.0.2"}`,
		`{"data_stream":{"type":"logs","dataset":"plain"},"n":1}`,
		`{"a":1,"a.b":2,"data_stream":{"type":"logs","dataset":"clash"}}`,
		// Two clashes: the failure document cannot be expanded either, and
		// is replaced by a shell that keeps the document as event.original.
		`{"a":1,"a.b":2,"c":1,"c.d":2,"data_stream":{"type":"logs","dataset":"clash"}}`,
	)
	if res[0].Error != "" || len(res[0].Routes) != 1 || res[0].Routes[0].Target != "logs-zeek-acme" {
		t.Fatalf("dotted record: error %q, routes %+v; want one route to logs-zeek-acme", res[0].Error, res[0].Routes)
	}
	want := `{"data_stream":{"dataset":"zeek","namespace":"acme","type":"logs"},` +
		`"id":{"orig_h":"10.0.0.1","resp_h":"10.0.0.2"},"organization":{"id":"acme"},"seen":true}`
	if res[0].JSON != want {
		t.Errorf("dotted record written as\n%s\nwant\n%s", res[0].JSON, want)
	}
	if res[1].JSON != `{"data_stream":{"dataset":"plain","namespace":"acme","type":"logs"},"n":1,"organization":{"id":"acme"},"seen":true}` ||
		res[1].Routes[0].Target != "logs-plain-acme" {
		t.Errorf("plain record: %s to %+v", res[1].JSON, res[1].Routes)
	}
	if !strings.Contains(res[2].Error, "cannot be written") || !strings.Contains(res[2].JSON, `"event":{"kind":"pipeline_error"`) {
		t.Errorf("clashing record: error %q, document %s; want a failure", res[2].Error, res[2].JSON)
	}
	shell := res[3].JSON
	if !strings.Contains(shell, `c.d`) || !strings.Contains(shell, `"original":"{`) {
		t.Errorf("twice clashing record: want a shell naming both clashes with the document as event.original, got %s", shell)
	}
	if strings.Contains(shell, "@metadata") {
		t.Errorf("twice clashing record: event.original carries the event's metadata: %s", shell)
	}
}
