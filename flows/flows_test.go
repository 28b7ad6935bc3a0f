package flows_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/mdrsflow/mdrsflow/runtime/chain"
	"github.com/mdrsflow/mdrsflow/runtime/flow"
	"github.com/mdrsflow/mdrsflow/runtime/flowtest"
	"github.com/mdrsflow/mdrsflow/runtime/stage"
	"github.com/mdrsflow/mdrsflow/runtime/wire"
	"github.com/mdrsflow/mdrsflow/runtime/zeeklog"
	"github.com/mdrsflow/mdrsflow/sdk"

	_ "github.com/mdrsflow/mdrsflow/plugins/all"
)

// The test binary doubles as the plugin process, so the flows' cases run
// through the same subprocess path as `mdrsflow run`.
func TestMain(m *testing.M) {
	if os.Getenv(wire.Handshake.MagicCookieKey) == wire.Handshake.MagicCookieValue {
		logger := wire.PluginLogger(slog.LevelWarn)
		wire.Serve(&wire.Opener{
			Filter: func(ctx context.Context, c stage.Config) (stage.Filter, error) {
				return stage.OpenFilter(ctx, c, logger)
			},
		})
		os.Exit(0)
	}
	code := m.Run()
	wire.RemoveSocketDir()
	os.Exit(code)
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// openChain opens a flow test's chain in this process or in a plugin
// subprocess (this test binary re-run).
func openChain(t *testing.T, spec chain.Spec, subprocess bool) stage.Filter {
	t.Helper()
	b, err := spec.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	cfg := stage.Config{Kind: sdk.KindFilter, Name: stage.ChainName, ID: "chain", Flow: spec.Flow, Settings: b}
	if !subprocess {
		f, err := stage.OpenFilter(context.Background(), cfg, quiet())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = f.Close() })
		return f
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	proc, err := wire.Launch(exec.Command(exe), sdk.KindFilter, quiet(), nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := proc.OpenFilter(context.Background(), cfg)
	if err != nil {
		proc.Kill()
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// TestFlowCases runs every shipped flow's test file (flows/*_test.yaml),
// in this process and through a plugin subprocess.
func TestFlowCases(t *testing.T) {
	files, err := filepath.Glob("*_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no flow test files found")
	}
	for _, path := range files {
		for _, mode := range []string{"in-process", "subprocess"} {
			t.Run(path+"/"+mode, func(t *testing.T) {
				f, err := flowtest.Load(path)
				if err != nil {
					t.Fatal(err)
				}
				spec, err := f.Spec()
				if err != nil {
					t.Fatal(err)
				}
				outcomes, err := f.Run(context.Background(), openChain(t, spec, mode == "subprocess"))
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range outcomes {
					if !o.Passed() {
						t.Errorf("%s:%d %s:\n  %s", path, o.Case.Line, o.Case.Name, strings.Join(o.Problems, "\n  "))
					}
				}
			})
		}
	}
}

// sharedDir finds the shared reference folder beside the repository.
func sharedDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("MDRSFLOW_SHARED"); d != "" {
		return d
	}
	d, err := filepath.Abs("../../shared")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d); err != nil {
		t.Skipf("shared reference data not found at %s (set MDRSFLOW_SHARED)", d)
	}
	return d
}

// TestEverySampleLine sends every line of every real Zeek log in the
// shared test data through the quickstart's filters (the tenant step and
// the Corelight transform): each line must give exactly one document, and
// each failure must say why. The counts per file are logged.
func TestEverySampleLine(t *testing.T) {
	logs, _ := filepath.Glob(filepath.Join(sharedDir(t), "testdata", "zeek", "*", "*.log"))
	if len(logs) == 0 {
		t.Skip("no Zeek logs in the shared test data")
	}
	fl, err := flow.Load("quickstart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fl.Complete()
	spec, err := chain.SpecFromFlow(fl)
	if err != nil {
		t.Fatal(err)
	}
	c, err := chain.Build(context.Background(), spec, sdk.Env{Logger: quiet(), Flow: fl.Name})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	var report []string
	totalLines, totalFailed := 0, 0
	for _, path := range logs {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(filepath.Dir(path)) + "/" + filepath.Base(path)
		zr := zeeklog.NewReader(f, path)
		var recs []sdk.Record
		for {
			rec, err := zr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			recs = append(recs, sdk.Record{Data: rec.Data, Path: rec.Path, Error: rec.Err,
				Source: fmt.Sprintf("%s:%d", name, rec.Line)})
		}
		f.Close()
		lines := len(recs)
		out, dropped := c.Process(recs)
		if dropped != 0 || len(out) != lines {
			t.Errorf("%s: %d lines gave %d documents and %d drops", name, lines, len(out), dropped)
		}
		failed := 0
		reasons := map[string]int{}
		for _, r := range out {
			if len(r.Routes) != 1 {
				t.Errorf("%s: %s has %d routes", name, r.Source, len(r.Routes))
			}
			why := r.Error
			if why == "" {
				why = r.Quarantine
			}
			if why == "" {
				continue
			}
			failed++
			// Group by the reason's text after the record's place.
			_, rest, _ := strings.Cut(why, ": ")
			if len(rest) > 90 {
				rest = rest[:90]
			}
			reasons[rest]++
		}
		totalLines += lines
		totalFailed += failed
		if failed > 0 {
			var rs []string
			for r, n := range reasons {
				rs = append(rs, fmt.Sprintf("%d× %s", n, r))
			}
			sort.Strings(rs)
			report = append(report, fmt.Sprintf("%-28s %5d lines %5d failed: %s", name, lines, failed, strings.Join(rs, "; ")))
		}
	}
	t.Logf("%d lines, %d failed or quarantined", totalLines, totalFailed)
	for _, r := range report {
		t.Log(r)
	}
}
