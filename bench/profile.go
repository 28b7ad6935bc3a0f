package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// chainBench is the Go benchmark profiled by -profile: the shipped
// Corelight chain over a batch of the bench mix, decode to encode.
const chainBench = "BenchmarkChain/mix/process$"

// profileChain runs the chain benchmark with -cpuprofile and returns
// pprof's top functions, flat and cumulative.
func profileChain(ctx context.Context, e *env) (string, error) {
	prof := filepath.Join(e.work, "chain.cpu.pprof")
	testBin := filepath.Join(e.work, "bin", "chain.test")
	fmt.Fprintf(os.Stderr, "profiling %s\n", chainBench)
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", chainBench,
		"-benchtime", "5s", "-benchmem", "-cpuprofile", prof, "-o", testBin, "./runtime/chain")
	cmd.Stderr = os.Stderr
	bench, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go test -bench %s: %w\n%s", chainBench, err, bench)
	}
	var b strings.Builder
	for _, line := range strings.Split(string(bench), "\n") {
		if strings.HasPrefix(line, "Benchmark") {
			b.WriteString(line + "\n")
		}
	}
	for _, mode := range [][]string{{"-top"}, {"-top", "-cum"}} {
		args := append([]string{"tool", "pprof"}, mode...)
		args = append(args, "-nodecount", "25", testBin, prof)
		out, err := exec.CommandContext(ctx, "go", args...).Output()
		if err != nil {
			return "", fmt.Errorf("go tool pprof: %w", err)
		}
		b.WriteString("\n$ go tool pprof " + strings.Join(mode, " ") + " -nodecount 25\n")
		b.Write(out)
	}
	fmt.Printf("\nCPU profile of the chain (%s; profile in %s):\n%s", chainBench, prof, b.String())
	return b.String(), nil
}

// perfRun runs the subprocess scenario once under perf record (every
// process of the tree) and returns, per process, its share of the samples
// and the packages and functions the samples fell in. The run's own
// figures are not used: perf's overhead would distort them.
func perfRun(ctx context.Context, e *env, n int64) (string, error) {
	if _, err := exec.LookPath("perf"); err != nil {
		return "", fmt.Errorf("-perf needs perf (Debian: linux-perf): %w", err)
	}
	data := filepath.Join(e.work, "perf.data")
	sc := Scenario{Name: "perf", Events: n, Tenants: 1}
	fmt.Fprintln(os.Stderr, "recording the subprocess scenario with perf")
	r, err := e.run(ctx, sc, 1, []string{"perf", "record", "-q", "-F", "499", "-o", data, "--"})
	if err != nil {
		return "", err
	}
	roles := map[string]string{}
	for _, p := range r.Procs {
		roles[strconv.Itoa(p.PID)] = p.Role
	}

	cmd := exec.CommandContext(ctx, "perf", "script", "-i", data, "-F", "pid,ip,sym,dso", "-G")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("perf script: %w", err)
	}
	prof := newPerfProfile()
	sc2 := bufio.NewScanner(out)
	sc2.Buffer(make([]byte, 1<<20), 1<<20)
	for sc2.Scan() {
		prof.add(sc2.Text(), roles)
	}
	if err := cmd.Wait(); err != nil {
		return "", fmt.Errorf("perf script: %w", err)
	}
	text := prof.String()
	fmt.Printf("\nperf profile of the subprocess scenario (%d events; data in %s):\n%s", n, data, text)
	return text, nil
}

// perfProfile counts perf samples by process role, package and function.
type perfProfile struct {
	total  int
	byRole map[string]int
	byPkg  map[string]map[string]int
	byFunc map[string]map[string]int
}

func newPerfProfile() *perfProfile {
	return &perfProfile{byRole: map[string]int{}, byPkg: map[string]map[string]int{},
		byFunc: map[string]map[string]int{}}
}

