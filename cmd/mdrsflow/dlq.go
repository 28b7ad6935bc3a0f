package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mdrsflow/mdrsflow/runtime/dlq"
	"github.com/mdrsflow/mdrsflow/runtime/flow"
	"github.com/mdrsflow/mdrsflow/runtime/host"
	"github.com/mdrsflow/mdrsflow/sdk"
)

func dlqCmd() *cobra.Command {
	var dataDir string
	c := &cobra.Command{
		Use:   "dlq",
		Short: "Inspect and replay dead letters: events an output refused for good",
		Long: `Each flow keeps the events its outputs refused for good (a mapping conflict,
an illegal value) in NDJSON files under <data-dir>/<flow>/dlq, with the reason,
the output, the target and the document id. Fix the cause where the output
refused them (an index template or mapping, a field the flow writes), then
replay them: they are sent again through the same outputs, to the same
targets with the same ids, so a replay never creates a duplicate. The target
is the one stored with each event: events refused because the target itself
was wrong (a routing template fixed since) are refused again; take them out
of the NDJSON files (the "event" of each line) and send them through the flow
again, then delete those files. The queue is bounded by MDRSFLOW_DLQ_MAX_SIZE
(default 1GiB); when it is full, its oldest file is deleted with an error in
the log.`,
	}
	c.PersistentFlags().StringVar(&dataDir, "data-dir", envOr("MDRSFLOW_DATA", "data"),
		"data folder the flow ran with, as given to mdrsflow run --data-dir (env MDRSFLOW_DATA)")
	c.AddCommand(dlqListCmd(&dataDir), dlqReplayCmd(&dataDir))
	return c
}

func dlqListCmd(dataDir *string) *cobra.Command {
	return &cobra.Command{
		Use:   "list [FLOW]",
		Short: "Count dead letters by output, target and reason",
		Long: `Count the dead letters of FLOW (a flow file, or a flow's name), or of every
flow under the data directory, by output, target and reason. Reasons are
shown without what differs per event (document ids, previews of values).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var names []string
			if len(args) == 1 {
				name, err := flowName(args[0])
				if err != nil {
					return err
				}
				names = []string{name}
			} else {
				var err error
				if names, err = flowsWithDeadLetters(*dataDir); err != nil {
					return err
				}
				if len(names) == 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "no dead letters under %s\n", *dataDir)
					return nil
				}
			}
			for i, name := range names {
				if i > 0 {
					fmt.Fprintln(cmd.OutOrStdout())
				}
				s, err := dlq.Summarize(host.DeadLetterDir(*dataDir, name))
				if err != nil {
					return err
				}
				printSummary(cmd.OutOrStdout(), name, s)
			}
			return nil
		},
	}
}

// flowName is the name of a flow given as a file or as a name.
func flowName(arg string) (string, error) {
	if fi, err := os.Stat(arg); err == nil && !fi.IsDir() {
		f, err := flow.Load(arg)
		if err != nil {
			return "", err
		}
		return f.Name, nil
	}
	if strings.ContainsAny(arg, `/\`) || strings.HasSuffix(arg, ".yaml") ||
		strings.HasSuffix(arg, ".yml") {
		return "", fmt.Errorf("flow file %s: not found", arg)
	}
	return arg, nil
}

// flowsWithDeadLetters lists the flows under dataDir that have a dlq folder.
func flowsWithDeadLetters(dataDir string) ([]string, error) {
	entries, err := os.ReadDir(dataDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	var out []string
	for _, e := range entries {
		if fi, err := os.Stat(filepath.Join(dataDir, e.Name(), "dlq")); err == nil && fi.IsDir() {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

func printSummary(w io.Writer, name string, s dlq.Summary) {
	if s.Events == 0 && s.Unreadable == 0 {
		fmt.Fprintf(w, "flow %s: no dead letters (%s)\n", name, s.Dir)
		return
	}
	fmt.Fprintf(w, "flow %s: %d dead letters in %d files, %s (%s)\n", name, s.Events, s.Files,
		sizeText(s.Bytes), s.Dir)
	if !s.Oldest.IsZero() {
		fmt.Fprintf(w, "oldest %s, newest %s\n", s.Oldest.Format(time.RFC3339),
			s.Newest.Format(time.RFC3339))
	}
	if s.Unreadable > 0 {
		fmt.Fprintf(w, "%d lines are not dead letters (a file cut short?); replay keeps them\n",
			s.Unreadable)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "events\toutput\ttarget\treason")
	for _, c := range s.Counts {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", c.Events, c.Output, c.Target, c.Reason)
	}
	tw.Flush()
}

func sizeText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

func dlqReplayCmd(dataDir *string) *cobra.Command {
	var retryFor time.Duration
	c := &cobra.Command{
		Use:   "replay FLOW",
		Short: "Send dead letters again through the flow's outputs; remove what is delivered",
		Long: `Send the dead letters of the flow in the file FLOW again, through the outputs
named in them, with the settings FLOW gives those outputs now (load it with
the same environment as when it runs). Each event goes to the same target
with the same document id, so replaying what was already stored creates no
duplicate. Delivered events leave the queue; events refused again stay,
with the new reason; events the output asks to retry are retried for
--retry-for and then stay. A running flow may keep running: the file it is
writing is left for the next replay. Exits with an error while dead letters
remain.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return replay(cmd, args[0], *dataDir, retryFor)
		},
	}
	c.Flags().DurationVar(&retryFor, "retry-for", time.Minute,
		"how long to retry events while an output cannot deliver them (cluster down, 429)")
	return c
}

