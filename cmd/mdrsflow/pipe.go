package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/mdrsflow/mdrsflow/runtime/chain"
	"github.com/mdrsflow/mdrsflow/runtime/event"
	"github.com/mdrsflow/mdrsflow/runtime/flow"
	"github.com/mdrsflow/mdrsflow/runtime/zeeklog"
	"github.com/mdrsflow/mdrsflow/sdk"
)

func pipeCmd() *cobra.Command {
	var (
		path     string
		metadata bool
		batch    int
	)
	c := &cobra.Command{
		Use:   "pipe FLOW [FILE...]",
		Short: "Run a flow's filters over Zeek logs from files or stdin, one JSON document per line on stdout",
		Long: `Read Zeek logs (JSON lines or tab-separated with their header, gzipped or not)
from the files, or from stdin when none is given, run FLOW's filter chain in
this process and write each resulting document as one JSON line to stdout.
The flow's inputs and outputs are not started. The log type of a record comes
from its _path field, else the TSV #path header, else the file name, else
--path. With --metadata each line also carries @metadata: the tenant, the
target it would be routed to per output, and why it failed or was
quarantined, if it was.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return pipe(cmd, args[0], args[1:], path, metadata, batch)
		},
	}
	c.Flags().StringVar(&path, "path", "", "log type for records whose type nothing else gives (e.g. conn)")
	c.Flags().BoolVar(&metadata, "metadata", false, "add @metadata with tenant, targets and failure reasons")
	c.Flags().IntVar(&batch, "batch", 512, "records per batch through the chain")
	return c
}

func pipe(cmd *cobra.Command, flowPath string, files []string, hint string, metadata bool, batchSize int) error {
	fl, err := flow.Load(flowPath)
	if err != nil {
		return err
	}
	fl.Complete()
	spec, err := chain.SpecFromFlow(fl)
	if err != nil {
		return err
	}
	if len(spec.Router.Outputs) == 0 {
		spec.Router.Outputs = []chain.RouteSpec{{ID: "pipe", Target: fl.Routing.Target,
			Failures: fl.Routing.Failures, Quarantine: fl.Routing.Quarantine}}
	}
	outIDs := make([]string, len(spec.Router.Outputs))
	for i, o := range spec.Router.Outputs {
		outIDs[i] = o.ID
	}
	c, err := chain.Build(context.Background(), spec, sdk.Env{Logger: slog.Default(), Flow: fl.Name, ID: "pipe"})
	if err != nil {
		return err
	}
	defer c.Close()

	w := bufio.NewWriterSize(cmd.OutOrStdout(), 1<<16)
	defer w.Flush()
	emit := func(recs []sdk.Record) error {
		kept, _ := c.Process(recs)
		for _, r := range kept {
			line := r.Data
			if metadata {
				line, err = withMetadata(r, outIDs)
				if err != nil {
					return err
				}
			}
			w.Write(line)
			w.WriteByte('\n')
		}
		return nil
	}

	read := func(r io.Reader, name string) error {
		// --path is the last resort: after _path (read by the flow), the
		// TSV #path header and the file name.
		var opts []zeeklog.Option
		if zeeklog.LogType(name) == "" {
			opts = append(opts, zeeklog.WithPath(hint))
		}
		zr := zeeklog.NewReader(r, name, opts...)
		var recs []sdk.Record
		for {
			rec, err := zr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			recs = append(recs, sdk.Record{Data: rec.Data, Path: rec.Path,
				Source: fmt.Sprintf("%s:%d", filepath.Base(name), rec.Line), Error: rec.Err})
			if len(recs) >= batchSize {
				if err := emit(recs); err != nil {
					return err
				}
				recs = recs[:0]
			}
		}
		return emit(recs)
	}

	if len(files) == 0 {
		return read(cmd.InOrStdin(), "stdin")
	}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		err = read(f, name)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// withMetadata adds what the chain decided about the record under
// @metadata.
func withMetadata(r sdk.Record, outIDs []string) ([]byte, error) {
	doc, err := event.DecodeObject(r.Data)
	if err != nil {
		return nil, err
	}
	meta := map[string]any{"id": r.ID}
	if r.Tenant != "" {
		meta["tenant"] = r.Tenant
	}
	targets := map[string]any{}
	for _, rt := range r.Routes {
		targets[outIDs[rt.Output]] = rt.Target
		if _, ok := meta["target"]; !ok {
			meta["target"] = rt.Target
		}
	}
	meta["targets"] = targets
	if r.Error != "" {
		meta["error"] = r.Error
	}
	if r.Quarantine != "" {
		meta["quarantine"] = r.Quarantine
	}
	doc[event.MetadataKey] = meta
	return event.AppendValue(nil, doc)
}