// add counts one line of `perf script -F pid,ip,sym,dso`:
// "  1234   417df4 runtime.mapassign_faststr (/path/mdrsflow)".
func (p *perfProfile) add(line string, roles map[string]string) {
	f := strings.Fields(line)
	if len(f) < 3 {
		return
	}
	role, ok := roles[f[0]]
	if !ok {
		role = "other"
	}
	dso := f[len(f)-1]
	sym := strings.Join(f[2:len(f)-1], " ")
	pkg := goPackage(sym)
	if strings.Contains(dso, "kernel") {
		pkg, sym = "[kernel]", sym+" [k]"
	}
	p.total++
	p.byRole[role]++
	if p.byPkg[role] == nil {
		p.byPkg[role], p.byFunc[role] = map[string]int{}, map[string]int{}
	}
	p.byPkg[role][pkg]++
	p.byFunc[role][sym]++
}

// goPackage is the package of a Go symbol, shortened for this module.
// The runtime is split by what it does: maps (hashing included), alloc,
// GC and the rest, which is what a change of event representation moves.
func goPackage(sym string) string {
	if sym == "" || sym == "[unknown]" {
		return "[unknown]"
	}
	slash := strings.LastIndexByte(sym, '/')
	dot := strings.IndexByte(sym[slash+1:], '.')
	pkg := "runtime" // assembly helpers without a package: aeshashbody, memeqbody
	if dot >= 0 {
		pkg = sym[:slash+1+dot]
	}
	if pkg == "runtime" || pkg == "internal/runtime/maps" {
		return "runtime " + runtimePart(sym)
	}
	return strings.TrimPrefix(pkg, "github.com/mdrsflow/mdrsflow/")
}

func runtimePart(sym string) string {
	s := strings.TrimPrefix(sym, "runtime.")
	has := func(subs ...string) bool {
		for _, x := range subs {
			if strings.Contains(s, x) {
				return true
			}
		}
		return false
	}
	switch {
	case strings.HasPrefix(sym, "internal/runtime/maps.") || strings.HasPrefix(s, "map") ||
		has("aeshash", "memhash", "strhash", "memeqbody"):
		return "maps"
	case has("gc", "GC", "scanobject", "scanblock", "greyobject", "markBits", "Span", "span",
		"sweep", "wbBuf", "heapBits", "findObject", "typePointers", "bulkBarrier", "Mark"):
		return "GC"
	case strings.HasPrefix(s, "malloc") || has("nextFree", "mcache", "mcentral", "mheap",
		"memclr", "newobject", "makeslice", "growslice", "rawstring", "newarray"):
		return "alloc"
	case has("memmove"):
		return "memmove"
	}
	return "other"
}

func (p *perfProfile) String() string {
	var b strings.Builder
	all := map[string]int{}
	for _, m := range p.byPkg {
		for k, v := range m {
			all[k] += v
		}
	}
	b.WriteString("whole tree, packages:")
	for _, k := range topKeys(all, 12) {
		fmt.Fprintf(&b, " %s %.0f%%,", k, pct(all[k], p.total))
	}
	b.WriteString("\n")
	for _, role := range topKeys(p.byRole, 0) {
		n := p.byRole[role]
		fmt.Fprintf(&b, "%s: %.1f %% of all samples\n", role, pct(n, p.total))
		b.WriteString("  packages:")
		for _, k := range topKeys(p.byPkg[role], 8) {
			fmt.Fprintf(&b, " %s %.0f%%,", k, pct(p.byPkg[role][k], n))
		}
		b.WriteString("\n  functions:")
		for _, k := range topKeys(p.byFunc[role], 8) {
			name := strings.TrimPrefix(k, "github.com/mdrsflow/mdrsflow/")
			fmt.Fprintf(&b, " %s %.1f%%,", name, pct(p.byFunc[role][k], n))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func pct(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

// topKeys returns the keys of m by falling count, at most n (0: all).
func topKeys(m map[string]int, n int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	if n > 0 && len(keys) > n {
		keys = keys[:n]
	}
	return keys
}