func replay(cmd *cobra.Command, flowFile, dataDir string, retryFor time.Duration) error {
	if fi, err := os.Stat(flowFile); err != nil || fi.IsDir() {
		return fmt.Errorf("dlq replay needs the flow file, to open its outputs: %s: not a file",
			flowFile)
	}
	f, err := flow.Load(flowFile)
	if err != nil {
		return err
	}
	f.Complete()
	dir := host.DeadLetterDir(dataDir, f.Name)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	outs := map[string]*host.ReplayOutput{}
	failed := map[string]error{}
	defer func() {
		for id, o := range outs {
			if err := o.Close(); err != nil {
				slog.Warn("closing an output after the replay failed", "plugin", id, "err", err)
			}
		}
	}()
	send := func(ctx context.Context, output string, letters []dlq.Letter) ([]sdk.Result, error) {
		if err := failed[output]; err != nil {
			return nil, err
		}
		o := outs[output]
		if o == nil {
			var err error
			if o, err = host.OpenReplayOutput(ctx, f, output, dataDir, slog.Default()); err != nil {
				failed[output] = err
				return nil, err
			}
			outs[output] = o
		}
		recs := make([]sdk.Record, len(letters))
		for i := range letters {
			recs[i] = letters[i].Record(o.Index)
		}
		return o.Write(ctx, recs)
	}

	before, err := dlq.Summarize(dir)
	if err != nil {
		return err
	}
	if before.Files == 0 {
		fmt.Fprintf(cmd.OutOrStdout(), "flow %s: no dead letters (%s)\n", f.Name, dir)
		return nil
	}
	rep, err := dlq.Replay(ctx, dir, send, dlq.ReplayOptions{RetryFor: retryFor,
		Logger: slog.Default()})
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "flow %s (%s): %d delivered and removed, %d refused again, "+
		"%d kept to retry later", f.Name, dir, rep.Delivered, rep.Rejected, rep.Kept)
	if rep.Unreadable > 0 {
		fmt.Fprintf(out, ", %d unreadable lines kept", rep.Unreadable)
	}
	fmt.Fprintln(out)
	for _, p := range rep.Busy {
		fmt.Fprintf(out, "skipped %s: the running flow is still writing it; "+
			"replay again after it moves on (restart, or the file fills)\n", filepath.Base(p))
	}
	var ids []string
	for id := range rep.Reasons {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		fmt.Fprintf(out, "output %s: last reason: %s\n", id, rep.Reasons[id])
	}
	if err != nil {
		return fmt.Errorf("replay stopped: %w; what was delivered so far is removed, "+
			"the rest stays in the queue", err)
	}
	if left := rep.Rejected + rep.Kept + rep.Unreadable; left > 0 {
		return fmt.Errorf("%d dead letters remain in %s; `mdrsflow dlq list --data-dir %s %s` shows why",
			left, dir, shellWord(dataDir), shellWord(flowFile))
	}
	return nil
}

// shellWord quotes s for a command an operator copies into a shell, when
// it needs quoting.
func shellWord(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r == ':' || r == '=' ||
			r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
