// Package stage gives the host one view of a flow's parts, whether a part
// runs in the host's own process or in a plugin subprocess: an input that
// streams batches and takes acks, a filter stage that turns a batch into a
// batch, an output that writes records and reports per record.
//
// The local implementations here build built-in plugins from the registry;
// package wire serves the same implementations from a subprocess and
// offers clients with these interfaces, so the host code is one.
package stage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/mdrsflow/mdrsflow/runtime/chain"
	"github.com/mdrsflow/mdrsflow/sdk"
)

// ChainName is the plugin name of a fused run of built-in filters; its
// settings are a chain.Spec as JSON.
const ChainName = "chain"

// Config tells a process which plugin to run.
type Config struct {
	Kind     sdk.Kind
	Name     string
	ID       string
	Flow     string
	Settings []byte
	DataDir  string
}

// Input is a running input.
type Input interface {
	// Read calls fn for each batch until the input is done (nil), ctx is
	// cancelled, or fn returns an error, which Read returns.
	Read(ctx context.Context, fn func(sdk.Batch) error) error
	Ack(ctx context.Context, id uint64) error
	Close() error
}

// Filter is a running filter stage.
type Filter interface {
	// Process returns the batch after the stage; Dropped in the result
	// counts records dropped on purpose. An error means the stage could
	// not process the batch at all (its process died, say).
	Process(ctx context.Context, b sdk.Batch) (Processed, error)
	Close() error
}

// Processed is a batch after a filter stage.
type Processed struct {
	Batch   sdk.Batch
	Dropped int
}

// Output is a running output.
type Output interface {
	Write(ctx context.Context, recs []sdk.Record) ([]sdk.Result, error)
	Close() error
}

func envFor(cfg Config, logger *slog.Logger) (sdk.Env, error) {
	if logger == nil {
		logger = slog.Default()
	}
	env := sdk.Env{
		Logger:  logger.With("flow", cfg.Flow, "plugin", cfg.ID, "kind", string(cfg.Kind)),
		DataDir: cfg.DataDir,
		Flow:    cfg.Flow,
		ID:      cfg.ID,
	}
	if cfg.DataDir != "" {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return env, fmt.Errorf("%s: data directory: %w", cfg.ID, err)
		}
	}
	return env, nil
}

// build makes a built-in plugin from the registry, decodes its settings,
// validates and starts it. On failure it closes what it started.
func build(ctx context.Context, cfg Config, env sdk.Env) (any, error) {
	reg, ok := sdk.Lookup(cfg.Kind, cfg.Name)
	if !ok {
		return nil, fmt.Errorf("%s: no %s plugin %q in this binary", cfg.ID, cfg.Kind, cfg.Name)
	}
	inst := reg.New()
	if err := sdk.DecodeSettingsText(cfg.Settings, inst); err != nil {
		return nil, fmt.Errorf("%s: settings: %w", cfg.ID, err)
	}
	if v, ok := inst.(sdk.Validator); ok {
		if err := v.Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", cfg.ID, err)
		}
	}
	if s, ok := inst.(sdk.Starter); ok {
		if err := s.Start(ctx, env); err != nil {
			err = fmt.Errorf("%s: start: %w", cfg.ID, err)
			if c, ok := inst.(sdk.Closer); ok {
				err = errors.Join(err, c.Close())
			}
			return nil, err
		}
	}
	return inst, nil
}

func closeInst(inst any) error {
	if c, ok := inst.(sdk.Closer); ok {
		return c.Close()
	}
	return nil
}

// OpenInput builds and starts a built-in input in this process.
func OpenInput(ctx context.Context, cfg Config, logger *slog.Logger) (Input, error) {
	env, err := envFor(cfg, logger)
	if err != nil {
		return nil, err
	}
	inst, err := build(ctx, cfg, env)
	if err != nil {
		return nil, err
	}
	in, ok := inst.(sdk.Input)
	if !ok {
		return nil, errors.Join(fmt.Errorf("%s: %q is not an input", cfg.ID, cfg.Name), closeInst(inst))
	}
	return &localInput{in: in, inst: inst}, nil
}

type localInput struct {
	in   sdk.Input
	inst any
}

func (l *localInput) Read(ctx context.Context, fn func(sdk.Batch) error) error {
	return l.in.Run(ctx, func(ctx context.Context, b sdk.Batch) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return fn(b)
	})
}

func (l *localInput) Ack(_ context.Context, id uint64) error { l.in.Ack(id); return nil }
func (l *localInput) Close() error                           { return closeInst(l.inst) }

// OpenFilter builds a fused chain (Name ChainName) in this process.
func OpenFilter(ctx context.Context, cfg Config, logger *slog.Logger) (*LocalFilter, error) {
	if cfg.Name != ChainName {
		return nil, fmt.Errorf("%s: only fused chains of built-in filters run in the host, not %q", cfg.ID, cfg.Name)
	}
	env, err := envFor(cfg, logger)
	if err != nil {
		return nil, err
	}
	spec, err := chain.ParseSpec(cfg.Settings)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.ID, err)
	}
	c, err := chain.Build(ctx, spec, env)
	if err != nil {
		return nil, err
	}
	return &LocalFilter{Chain: c}, nil
}

// LocalFilter runs a chain in this process.
type LocalFilter struct{ Chain *chain.Chain }

// Process runs the chain over the batch.
func (l *LocalFilter) Process(_ context.Context, b sdk.Batch) (Processed, error) {
	recs, dropped := l.Chain.Process(b.Records)
	b.Records = recs
	return Processed{Batch: b, Dropped: dropped}, nil
}

// Close closes the chain's steps.
func (l *LocalFilter) Close() error { return l.Chain.Close() }

// OpenOutput builds and starts a built-in output in this process.
func OpenOutput(ctx context.Context, cfg Config, logger *slog.Logger) (Output, error) {
	env, err := envFor(cfg, logger)
	if err != nil {
		return nil, err
	}
	inst, err := build(ctx, cfg, env)
	if err != nil {
		return nil, err
	}
	out, ok := inst.(sdk.Output)
	if !ok {
		return nil, errors.Join(fmt.Errorf("%s: %q is not an output", cfg.ID, cfg.Name), closeInst(inst))
	}
	return &localOutput{out: out, inst: inst}, nil
}

type localOutput struct {
	out  sdk.Output
	inst any
}

func (l *localOutput) Write(ctx context.Context, recs []sdk.Record) ([]sdk.Result, error) {
	res := l.out.Write(ctx, recs)
	if len(res) != len(recs) {
		return nil, fmt.Errorf("output returned %d results for %d records", len(res), len(recs))
	}
	return res, nil
}

// Health reports the output's own health when it offers one.
func (l *localOutput) Health() (bool, string) {
	if h, ok := l.inst.(interface{ Health() (bool, string) }); ok {
		return h.Health()
	}
	return true, ""
}

func (l *localOutput) Close() error { return closeInst(l.inst) }
