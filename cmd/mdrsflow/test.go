package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/mdrsflow/mdrsflow/runtime/chain"
	"github.com/mdrsflow/mdrsflow/runtime/flowtest"
	"github.com/mdrsflow/mdrsflow/runtime/stage"
	"github.com/mdrsflow/mdrsflow/runtime/wire"
	"github.com/mdrsflow/mdrsflow/sdk"
)

func testCmd() *cobra.Command {
	var subprocess, verbose bool
	c := &cobra.Command{
		Use:   "test TESTFILE...",
		Short: "Run a flow's test cases: sample records and the documents they must give",
		Long: `Run test files (flows/*_test.yaml): each names a flow and lists cases of an
input record with the exact document, target or failure it must give. Prints
each failing case with its differences, field by field.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			passed, failed := 0, 0
			for _, path := range args {
				f, err := flowtest.Load(path)
				if err != nil {
					return err
				}
				spec, err := f.Spec()
				if err != nil {
					return err
				}
				filter, closeFn, err := openTestChain(spec, subprocess)
				if err != nil {
					return fmt.Errorf("%s: %w", path, err)
				}
				outcomes, err := f.Run(context.Background(), filter)
				closeFn()
				if err != nil {
					return fmt.Errorf("%s: %w", path, err)
				}
				for _, o := range outcomes {
					if o.Passed() {
						passed++
						if verbose {
							fmt.Fprintf(out, "ok    %s:%d %s\n", path, o.Case.Line, o.Case.Name)
						}
						continue
					}
					failed++
					fmt.Fprintf(out, "FAIL  %s:%d %s\n", path, o.Case.Line, o.Case.Name)
					for _, p := range o.Problems {
						fmt.Fprintf(out, "        %s\n", p)
					}
				}
			}
			fmt.Fprintf(out, "%d passed, %d failed\n", passed, failed)
			if failed > 0 {
				return fmt.Errorf("%d test cases failed", failed)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&subprocess, "subprocess", false, "run the flow's filters in a plugin process, as mdrsflow run does")
	c.Flags().BoolVarP(&verbose, "verbose", "v", false, "list passing cases too")
	return c
}

func openTestChain(spec chain.Spec, subprocess bool) (stage.Filter, func(), error) {
	b, err := spec.Marshal()
	if err != nil {
		return nil, nil, err
	}
	cfg := stage.Config{Kind: sdk.KindFilter, Name: stage.ChainName, ID: "chain", Flow: spec.Flow, Settings: b}
	if !subprocess {
		f, err := stage.OpenFilter(context.Background(), cfg, slog.Default())
		if err != nil {
			return nil, nil, err
		}
		return f, func() { _ = f.Close() }, nil
	}
	command, err := selfCommand()
	if err != nil {
		return nil, nil, err
	}
	proc, err := wire.Launch(command(), sdk.KindFilter, slog.Default(), nil)
	if err != nil {
		return nil, nil, err
	}
	f, err := proc.OpenFilter(context.Background(), cfg)
	if err != nil {
		proc.Kill()
		return nil, nil, err
	}
	return f, func() { _ = f.Close() }, nil
}
