package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mdrsflow/mdrsflow/runtime/stage"
	"github.com/mdrsflow/mdrsflow/runtime/wire"
	"github.com/mdrsflow/mdrsflow/sdk"

	// The built-in plugins.
	_ "github.com/mdrsflow/mdrsflow/plugins/all"
)

// isPluginProcess reports whether the host started this process to serve
// a plugin: go-plugin sets its handshake cookie in the environment.
func isPluginProcess() bool {
	return os.Getenv(wire.Handshake.MagicCookieKey) == wire.Handshake.MagicCookieValue &&
		len(os.Args) >= 3 && os.Args[1] == "plugin" && os.Args[2] == "serve"
}

// servePlugin serves this binary's built-in plugins to the host.
func servePlugin() {
	pluginProcs()
	logger := wire.PluginLogger(slog.LevelInfo)
	slog.SetDefault(logger)
	wire.Serve(Opener(logger))
}

// pluginProcs runs a plugin process on one processor unless the
// environment sets GOMAXPROCS. A plugin process serves one worker, one batch
// at a time, and the host runs a process per worker for parallelism; with
// more processors the Go scheduler and the garbage collector spread that one
// batch's work over threads that mostly wait on each other.
func pluginProcs() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
}

// hostProcs sizes the host when its plugins run as processes, unless the
// environment sets GOMAXPROCS: one processor per four workers, at least
// one, at most what the machine gives. Such a host only relays batches
// (about a seventh of a filter process's work per event), and a relay on
// more processors than it needs pays for it: every write gRPC makes
// yields the processor, and with an idle one to wake the scheduler's
// locks and wake-ups took more than a third of the host's CPU. With one
// processor the host's CPU per event fell from 5.5 to 3.2 µs
// (bench/README.md).
func hostProcs(workers int) {
	if os.Getenv("GOMAXPROCS") != "" {
		return
	}
	n := min((workers+3)/4, runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(max(n, 1))
}

// Opener builds built-in plugins in a plugin process.
func Opener(logger *slog.Logger) *wire.Opener {
	return &wire.Opener{
		Input: func(ctx context.Context, cfg stage.Config) (stage.Input, error) {
			return stage.OpenInput(ctx, cfg, logger)
		},
		Filter: func(ctx context.Context, cfg stage.Config) (stage.Filter, error) {
			return stage.OpenFilter(ctx, cfg, logger)
		},
		Output: func(ctx context.Context, cfg stage.Config) (stage.Output, error) {
			return stage.OpenOutput(ctx, cfg, logger)
		},
	}
}

// selfCommand re-runs this binary as a plugin process.
func selfCommand() (func() *exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("cannot find this program's own path to start plugin processes: %w", err)
	}
	return func() *exec.Cmd { return exec.Command(exe, "plugin", "serve") }, nil
}

func pluginCmd() *cobra.Command {
	c := &cobra.Command{
		Use:    "plugin",
		Short:  "Plugin process entry point (started by mdrsflow itself)",
		Hidden: true,
	}
	c.AddCommand(&cobra.Command{
		Use:   "serve",
		Short: "Serve the built-in plugins to a host (not for use by hand)",
		RunE: func(*cobra.Command, []string) error {
			return fmt.Errorf("this command is started by mdrsflow to run its plugins; " +
				"it does nothing when run by hand. Use `mdrsflow run FLOW` instead")
		},
	})
	return c
}

func pluginsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "plugins",
		Short: "List the built-in plugins",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			for _, k := range []sdk.Kind{sdk.KindInput, sdk.KindFilter, sdk.KindOutput} {
				for _, r := range sdk.Registered(k) {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", k, r.Name, r.Summary)
				}
			}
			tw.Flush()
		},
	}
}
