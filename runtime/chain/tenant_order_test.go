package chain_test

import (
	"fmt"
	"testing"

	"github.com/mdrsflow/mdrsflow/runtime/chain"
	"github.com/mdrsflow/mdrsflow/runtime/chain/chaintest"
	"github.com/mdrsflow/mdrsflow/sdk"
)

// Two tenants, each with its own output, as a provider runs them.
const twoTenantOutputs = `
routing: {target: "logs-{tenant}", failures: "failures-{tenant}", quarantine: "quarantine-default"}
outputs:
  - file: {path: acme}
    id: acme
    when: 'meta("tenant") == "acme"'
  - file: {path: globex}
    id: globex
    when: 'meta("tenant") == "globex"'
`

// outcome is what decides where a record goes and what it says.
func outcome(r sdk.Record) string {
	return fmt.Sprintf("tenant=%q routes=%v error=%q quarantine=%q id=%s", r.Tenant, r.Routes, r.Error, r.Quarantine, r.ID)
}

// A record that failed before the chain (a line the input could not read,
// or a step of an earlier stage) skips the steps. Where it goes must not
// depend on the record before it: it once took the previous record's
// tenant, and with it that customer's output.
func TestFailedRecordNeverTakesThePreviousRecordsTenant(t *testing.T) {
	acme := sdk.Record{Data: []byte(`{"_system_name":"sensor-acme","a":1}`), Source: "acme.log:1"}
	unreadable := sdk.Record{Data: []byte(`{"event":{"original":"garbled line"}}`), Source: "globex.log:2",
		Error: "cannot read TSV line"}

	flow := "name: t\nfilters:\n  - tenant: {allow: [acme, globex]}\n" + twoTenantOutputs
	alone, _ := chaintest.Build(t, flow).Process([]sdk.Record{unreadable})
	after, _ := chaintest.Build(t, flow).Process([]sdk.Record{acme, unreadable})
	if len(alone) != 1 || len(after) != 2 {
		t.Fatalf("got %d and %d records", len(alone), len(after))
	}
	if got, want := outcome(after[1]), outcome(alone[0]); got != want {
		t.Errorf("unreadable record after an acme record:\n got %s\nwant %s (as alone)", got, want)
	}
	if after[1].Tenant == "acme" {
		t.Errorf("the unreadable record took the acme tenant of the record before it")
	}

	// Across stages: globex's record fails in the first stage and reaches
	// the second with its tenant; it must stay globex's.
	stage1 := "name: t\nfilters:\n  - tenant: {allow: [acme, globex]}\n  - fail: {message: boom}\n    if: 'x == 1'\n"
	stage2 := "name: t\nfilters:\n  - set: {fields: {y: 1}}\n" + twoTenantOutputs
	globex := sdk.Record{Data: []byte(`{"_system_name":"sensor-globex","x":1}`), Source: "globex.log:1"}
	acme0 := sdk.Record{Data: []byte(`{"_system_name":"sensor-acme","x":0}`), Source: "acme.log:1"}
	run := func(recs ...sdk.Record) []sdk.Record {
		var s1, s2 *chain.Chain = chaintest.Build(t, stage1), chaintest.Build(t, stage2)
		out, _ := s1.Process(recs)
		out, _ = s2.Process(out)
		return out
	}
	aloneG := run(globex)
	afterG := run(acme0, globex)
	if got, want := outcome(afterG[1]), outcome(aloneG[0]); got != want {
		t.Errorf("globex's failed record after an acme record:\n got %s\nwant %s (as alone)", got, want)
	}
	if afterG[1].Tenant != "globex" {
		t.Errorf("globex's failed record has tenant %q, want globex", afterG[1].Tenant)
	}
}
