package chain_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/mdrsflow/mdrsflow/runtime/chain"
	"github.com/mdrsflow/mdrsflow/runtime/event"
	"github.com/mdrsflow/mdrsflow/runtime/flow"
	"github.com/mdrsflow/mdrsflow/sdk"

	_ "github.com/mdrsflow/mdrsflow/plugins/all"
)

// benchFlow is the shipped transform as a site flow runs it: the tenant
// step, flows/corelight.yaml, and a router to one output. It is parsed as
// if it were flows/bench.yaml, so `use:` finds the shipped file.
const benchFlow = `name: bench
filters:
  - tenant:
      static: acme
  - use: corelight.yaml
outputs:
  - file:
      path: out
`

// benchBatchSize is the number of records per Process call, about what
// the file input sends at once.
const benchBatchSize = 1024

func buildBenchChain(b testing.TB) *chain.Chain {
	b.Helper()
	f, err := flow.Parse(filepath.Join("..", "..", "flows", "bench.yaml"), []byte(benchFlow))
	if err != nil {
		b.Fatal(err)
	}
	f.Complete()
	spec, err := chain.SpecFromFlow(f)
	if err != nil {
		b.Fatal(err)
	}
	c, err := chain.Build(context.Background(), spec,
		sdk.Env{Logger: slog.New(slog.DiscardHandler), Flow: f.Name, ID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	return c
}

// benchSamples reads the bundled Zeek JSON samples, by log type.
func benchSamples(b testing.TB) map[string][][]byte {
	b.Helper()
	dir := filepath.Join("..", "..", "testdata", "zeek", "json")
	files, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil || len(files) == 0 {
		b.Fatalf("no samples in %s: %v", dir, err)
	}
	out := map[string][][]byte{}
	for _, file := range files {
		name := filepath.Base(file)
		name = name[:len(name)-len(".log")]
		fh, err := os.Open(file)
		if err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			out[name] = append(out[name], append([]byte(nil), sc.Bytes()...))
		}
		fh.Close()
	}
	return out
}

// benchRecords builds a batch of one log type, or for "mix" the bench
// mix: half conn, a quarter dns, the rest cycled over the other types
// that carry a ts.
func benchRecords(b *testing.B, samples map[string][][]byte, kind string) []sdk.Record {
	b.Helper()
	var others []string
	for name := range samples {
		if name != "conn" && name != "dns" && name != "loaded_scripts" {
			others = append(others, name)
		}
	}
	slices.Sort(others)
	next := map[string]int{}
	recs := make([]sdk.Record, benchBatchSize)
	for i := range recs {
		name := kind
		if kind == "mix" {
			switch {
			case i%4 < 2:
				name = "conn"
			case i%4 == 2:
				name = "dns"
			default:
				name = others[(i/4)%len(others)]
			}
		}
		lines := samples[name]
		n := next[name] % len(lines)
		next[name]++
		recs[i] = sdk.Record{Data: lines[n], Path: name, Source: fmt.Sprintf("%s.log:%d", name, n+1)}
	}
	return recs
}

// decodeBatch decodes recs with the metadata the chain sets before its
// steps.
func decodeBatch(b *testing.B, recs []sdk.Record) []*event.Event {
	b.Helper()
	evs := make([]*event.Event, len(recs))
	for i, r := range recs {
		ev, err := event.Decode(r.Data)
		if err != nil {
			b.Fatalf("%s: %v", r.Source, err)
		}
		ev.SetMeta("path", r.Path)
		ev.SetMeta("source", r.Source)
		evs[i] = ev
	}
	return evs
}

// BenchmarkChain measures the shipped Corelight chain per log type and
// for the bench mix: "process" is Chain.Process (decode, the steps,
// expand, document id, route, encode); "decode", "steps" and "encode"
// time those parts alone, so the rest of process is id, routing and
// copies.
func BenchmarkChain(b *testing.B) {
	c := buildBenchChain(b)
	samples := benchSamples(b)
	for _, kind := range []string{"conn", "dns", "mix"} {
		recs := benchRecords(b, samples, kind)
		var size int64
		for _, r := range recs {
			size += int64(len(r.Data))
		}

		// Every record must take the happy path, or this measures failures.
		check := append([]sdk.Record(nil), recs...)
		out, _ := c.Process(check)
		for _, r := range out {
			if r.Error != "" || r.Quarantine != "" {
				b.Fatalf("%s: %s%s", r.Source, r.Error, r.Quarantine)
			}
		}

		b.Run(kind+"/process", func(b *testing.B) {
			work := make([]sdk.Record, len(recs))
			b.SetBytes(size)
			perEvent(b, nil, func() {
				copy(work, recs)
				c.Process(work)
			})
		})
		b.Run(kind+"/decode", func(b *testing.B) {
			b.SetBytes(size)
			perEvent(b, nil, func() {
				for _, r := range recs {
					if _, err := event.Decode(r.Data); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
		b.Run(kind+"/steps", func(b *testing.B) {
			b.SetBytes(size)
			var evs []*event.Event
			perEvent(b, func() { evs = decodeBatch(b, recs) }, func() {
				for _, ev := range evs {
					c.ProcessEvent(ev)
				}
			})
		})
		b.Run(kind+"/encode", func(b *testing.B) {
			evs := decodeBatch(b, recs)
			for _, ev := range evs {
				c.ProcessEvent(ev)
				if err := ev.Expand(); err != nil {
					b.Fatal(err)
				}
			}
			var buf []byte
			b.SetBytes(size)
			perEvent(b, nil, func() {
				for _, ev := range evs {
					var err error
					if buf, err = ev.Encode(buf[:0]); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// perEvent runs one batch per iteration, after setup (when set) with the
// timer stopped, and reports ns, allocations and bytes per event, and
// events/s. What setup allocates is not counted.
func perEvent(b *testing.B, setup, batch func()) {
	b.ReportAllocs()
	var before, after, s0, s1 runtime.MemStats
	var setupMallocs, setupBytes uint64
	runtime.ReadMemStats(&before)
	for b.Loop() {
		if setup != nil {
			b.StopTimer()
			runtime.ReadMemStats(&s0)
			setup()
			runtime.ReadMemStats(&s1)
			setupMallocs += s1.Mallocs - s0.Mallocs
			setupBytes += s1.TotalAlloc - s0.TotalAlloc
			b.StartTimer()
		}
		batch()
	}
	runtime.ReadMemStats(&after)
	events := float64(b.N) * benchBatchSize
	ns := float64(b.Elapsed().Nanoseconds()) / events
	b.ReportMetric(ns, "ns/event")
	if ns > 0 {
		b.ReportMetric(1e9/ns, "events/s")
	}
	b.ReportMetric(float64(after.Mallocs-before.Mallocs-setupMallocs)/events, "allocs/event")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc-setupBytes)/events, "B/event")
}
