// Command bench measures mdrsflow end to end with the real binary: it
// builds mdrsflow, generates an event mix with bench/mixgen, runs each
// scenario a few times with the scenarios interleaved, and prints the
// medians: events/s, MB/s of input, CPU seconds per million events of the
// whole process tree, events per CPU-second, peak PSS of the tree and peak
// RSS per process, then the ratios and the targets of the performance
// issue. See bench/README.md.
//
//	go run ./bench                 # 100k events, 3 runs of each scenario
//	go run ./bench -n 1000000 -runs 5 -scenarios subprocess,in-process
//	go run ./bench -linear         # also 10× the events (slow)
//	go run ./bench -profile -perf  # where the time goes
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// defaultEvents keeps a default bench (5 scenarios, 3 runs each) near three
// minutes at today's speed, about 20,000 events/s with subprocesses; at the
// target speed a million would fit in the same time.
const defaultEvents = 100_000

type options struct {
	n       int64
	runs    int
	linear  bool
	only    string
	work    string
	jsonOut string
	seed    uint64
	profile bool
	perf    bool
	verbose bool
	outage  time.Duration
}

func main() {
	var o options
	flag.Int64Var(&o.n, "n", defaultEvents, "events per run (the linearity scenario uses 10×)")
	flag.IntVar(&o.runs, "runs", 3, "runs of each scenario; the table shows medians")
	flag.BoolVar(&o.linear, "linear", false, "also run 10× the events, for linearity (slow)")
	flag.StringVar(&o.only, "scenarios", "", "comma-separated scenarios to run (default: all; "+
		"subprocess, in-process, tenants-100, elasticsearch, es-tenants-100, es-outage, and subprocess-10x with -linear)")
	flag.StringVar(&o.work, "work", filepath.Join("bench", ".work"),
		"folder for the binaries, mixes and run outputs (mixes are reused)")
	flag.StringVar(&o.jsonOut, "json", "", "write the results as JSON here (default: <work>/results.json)")
	flag.Uint64Var(&o.seed, "seed", 1, "mix seed")
	flag.BoolVar(&o.profile, "profile", false,
		"also profile the chain benchmark (go test -cpuprofile) and print pprof's top functions")
	flag.BoolVar(&o.perf, "perf", false,
		"also run the subprocess scenario once under `perf record` and print the top functions per process")
	flag.BoolVar(&o.verbose, "v", false, "show build and generation output")
	flag.DurationVar(&o.outage, "outage", 10*time.Second,
		"es-outage: how long the fake Elasticsearch answers 503 from the start of each run")
	flag.DurationVar(&pssEvery, "pss-every", pssEvery,
		"how often to list the process tree and read each PSS (smaps_rollup is the harness's main cost)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if err := chdirRoot(); err != nil {
		return err
	}
	if o.runs < 1 || o.n < 1 {
		return errors.New("-n and -runs must be at least 1")
	}
	e := &env{work: o.work, seed: o.seed, verb: io.Discard}
	if o.verbose {
		e.verb = os.Stderr
	}
	scenarios, err := pick(o)
	if err != nil {
		return err
	}
	mach := machine()
	fmt.Printf("machine: %s\n", mach)

	fmt.Fprintln(os.Stderr, "building mdrsflow and mixgen")
	if err := e.build(ctx); err != nil {
		return err
	}
	// The flows are copied beside the binary, so every run of this bench
	// uses the flows of the moment it was built.
	if err := e.snapshotFlows(); err != nil {
		return err
	}
	for _, sc := range scenarios {
		if _, _, err := e.mix(ctx, sc.Events, sc.Tenants); err != nil {
			return err
		}
	}
	if e.sink, err = startESSink(); err != nil {
		return err
	}
	defer e.sink.Close()

	runs := make([][]*Run, len(scenarios))
	var failed []string
	for round := 1; round <= o.runs; round++ {
		for i, sc := range scenarios {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r, err := e.run(ctx, sc, round, nil)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				// Keep going: the other runs still say something.
				fmt.Fprintf(os.Stderr, "round %d/%d %-15s FAILED: %v\n", round, o.runs, sc.Name, err)
				failed = append(failed, fmt.Sprintf("%s round %d: %v", sc.Name, round, err))
				continue
			}
			note := ""
			if r.Problem != "" {
				note = "  PROBLEM: " + r.Problem
			}
			fmt.Fprintf(os.Stderr, "round %d/%d %-15s %6.1f s wall  %6.1f s CPU  %7.0f ev/CPU-s  PSS %4.0f MB%s\n",
				round, o.runs, sc.Name, r.WallSeconds, r.CPUSeconds(), r.EventsPerCPUSec(), r.PeakPSSMB, note)
			runs[i] = append(runs[i], r)
		}
	}
	mach.LoadEnd = loadavg()

	sums := make([]Summary, len(scenarios))
	for i, sc := range scenarios {
		sums[i] = summarize(sc, runs[i])
	}
	res := Results{
		Command:  "go run ./bench " + strings.Join(os.Args[1:], " "),
		Machine:  mach,
		Flow:     "flows/quickstart.yaml",
		Runs:     o.runs,
		Summary:  sums,
		Ratios:   ratios(sums),
		Problems: append(failed, problems(sums)...),
	}
	res.Targets = targets(sums, res.Ratios)
	var self syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &self) == nil {
		res.HarnessCPUSeconds = tv(self.Utime) + tv(self.Stime)
	}

	fmt.Println()
	printTable(os.Stdout, sums)
	fmt.Println()
	printCPUSplit(os.Stdout, sums)
	fmt.Println()
	printRatios(os.Stdout, res.Ratios)
	fmt.Println()
	printTargets(os.Stdout, res.Targets)
	fmt.Println()
	for _, s := range sums {
		fmt.Printf("CPU check, %s: %s\n", s.Scenario.Name, s.CPUCheck)
	}
	fmt.Printf("harness's own CPU (not counted above): %.1f s\n", res.HarnessCPUSeconds)
	for _, p := range res.Problems {
		fmt.Println("PROBLEM:", p)
	}

	if o.profile {
		if res.Profile, err = profileChain(ctx, e); err != nil {
			return err
		}
	}
	if o.perf {
		if res.Perf, err = perfRun(ctx, e, o.n); err != nil {
			return err
		}
	}

	out := o.jsonOut
	if out == "" {
		out = filepath.Join(o.work, "results.json")
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Printf("\nresults: %s\n", out)
	return nil
}

