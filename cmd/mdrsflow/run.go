package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/mdrsflow/mdrsflow/runtime/flow"
	"github.com/mdrsflow/mdrsflow/runtime/host"
	"github.com/mdrsflow/mdrsflow/runtime/ops"
	"github.com/mdrsflow/mdrsflow/runtime/wire"
)

type runFlags struct {
	dataDir    string
	inProcess  bool
	workers    int
	queue      int
	httpAddr   string
	tokenFile  string
	openProbes bool
	stageTime  time.Duration
	drain      time.Duration
}

func runCmd() *cobra.Command {
	f := &runFlags{}
	c := &cobra.Command{
		Use:   "run FLOW...",
		Short: "Run flows until their inputs end or SIGINT/SIGTERM, then print what went where",
		Long: `Run one or more flow files. Each plugin runs in its own process (consecutive
built-in filters share one); a plugin process that dies is restarted. On
SIGINT or SIGTERM, in-flight batches are drained before exit. A flow whose
inputs all read to the end (read_once) ends by itself. At the end, the counts
of events in, out, failed, quarantined, dropped and dead-lettered are printed
per output and target, on stderr (stdout is left to the stdout output).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runFlows(cmd, args, f)
		},
	}
	c.Flags().StringVar(&f.dataDir, "data-dir", envOr("MDRSFLOW_DATA", "data"),
		"folder for read positions and dead letters (env MDRSFLOW_DATA)")
	c.Flags().BoolVar(&f.inProcess, "in-process", false,
		"run built-in plugins inside this process instead of as subprocesses (less isolation; for measurement); "+
			"this process then uses every processor")
	c.Flags().IntVar(&f.workers, "workers", 1, "batches processed by the filters at once, each worker with its own filter processes "+
		"(each on one processor; this process, which relays batches between them, on one per four workers; "+
		"GOMAXPROCS in the environment overrides both)")
	c.Flags().IntVar(&f.queue, "queue", 2, "batches waiting between the inputs and the filters, and between the filters and "+
		"each output, before the part upstream waits (memory grows with it: a batch is up to the input's batch_size events)")
	c.Flags().DurationVar(&f.stageTime, "stage-timeout", time.Minute,
		"longest a filter process may take over one batch before it is killed and restarted (a hung plugin)")
	c.Flags().DurationVar(&f.drain, "drain-timeout", 30*time.Second,
		"on SIGTERM or Ctrl-C, how long to wait for the batches in flight to be delivered before exiting; "+
			"what is not delivered by then is read again at the next start (a second signal exits at once)")
	c.Flags().StringVar(&f.httpAddr, "http", envOr("MDRSFLOW_HTTP", "127.0.0.1:9600"),
		"address of the health, readiness, metrics and status endpoints; empty disables them (env MDRSFLOW_HTTP)")
	c.Flags().StringVar(&f.tokenFile, "http-token-file", os.Getenv("MDRSFLOW_HTTP_TOKEN_FILE"),
		"file holding the bearer token the endpoints require; required off loopback "+
			"(env MDRSFLOW_HTTP_TOKEN_FILE, or the token itself in MDRSFLOW_HTTP_TOKEN)")
	c.Flags().BoolVar(&f.openProbes, "http-open-probes", false,
		"serve /healthz and /readyz without the token, for Kubernetes probes")
	return c
}

func runFlows(cmd *cobra.Command, paths []string, f *runFlags) error {
	if f.queue < 1 {
		return fmt.Errorf("--queue %d: at least one batch must be able to wait between parts; use 1 or more (default 2)", f.queue)
	}
	if f.drain <= 0 {
		return fmt.Errorf("--drain-timeout %s: give the batches in flight some time to be delivered, e.g. 30s", f.drain)
	}
	if f.workers < 1 {
		return fmt.Errorf("--workers %d: at least one worker must run the filters; use 1 or more (default 1)", f.workers)
	}
	if f.stageTime <= 0 {
		return fmt.Errorf("--stage-timeout %s: a filter process needs some time for a batch; "+
			"use more than 0, e.g. 1m (the default)", f.stageTime)
	}
	command, err := selfCommand()
	if err != nil {
		return err
	}
	var runners []*host.Runner
	names := map[string]string{}
	for _, p := range paths {
		fl, err := flow.Load(p)
		if err != nil {
			return err
		}
		if other, dup := names[fl.Name]; dup {
			return fmt.Errorf("%s and %s are both named %q: two flows of one name would share read "+
				"positions and write every event twice; give each its own `name:`", other, p, fl.Name)
		}
		names[fl.Name] = p
		r, err := host.New(fl, host.Options{
			InProcess: f.inProcess, Command: command, DataDir: f.dataDir,
			Logger: slog.Default(), Workers: f.workers, QueueBatches: f.queue, StageTimeout: f.stageTime,
			DrainTimeout: f.drain,
		})
		if err != nil {
			return err
		}
		runners = append(runners, r)
	}

	if !f.inProcess {
		hostProcs(len(runners) * f.workers)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go exitOnSecondSignal(ctx)

	if f.httpAddr != "" {
		// A token of only white space (an editor's newline, a stray
		// space in an env file) counts as none: refused off loopback.
		token := strings.TrimSpace(os.Getenv("MDRSFLOW_HTTP_TOKEN"))
		if f.tokenFile != "" {
			b, err := os.ReadFile(f.tokenFile)
			if err != nil {
				return fmt.Errorf("--http-token-file: %w", err)
			}
			token = strings.TrimSpace(string(b))
		}
		flows := make([]ops.Flow, len(runners))
		for i, r := range runners {
			flows[i] = r
		}
		srv, err := ops.Start(ops.Config{Addr: f.httpAddr, Token: token, OpenProbes: f.openProbes},
			flows, slog.Default())
		if err != nil {
			return err
		}
		defer srv.Shutdown(context.Background())
	}

	errs := make([]error, len(runners))
	var wg sync.WaitGroup
	for i, r := range runners {
		wg.Add(1)
		go func(i int, r *host.Runner) {
			defer wg.Done()
			errs[i] = r.Run(ctx)
		}(i, r)
	}
	wg.Wait()

	// The counts go to stderr: stdout may carry events (the stdout output).
	out := cmd.ErrOrStderr()
	for i, r := range runners {
		if !r.Ran() {
			continue // it failed to start: its error says why
		}
		if len(runners) > 1 {
			fmt.Fprintf(out, "flow %s:\n", paths[i])
		}
		r.Stats().Print(out)
		if errs[i] == nil && r.Stats().Totals().In == 0 {
			fmt.Fprintf(out, "no events read: the inputs found nothing new. Read positions are kept "+
				"in %s; remove the flow's folder there (or set positions: false on a file input) "+
				"to read everything again\n", f.dataDir)
		}
	}
	return errors.Join(errs...)
}

// exitOnSecondSignal waits for the first SIGTERM or Ctrl-C, which starts
// the drain, and exits at once on a second one: an operator who asks twice
// does not want to wait for the drain timeout. Nothing is lost: batches
// not yet acknowledged are read again at the next start.
func exitOnSecondSignal(first context.Context) {
	<-first.Done()
	again := make(chan os.Signal, 1)
	signal.Notify(again, os.Interrupt, syscall.SIGTERM)
	sig := <-again
	slog.Error("second signal: exiting now without waiting for the drain; batches in flight "+
		"were not acknowledged and are read again at the next start", "signal", sig.String())
	wire.RemoveSocketDir()
	os.Exit(130)
}
