package host

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/mdrsflow/mdrsflow/runtime/dlq"
	"github.com/mdrsflow/mdrsflow/runtime/flow"
	"github.com/mdrsflow/mdrsflow/runtime/stage"
	"github.com/mdrsflow/mdrsflow/runtime/wire"
	"github.com/mdrsflow/mdrsflow/sdk"
)

// deadLetters is the flow's dead-letter queue as the runner uses it; see
// package dlq for the files and their bound.
type deadLetters struct {
	w   *dlq.Writer
	now func() time.Time
}

// rejection is one record an output refused for good, with the reason.
type rejection struct {
	rec    sdk.Record
	reason string
}

// EnvDLQMaxSize names the environment variable that bounds each flow's
// dead-letter queue, for example "1GiB" (the default) or "200MB".
const EnvDLQMaxSize = "MDRSFLOW_DLQ_MAX_SIZE"

func newDeadLetters(dir string, logger *slog.Logger) (*deadLetters, error) {
	opts := dlq.Options{Logger: logger}
	if v := os.Getenv(EnvDLQMaxSize); v != "" {
		n, err := dlq.ParseSize(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvDLQMaxSize, err)
		}
		opts.MaxBytes = n
	}
	w, err := dlq.Open(dir, opts)
	if err != nil {
		return nil, err
	}
	return &deadLetters{w: w, now: time.Now}, nil
}

// write puts the records output refused on disk, synced, before the
// caller acknowledges their batch.
func (d *deadLetters) write(output string, recs []rejection) error {
	letters := make([]dlq.Letter, len(recs))
	now := d.now()
	for i, r := range recs {
		letters[i] = dlq.FromRecord(r.rec, output, r.reason, now)
	}
	return d.w.Write(letters)
}

func (d *deadLetters) close() error { return d.w.Close() }

// DeadLetterDir is the folder of a flow's dead-letter queue under the
// data directory, where `mdrsflow run` writes it and `mdrsflow dlq` reads it.
func DeadLetterDir(dataDir, flowName string) string {
	return filepath.Join(dataDir, safeName(flowName), "dlq")
}

// DeadLetters returns the counters of the flow's dead-letter queue: letters
// written, and letters discarded by its size bound.
func (r *Runner) DeadLetters() dlq.Stats { return r.dlq.w.Stats() }

// pinnedSum checks an external plugin against its pinned SHA-256, if the
// flow pins one, and returns the digest for go-plugin to check again as
// it starts the process.
func pinnedSum(ext *flow.External) ([]byte, error) {
	if ext.SHA256 == "" {
		return nil, nil
	}
	want, err := hex.DecodeString(ext.SHA256)
	if err != nil || len(want) != sha256.Size {
		return nil, fmt.Errorf("external plugin %s: sha256 %q is not 64 hex digits", ext.Path, ext.SHA256)
	}
	f, err := os.Open(ext.Path)
	if err != nil {
		return nil, fmt.Errorf("external plugin: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := bufio.NewReader(f).WriteTo(h); err != nil {
		return nil, fmt.Errorf("external plugin %s: %w", ext.Path, err)
	}
	if got := h.Sum(nil); string(got) != string(want) {
		return nil, fmt.Errorf("external plugin %s: refusing to start it: its SHA-256 is %x but the flow pins %s; "+
			"if the binary was updated on purpose, put the new digest in the flow", ext.Path, got, ext.SHA256)
	}
	return want, nil
}

// ReplayOutput is one of a flow's outputs opened in this process to send
// dead letters again, as `mdrsflow dlq replay` does.
type ReplayOutput struct {
	// Index is the output's place in the flow, as in sdk.Route.Output.
	Index int
	stage.Output
	proc *wire.Process
}

// Close closes the output and ends its process, if it has one.
func (o *ReplayOutput) Close() error {
	err := o.Output.Close()
	if o.proc != nil {
		o.proc.Kill()
	}
	return err
}

// OpenReplayOutput starts the flow's output id with the flow's settings
// and the data folder `mdrsflow run` gives it: a built-in output in this
// process, an external one in its plugin process. f must have been
// loaded with the same environment as the running flow, since its
// settings (hosts, credentials) come from there.
func OpenReplayOutput(ctx context.Context, f *flow.Flow, id, dataDir string,
	logger *slog.Logger) (*ReplayOutput, error) {
	for i, o := range f.Outputs {
		if o.ID != id {
			continue
		}
		settings, err := o.SettingsText()
		if err != nil {
			return nil, err
		}
		cfg := stage.Config{Kind: sdk.KindOutput, Name: o.Name, ID: o.ID, Flow: f.Name,
			Settings: []byte(settings),
			DataDir:  filepath.Join(dataDir, safeName(f.Name), safeName(o.ID))}
		if o.External == nil {
			// The stage adds the flow, the plugin and the kind itself.
			out, err := stage.OpenOutput(ctx, cfg, logger)
			if err != nil {
				return nil, err
			}
			return &ReplayOutput{Index: i, Output: out}, nil
		}
		sum, err := pinnedSum(o.External)
		if err != nil {
			return nil, err
		}
		proc, err := wire.Launch(exec.Command(o.External.Path, o.External.Args...),
			sdk.KindOutput, logger.With("flow", f.Name, "plugin", o.ID, "kind", "output"), sum)
		if err != nil {
			return nil, err
		}
		out, err := proc.OpenOutput(ctx, cfg)
		if err != nil {
			proc.Kill()
			return nil, err
		}
		return &ReplayOutput{Index: i, Output: out, proc: proc}, nil
	}
	var ids []string
	for _, o := range f.Outputs {
		ids = append(ids, o.ID)
	}
	return nil, fmt.Errorf("%w: flow %s (%s) has no output %q now (its outputs: %s); "+
		"it was disabled, renamed or removed since the events were dead-lettered — "+
		"load the flow with the same environment as when it ran, or restore the output's id",
		ErrNoSuchOutput, f.Name, f.File, id, strings.Join(ids, ", "))
}

// ErrNoSuchOutput says a dead letter names an output its flow does not have.
var ErrNoSuchOutput = errors.New("no such output")
