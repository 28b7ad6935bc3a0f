package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mdrsflow/mdrsflow/runtime/flow"
)

func checkCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check FLOW...",
		Short: "Validate flow files (syntax, plugins, settings, expressions) without running anything",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			failed := 0
			for _, p := range args {
				f, err := flow.Load(p)
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "%v\n", err)
					failed++
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (flow %q: %d inputs, %d filters, %d outputs)\n",
					p, f.Name, len(f.Inputs), len(f.Filters), len(f.Outputs))
			}
			if failed > 0 {
				return fmt.Errorf("%d of %d flow files have errors", failed, len(args))
			}
			return nil
		},
	}
}
