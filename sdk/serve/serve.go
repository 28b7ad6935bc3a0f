// Package serve turns a Go program into an mdrsflow plugin that runs
// outside the mdrsflow binary: an integrator's enrichment, say. The
// program's main calls one of Filter, Input or Output and never returns;
// mdrsflow starts it as a subprocess when a flow names it:
//
//	filters:
//	  - external:
//	      path: /opt/plugins/asset-enrich
//	      sha256: 9f86d0…   # optional: refuse a binary that differs
//	      settings: {inventory: /etc/assets.yaml}
//
// The plugin gets its settings decoded strictly into the value the
// constructor returns (exported fields with yaml tags), then the same
// lifecycle as a built-in: Validate, Start, work, Close. Logs written
// with the Env's logger reach the host's log under the plugin's name.
//
// A plugin speaks the plugin protocol of the mdrsflow module it was built
// against (wire.Handshake.ProtocolVersion). An mdrsflow of another
// protocol refuses to start it and says to rebuild it against this
// release's module; protocol 3 changed how the connection is secured (see
// docs/security.md), so plugins built before it must be rebuilt.
package serve

import (
	"context"
	"log/slog"

	"github.com/mdrsflow/mdrsflow/runtime/chain"
	"github.com/mdrsflow/mdrsflow/runtime/stage"
	"github.com/mdrsflow/mdrsflow/runtime/wire"
	"github.com/mdrsflow/mdrsflow/sdk"
)

// Filter serves a filter. name appears in logs and error messages.
func Filter(name string, newFilter func() sdk.Filter) {
	sdk.Register(sdk.Registration{Kind: sdk.KindFilter, Name: name,
		New: func() any { return newFilter() }})
	logger := wire.PluginLogger(slog.LevelInfo)
	wire.Serve(&wire.Opener{
		Filter: func(ctx context.Context, cfg stage.Config) (stage.Filter, error) {
			return openFilter(ctx, name, cfg, logger)
		},
	})
}

// openFilter runs the plugin's filter as a one-step chain: each record
// is decoded once, given to Apply, and encoded again; a failing record
// carries the error on to the host, a dropped one is counted.
func openFilter(ctx context.Context, name string, cfg stage.Config, logger *slog.Logger) (stage.Filter, error) {
	spec := chain.Spec{Flow: cfg.Flow, Steps: []chain.StepSpec{{
		Name: name, ID: cfg.ID, Where: "plugin " + name, OnError: "fail", Settings: string(cfg.Settings),
	}}}
	b, err := spec.Marshal()
	if err != nil {
		return nil, err
	}
	cfg.Name, cfg.Settings = stage.ChainName, b
	return stage.OpenFilter(ctx, cfg, logger)
}

// Input serves an input.
func Input(name string, newInput func() sdk.Input) {
	sdk.Register(sdk.Registration{Kind: sdk.KindInput, Name: name,
		New: func() any { return newInput() }})
	logger := wire.PluginLogger(slog.LevelInfo)
	wire.Serve(&wire.Opener{
		Input: func(ctx context.Context, cfg stage.Config) (stage.Input, error) {
			cfg.Name = name
			return stage.OpenInput(ctx, cfg, logger)
		},
	})
}

// Output serves an output.
func Output(name string, newOutput func() sdk.Output) {
	sdk.Register(sdk.Registration{Kind: sdk.KindOutput, Name: name,
		New: func() any { return newOutput() }})
	logger := wire.PluginLogger(slog.LevelInfo)
	wire.Serve(&wire.Opener{
		Output: func(ctx context.Context, cfg stage.Config) (stage.Output, error) {
			cfg.Name = name
			return stage.OpenOutput(ctx, cfg, logger)
		},
	})
}
