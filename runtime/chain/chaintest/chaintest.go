// Package chaintest runs filters written as flow YAML over JSON events,
// through the real flow parser and registry, for plugin tests.
package chaintest

import (
	"context"
	"testing"

	"github.com/mdrsflow/mdrsflow/runtime/chain"
	"github.com/mdrsflow/mdrsflow/runtime/flow"
	"github.com/mdrsflow/mdrsflow/sdk"
)

// Result is one event after the chain.
type Result struct {
	// JSON is the document as an output would write it, or "" if dropped.
	JSON string
	// Meta is the metadata the chain left on the record.
	Tenant, Error, Quarantine string
	Dropped                   bool
	Routes                    []sdk.Route
}

// Build parses flowYAML (a flow file's text with at least `filters:`)
// and builds its chain. It fails the test on any error.
func Build(t testing.TB, flowYAML string) *chain.Chain {
	t.Helper()
	c, err := TryBuild(flowYAML)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TryBuild is Build that returns the error, for tests of bad settings.
func TryBuild(flowYAML string) (*chain.Chain, error) {
	f, err := flow.Parse("test.yaml", []byte(flowYAML))
	if err != nil {
		return nil, err
	}
	f.Complete()
	spec, err := chain.SpecFromFlow(f)
	if err != nil {
		return nil, err
	}
	if len(f.Outputs) == 0 {
		spec.Router = nil
	}
	return chain.Build(context.Background(), spec, sdk.Env{Flow: f.Name})
}

// Run passes each JSON event (with an optional log type hint) through c.
func Run(c *chain.Chain, path string, events ...string) []Result {
	recs := make([]sdk.Record, len(events))
	for i, e := range events {
		recs[i] = sdk.Record{Data: []byte(e), Path: path, Source: "test"}
	}
	// Keep each input's identity through drops by processing one at a
	// time.
	out := make([]Result, 0, len(events))
	for _, r := range recs {
		kept, dropped := c.Process([]sdk.Record{r})
		if dropped > 0 {
			out = append(out, Result{Dropped: true})
			continue
		}
		k := kept[0]
		out = append(out, Result{JSON: string(k.Data), Tenant: k.Tenant, Error: k.Error,
			Quarantine: k.Quarantine, Routes: k.Routes})
	}
	return out
}