// Results is everything a bench run found, as written to JSON.
type Results struct {
	Command  string    `json:"command"`
	Machine  Machine   `json:"machine"`
	Flow     string    `json:"flow"`
	Runs     int       `json:"runs"`
	Summary  []Summary `json:"scenarios"`
	Ratios   Ratios    `json:"ratios"`
	Targets  []Target  `json:"targets"`
	Problems []string  `json:"problems,omitempty"`
	// HarnessCPUSeconds is the harness's own CPU (sampling, the fake
	// Elasticsearch, counting output lines), not in any figure above.
	HarnessCPUSeconds float64 `json:"harness_cpu_s"`
	Profile           string  `json:"chain_profile_top,omitempty"`
	Perf              string  `json:"perf_top,omitempty"`
}

// pick returns the scenarios to run.
func pick(o options) ([]Scenario, error) {
	all := []Scenario{
		{Name: "subprocess", Events: o.n, Tenants: 1,
			What: "file → tenant → corelight → file; input, chain and output in subprocesses"},
		{Name: "in-process", Events: o.n, Tenants: 1, InProcess: true,
			What: "the same flow with --in-process: every part inside the host"},
		{Name: "tenants-100", Events: o.n, Tenants: 100,
			What: "as subprocess, events spread over 100 tenants (a file per tenant and group)"},
		{Name: "elasticsearch", Events: o.n, Tenants: 1, ES: true,
			What: "as subprocess, into a fake Elasticsearch bulk API in the harness"},
		{Name: "es-tenants-100", Events: o.n, Tenants: 100, ES: true,
			What: "as elasticsearch, events spread over 100 tenants (100 indices in each bulk request)"},
		{Name: "es-outage", Events: o.n, Tenants: 1, ES: true, Outage: o.outage,
			What: "as elasticsearch, with the cluster answering 503 for the first -outage of the run: memory while an output is down"},
	}
	if o.linear {
		all = append(all, Scenario{Name: "subprocess-10x", Events: 10 * o.n, Tenants: 1,
			What: "as subprocess with 10× the events, for linearity"})
	}
	if o.only == "" {
		return all, nil
	}
	var out []Scenario
	for _, name := range strings.Split(o.only, ",") {
		found := false
		for _, sc := range all {
			if sc.Name == strings.TrimSpace(name) {
				out = append(out, sc)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("-scenarios: no scenario %q (subprocess-10x needs -linear)", name)
		}
	}
	return out, nil
}

// chdirRoot moves to the module root, so the harness runs from anywhere
// inside the repository.
func chdirRoot() error {
	dir, err := os.Getwd()
	if err != nil {
		return err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/mdrsflow/mdrsflow\n") {
			return os.Chdir(dir)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return errors.New("run the harness inside the mdrsflow repository")
		}
		dir = parent
	}
}

func problems(sums []Summary) []string {
	var out []string
	for _, s := range sums {
		for _, r := range s.Runs {
			if r.Problem != "" {
				out = append(out, fmt.Sprintf("%s round %d: %s", s.Scenario.Name, r.Round, r.Problem))
			}
		}
	}
	return out
}
