// Command mdrsflow runs flows that turn Zeek/Corelight logs into Elastic
// Common Schema and deliver them, one sidecar per customer site.
//
//	mdrsflow run FLOW...          run flows until their inputs end or a signal
//	mdrsflow check FLOW...        validate flow files without running anything
//	mdrsflow test TESTFILE...     run a flow's sample cases
//	mdrsflow pipe FLOW [FILE...]  run a flow's filters over files or stdin
//	mdrsflow dlq list|replay      inspect and replay dead letters
//	mdrsflow plugins              list the built-in plugins
//	mdrsflow version
package main

import (
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mdrsflow/mdrsflow/runtime/wire"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	stop := startProfile()
	if isPluginProcess() {
		servePlugin()
		stop()
		return
	}
	err := rootCmd().Execute()
	wire.RemoveSocketDir()
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mdrsflow:", err)
		os.Exit(1)
	}
}

// startProfile writes a CPU profile when MDRSFLOW_CPUPROFILE names a file
// prefix: <prefix>.<pid>.pprof, one per process (host and plugins).
func startProfile() func() {
	prefix := os.Getenv("MDRSFLOW_CPUPROFILE")
	if prefix == "" {
		return func() {}
	}
	f, err := os.Create(fmt.Sprintf("%s.%d.pprof", prefix, os.Getpid()))
	if err != nil {
		fmt.Fprintln(os.Stderr, "mdrsflow: MDRSFLOW_CPUPROFILE:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "mdrsflow: MDRSFLOW_CPUPROFILE:", err)
		f.Close()
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

type globalFlags struct {
	logLevel  string
	logFormat string
}

func rootCmd() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:           "mdrsflow",
		Short:         "Zeek/Corelight logs to Elastic Common Schema, per tenant, without losing events",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			l, err := newLogger(g.logLevel, g.logFormat)
			if err != nil {
				return err
			}
			slog.SetDefault(l)
			return nil
		},
	}
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", envOr("MDRSFLOW_LOG_LEVEL", "info"),
		"least severe log level written: debug, info, warn or error (env MDRSFLOW_LOG_LEVEL)")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", envOr("MDRSFLOW_LOG_FORMAT", "text"),
		"log line format on stderr: text or json (env MDRSFLOW_LOG_FORMAT)")
	root.AddCommand(runCmd(), checkCmd(), testCmd(), pipeCmd(), dlqCmd(), pluginsCmd(), pluginCmd(),
		versionCmd())
	return root
}

func newLogger(level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: expected debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: expected text or json", format)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "mdrsflow", version)
		},
	}
}
