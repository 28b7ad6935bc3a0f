package flows_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/mdrsflow/mdrsflow/flows/zeek"
	"github.com/mdrsflow/mdrsflow/runtime/chain"
	"github.com/mdrsflow/mdrsflow/runtime/flowtest"
	"github.com/mdrsflow/mdrsflow/runtime/stage"
	"github.com/mdrsflow/mdrsflow/runtime/zeeklog"
	"github.com/mdrsflow/mdrsflow/sdk"
)

// TestZeekFlowCases runs zeek_test.yaml, the golden cases written from
// Elastic's layout, through the flow in this process.
func TestZeekFlowCases(t *testing.T) {
	f, err := flowtest.Load("zeek_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := f.Spec()
	if err != nil {
		t.Fatal(err)
	}
	settings, err := spec.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	filter, err := stage.OpenFilter(context.Background(), stage.Config{Kind: sdk.KindFilter,
		Name: stage.ChainName, ID: "chain", Flow: spec.Flow, Settings: settings}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer filter.Close()
	outcomes, err := f.Run(context.Background(), filter)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range outcomes {
		t.Run(o.Case.Name, func(t *testing.T) {
			for _, p := range o.Problems {
				t.Errorf("zeek_test.yaml:%d: %s", o.Case.Line, p)
			}
		})
	}
}

// TestZeekSamples runs every line of the shared sample logs (real Zeek
// logs, JSON and tab-separated) through the flow: each must be indexed
// under its stream, none may fail.
func TestZeekSamples(t *testing.T) {
	shared, ok := zeek.SharedDir("..")
	if !ok {
		t.Skip("no shared folder (set MDRSFLOW_SHARED or put shared/ beside the repository)")
	}
	files, _ := filepath.Glob(filepath.Join(shared, "testdata", "zeek", "*", "*.log"))
	if len(files) == 0 {
		t.Skip("no sample logs under the shared folder")
	}
	c := buildZeekChain(t, "samples")
	for _, name := range files {
		t.Run(filepath.Base(filepath.Dir(name))+"/"+filepath.Base(name), func(t *testing.T) {
			n := runSampleFile(t, c, name)
			t.Logf("%d records", n)
		})
	}
}

func runSampleFile(t *testing.T, c *chain.Chain, name string) int {
	t.Helper()
	fh, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	r := zeeklog.NewReader(fh, name)
	n, failed := 0, 0
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			if failed > 3 {
				t.Errorf("%d records failed in all", failed)
			}
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		if rec.Err != "" {
			// The reader's own verdict on a malformed line (a truncated
			// sample); the chain sends such records to the failures target.
			continue
		}
		out, dropped := c.Process([]sdk.Record{{Data: rec.Data, Path: rec.Path, Source: name}})
		if dropped > 0 || len(out) == 0 {
			t.Errorf("line %d: dropped", rec.Line)
			continue
		}
		if out[0].Error != "" || out[0].Quarantine != "" {
			if failed++; failed <= 3 {
				t.Errorf("line %d: failed: %s%s", rec.Line, out[0].Error, out[0].Quarantine)
			}
		}
	}
}

// BenchmarkZeekFlow measures the flow in this process on a mix of the
// shared sample logs (every JSON sample, one record of each in turn).
func BenchmarkZeekFlow(b *testing.B) {
	shared, ok := zeek.SharedDir("..")
	if !ok {
		b.Skip("no shared folder")
	}
	files, _ := filepath.Glob(filepath.Join(shared, "testdata", "zeek", "json", "*.log"))
	var recs []sdk.Record
	for _, name := range files {
		fh, err := os.Open(name)
		if err != nil {
			b.Fatal(err)
		}
		r := zeeklog.NewReader(fh, name)
		for i := 0; i < 200; i++ {
			rec, err := r.Next()
			if err != nil {
				break
			}
			if rec.Err == "" {
				recs = append(recs, sdk.Record{Data: rec.Data, Path: rec.Path})
			}
		}
		fh.Close()
	}
	if len(recs) == 0 {
		b.Skip("no sample records")
	}
	c := buildZeekChain(b, "bench")
	batch := make([]sdk.Record, 0, 1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		batch = append(batch[:0], recs[i%len(recs)])
		c.Process(batch)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
