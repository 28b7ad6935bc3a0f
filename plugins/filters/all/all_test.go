package all

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mdrsflow/mdrsflow/runtime/chain/chaintest"
	"github.com/mdrsflow/mdrsflow/sdk"
)

// spec lists the filters that shipped flows are written against; each
// must be in this binary.
var spec = []string{
	"rename", "copy", "set", "remove", "convert", "date", "lookup", "lowercase",
	"split", "tenant", "community_id", "drop", "domain", "collect", "append",
}

func TestEverySpecifiedFilterIsRegistered(t *testing.T) {
	for _, name := range spec {
		if _, ok := sdk.Lookup(sdk.KindFilter, name); !ok {
			t.Errorf("filter %q is not registered", name)
		}
	}
}

// TestEveryPluginDirectoryIsImported checks that a new plugin package is
// not forgotten here: each directory beside all/ (but internal/) must
// register a filter of its name.
func TestEveryPluginDirectoryIsImported(t *testing.T) {
	dirs, err := os.ReadDir("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if !d.IsDir() || d.Name() == "all" || d.Name() == "internal" {
			continue
		}
		if _, err := os.Stat(filepath.Join("..", d.Name(), d.Name()+".go")); err != nil {
			t.Errorf("plugins/filters/%s has no %s.go", d.Name(), d.Name())
		}
		if _, ok := sdk.Lookup(sdk.KindFilter, d.Name()); !ok {
			t.Errorf("plugins/filters/%s is not imported by all.go, or registers another name", d.Name())
		}
	}
}

// TestZeekConnToECS runs a Zeek conn record through a chain of the
// filters, as a shipped flow would, to check that they work together.
func TestZeekConnToECS(t *testing.T) {
	c := chaintest.Build(t, `filters:
  - tenant: {static: acme, allow: [acme]}
  - date: {field: ts, remove_field: true}
  - rename:
      fields:
        '"id.orig_h"': source.ip
        '"id.orig_p"': source.port
        '"id.resp_h"': destination.ip
        '"id.resp_p"': destination.port
        proto: network.transport
        uid: zeek.session_id
        duration: event.duration
  - convert:
      fields:
        event.duration: nanoseconds
  - community_id: {}
  - collect: {fields: [source.ip, destination.ip], target: related.ip}
  - set:
      fields:
        event.kind: event
        data_stream.dataset: zeek.connection
  - append: {field: event.category, values: [network]}
  - remove: {fields: [_write_ts]}
  - drop: {}
    if: 'network.transport == "icmp"'
`)
	got := chaintest.Run(c, "conn",
		`{"_system_name":"sensor-01-acme","ts":1547188415.857497,"uid":"CHhAvVGS1DHFjwGM9",`+
			`"id.orig_h":"128.232.110.120","id.orig_p":34855,"id.resp_h":"66.35.250.204","id.resp_p":80,`+
			`"proto":"tcp","duration":0.000123,"_write_ts":"2019-01-11T06:33:36.000000Z"}`,
		`{"ts":1,"proto":"icmp"}`)
	want := `{"@timestamp":"2019-01-11T06:33:35.857497Z","_system_name":"sensor-01-acme",` +
		`"data_stream":{"dataset":"zeek.connection","namespace":"acme"},` +
		`"destination":{"ip":"66.35.250.204","port":80},` +
		`"event":{"category":["network"],"duration":123000,"kind":"event"},` +
		`"network":{"community_id":"1:LQU9qZlK+B5F3KDmev6m5PMibrg=","transport":"tcp"},` +
		`"organization":{"id":"acme"},"related":{"ip":["128.232.110.120","66.35.250.204"]},` +
		`"source":{"ip":"128.232.110.120","port":34855},"zeek":{"session_id":"CHhAvVGS1DHFjwGM9"}}`
	if got[0].Error != "" || got[0].JSON != want || got[0].Tenant != "acme" {
		t.Errorf("conn record:\n got: %s (error %q, tenant %q)\nwant: %s", got[0].JSON, got[0].Error, got[0].Tenant, want)
	}
	if !got[1].Dropped {
		t.Errorf("icmp record was not dropped: %s", got[1].JSON)
	}
}
