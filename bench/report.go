package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"
)

// Summary is a scenario's medians over its runs.
type Summary struct {
	Scenario        Scenario           `json:"scenario"`
	Runs            []*Run             `json:"runs"`
	WallSeconds     float64            `json:"wall_s"`
	EventsPerSec    float64            `json:"events_per_s"`
	MBPerSec        float64            `json:"input_mb_per_s"`
	CPUSeconds      float64            `json:"cpu_s"`
	CPUPerMillion   float64            `json:"cpu_s_per_million_events"`
	EventsPerCPUSec float64            `json:"events_per_cpu_s"`
	PeakPSSMB       float64            `json:"peak_tree_pss_mb"`
	PeakPSSAnonMB   float64            `json:"peak_tree_pss_anon_mb"`
	PeakPSSFileMB   float64            `json:"peak_tree_pss_file_mb"`
	PeakRSSMB       map[string]float64 `json:"peak_rss_mb_by_process"`
	CPUByProcess    map[string]float64 `json:"cpu_s_by_process"`
	// CPUCheck compares the sampled plugin CPU with what the host's
	// rusage says of its reaped children (see bench/README.md).
	CPUCheck string `json:"cpu_check"`
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func medianOf(runs []*Run, f func(*Run) float64) float64 {
	xs := make([]float64, len(runs))
	for i, r := range runs {
		xs[i] = f(r)
	}
	return median(xs)
}

func summarize(sc Scenario, runs []*Run) Summary {
	s := Summary{Scenario: sc, Runs: runs,
		PeakRSSMB: map[string]float64{}, CPUByProcess: map[string]float64{}}
	if len(runs) == 0 {
		return s
	}
	s.WallSeconds = medianOf(runs, func(r *Run) float64 { return r.WallSeconds })
	s.EventsPerSec = medianOf(runs, (*Run).EventsPerSec)
	s.MBPerSec = medianOf(runs, (*Run).MBPerSec)
	s.CPUSeconds = medianOf(runs, func(r *Run) float64 { return r.CPUSeconds() })
	s.CPUPerMillion = medianOf(runs, (*Run).CPUPerMillion)
	s.EventsPerCPUSec = medianOf(runs, (*Run).EventsPerCPUSec)
	s.PeakPSSMB = medianOf(runs, func(r *Run) float64 { return r.PeakPSSMB })
	s.PeakPSSAnonMB = medianOf(runs, func(r *Run) float64 { return r.PeakPSSAnonMB })
	s.PeakPSSFileMB = medianOf(runs, func(r *Run) float64 { return r.PeakPSSFileMB })
	for _, role := range roleNames(runs) {
		s.PeakRSSMB[role] = medianOf(runs, func(r *Run) float64 { return procOf(r, role).PeakRSSMB })
		s.CPUByProcess[role] = medianOf(runs, func(r *Run) float64 { return procOf(r, role).CPUSeconds })
	}

	var maxDiff, minPct, maxPct float64
	minPct = 1e9
	for _, r := range runs {
		maxDiff = max(maxDiff, abs(r.CPUSeconds()-(r.HostSelfSeconds+r.HostChildSeconds)))
		if r.HostChildSeconds > 0 {
			pct := 100 * r.SampledChildSeconds / r.HostChildSeconds
			minPct, maxPct = min(minPct, pct), max(maxPct, pct)
		}
	}
	s.CPUCheck = fmt.Sprintf("rusage (user+sys) = host's own + its reaped children's CPU "+
		"(from /proc/<host>/stat at exit) within %.2f s", maxDiff)
	if maxPct > 0 {
		s.CPUCheck += fmt.Sprintf("; the plugin processes' own stat, last sampled <%s before "+
			"they ended, adds up to %.1f-%.1f %% of the reaped children's CPU", sampleEvery, minPct, maxPct)
	}
	return s
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func roleNames(runs []*Run) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range runs {
		for _, p := range r.Procs {
			if !seen[p.Role] {
				seen[p.Role] = true
				out = append(out, p.Role)
			}
		}
	}
	return out
}

func procOf(r *Run, role string) ProcStat {
	for _, p := range r.Procs {
		if p.Role == role {
			return p
		}
	}
	return ProcStat{}
}

// printTable writes the medians, one line per scenario.
func printTable(w io.Writer, sums []Summary) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tevents\truns\twall s\tevents/s\tMB/s in\tCPU s\tCPU s/1M ev\tev/CPU-s\t"+
		"tree PSS MB (anon+file)\tpeak RSS MB host/input/chain/output\t")
	for _, s := range sums {
		rss := make([]string, 0, 4)
		for _, role := range []string{"host", "input", "chain", "output"} {
			if v, ok := s.PeakRSSMB[role]; ok && v > 0 {
				rss = append(rss, fmt.Sprintf("%.0f", v))
			} else {
				rss = append(rss, "-")
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f\t%s\t%.1f\t%.1f\t%.2f\t%s\t%.0f (%.0f+%.0f)\t%s\t\n",
			s.Scenario.Name, human(float64(s.Scenario.Events)), len(s.Runs), s.WallSeconds,
			human(s.EventsPerSec), s.MBPerSec, s.CPUSeconds, s.CPUPerMillion,
			human(s.EventsPerCPUSec), s.PeakPSSMB, s.PeakPSSAnonMB, s.PeakPSSFileMB,
			strings.Join(rss, "/"))
	}
	tw.Flush()
}

// printCPUSplit writes where the CPU went, by process.
func printCPUSplit(w io.Writer, sums []Summary) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tCPU s/1M ev: host\tinput\tchain\toutput\t")
	for _, s := range sums {
		per := func(role string) string {
			v, ok := s.CPUByProcess[role]
			if !ok {
				return "-"
			}
			return fmt.Sprintf("%.2f", v/(float64(s.Scenario.Events)/1e6))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", s.Scenario.Name, per("host"), per("input"),
			per("chain"), per("output"))
	}
	tw.Flush()
}

// human writes 123456 as 123k and 1234567 as 1.23M.
func human(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.0fk", v/1e3)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

// Machine says where the figures come from.
type Machine struct {
	CPUs      int    `json:"nproc"`
	CPUModel  string `json:"cpu_model"`
	MemoryMB  int64  `json:"memory_mb"`
	Kernel    string `json:"kernel"`
	Go        string `json:"go"`
	LoadStart string `json:"loadavg_start"`
	LoadEnd   string `json:"loadavg_end,omitempty"`
}

func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), LoadStart: loadavg()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	m.MemoryMB = kibToMBInt(kibLine("/proc/meminfo", "MemTotal:"))
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

func kibToMBInt(kib int64) int64 { return kib * 1024 / 1e6 }

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func (m Machine) String() string {
	return fmt.Sprintf("%d CPUs (%s), %d MB memory, Linux %s, %s, load %s at start",
		m.CPUs, m.CPUModel, m.MemoryMB, m.Kernel, m.Go, m.LoadStart)
}
