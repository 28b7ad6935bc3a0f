package main

import (
	"fmt"
	"io"
	"strings"
)

// Ratios compare scenarios of the same bench run.
type Ratios struct {
	// Boundary* are subprocess over in-process: CPU per event (the
	// boundary's price), events/s and peak PSS. BoundaryCPURounds is the
	// CPU ratio within each round, to show the noise.
	BoundaryCPU       float64   `json:"subprocess_over_in_process_cpu,omitempty"`
	BoundaryCPURounds []float64 `json:"subprocess_over_in_process_cpu_by_round,omitempty"`
	BoundaryRate      float64   `json:"subprocess_over_in_process_events_per_s,omitempty"`
	BoundaryPSS       float64   `json:"subprocess_over_in_process_pss,omitempty"`
	// Linear is CPU of 10× the events over CPU of 1× (ideal: 10);
	// LinearPSS the same for peak tree PSS (flat: 1).
	Linear    float64 `json:"cpu_10x_over_1x,omitempty"`
	LinearPSS float64 `json:"pss_10x_over_1x,omitempty"`
	// Tenants* are 100 tenants over 1: CPU per event and events/s.
	TenantsCPU  float64 `json:"tenants_100_over_1_cpu,omitempty"`
	TenantsRate float64 `json:"tenants_100_over_1_events_per_s,omitempty"`
	// ESTenants* are the same with Elasticsearch as the output.
	ESTenantsCPU  float64 `json:"es_tenants_100_over_1_cpu,omitempty"`
	ESTenantsRate float64 `json:"es_tenants_100_over_1_events_per_s,omitempty"`
	// ESOverFile is CPU per event of the Elasticsearch scenario over the
	// file output's.
	ESOverFile float64 `json:"elasticsearch_over_file_cpu,omitempty"`
	// OutagePSS is peak tree PSS with the cluster down for a while over
	// the same flow with it up (bounded: about 1).
	OutagePSS float64 `json:"es_outage_over_elasticsearch_pss,omitempty"`
}

func find(sums []Summary, name string) *Summary {
	for i := range sums {
		if sums[i].Scenario.Name == name && len(sums[i].Runs) > 0 {
			return &sums[i]
		}
	}
	return nil
}

func ratios(sums []Summary) Ratios {
	var r Ratios
	sub := find(sums, "subprocess")
	if sub == nil {
		return r
	}
	if in := find(sums, "in-process"); in != nil {
		r.BoundaryCPU = sub.CPUPerMillion / in.CPUPerMillion
		r.BoundaryRate = sub.EventsPerSec / in.EventsPerSec
		r.BoundaryPSS = sub.PeakPSSMB / in.PeakPSSMB
		for i := range min(len(sub.Runs), len(in.Runs)) {
			r.BoundaryCPURounds = append(r.BoundaryCPURounds,
				sub.Runs[i].CPUPerMillion()/in.Runs[i].CPUPerMillion())
		}
	}
	if x := find(sums, "subprocess-10x"); x != nil {
		r.Linear = x.CPUSeconds / sub.CPUSeconds
		r.LinearPSS = x.PeakPSSMB / sub.PeakPSSMB
	}
	if t := find(sums, "tenants-100"); t != nil {
		r.TenantsCPU = t.CPUPerMillion / sub.CPUPerMillion
		r.TenantsRate = t.EventsPerSec / sub.EventsPerSec
	}
	if es := find(sums, "elasticsearch"); es != nil {
		if t := find(sums, "es-tenants-100"); t != nil {
			r.ESTenantsCPU = t.CPUPerMillion / es.CPUPerMillion
			r.ESTenantsRate = t.EventsPerSec / es.EventsPerSec
		}
		r.ESOverFile = es.CPUPerMillion / sub.CPUPerMillion
		if o := find(sums, "es-outage"); o != nil {
			r.OutagePSS = o.PeakPSSMB / es.PeakPSSMB
		}
	}
	return r
}

func printRatios(w io.Writer, r Ratios) {
	if r.BoundaryCPU > 0 {
		rounds := make([]string, len(r.BoundaryCPURounds))
		for i, x := range r.BoundaryCPURounds {
			rounds[i] = fmt.Sprintf("%.2f", x)
		}
		fmt.Fprintf(w, "subprocess / in-process: CPU per event %.2f× (by round: %s), events/s %.2f×, "+
			"tree PSS %.2f×\n", r.BoundaryCPU, strings.Join(rounds, ", "), r.BoundaryRate, r.BoundaryPSS)
	}
	if r.Linear > 0 {
		fmt.Fprintf(w, "10× events / 1×: CPU %.2f× (linear: 10×), tree PSS %.2f× (flat: 1×)\n", r.Linear, r.LinearPSS)
	}
	if r.TenantsCPU > 0 {
		fmt.Fprintf(w, "100 tenants / 1: CPU per event %.2f×, events/s %.2f×\n", r.TenantsCPU, r.TenantsRate)
	}
	if r.ESTenantsCPU > 0 {
		fmt.Fprintf(w, "100 tenants / 1, elasticsearch: CPU per event %.2f×, events/s %.2f×\n", r.ESTenantsCPU, r.ESTenantsRate)
	}
	if r.ESOverFile > 0 {
		fmt.Fprintf(w, "elasticsearch / file output: CPU per event %.2f×\n", r.ESOverFile)
	}
	if r.OutagePSS > 0 {
		fmt.Fprintf(w, "es-outage / elasticsearch: tree PSS %.2f× (bounded: about 1×)\n", r.OutagePSS)
	}
}

// Target is one goal of the performance issue and how this run did.
type Target struct {
	Goal string  `json:"goal"`
	Got  string  `json:"got"`
	Met  bool    `json:"met"`
	Gap  float64 `json:"factor_to_go,omitempty"`
}

// Tolerance for "no slower" and "linear" on a shared, noisy machine.
const noise = 0.10

func targets(sums []Summary, r Ratios) []Target {
	var out []Target
	sub := find(sums, "subprocess")
	if sub != nil {
		t := Target{Goal: "≥100,000 events per CPU-second, file → corelight → file, subprocesses",
			Got: fmt.Sprintf("%.0f events per CPU-second", sub.EventsPerCPUSec),
			Met: sub.EventsPerCPUSec >= 100_000}
		if !t.Met && sub.EventsPerCPUSec > 0 {
			t.Gap = 100_000 / sub.EventsPerCPUSec
		}
		out = append(out, t)
	}
	if r.BoundaryCPU > 0 {
		out = append(out, Target{Goal: "process boundary ≤15 % of in-process CPU",
			Got: fmt.Sprintf("+%.0f %% CPU per event", 100*(r.BoundaryCPU-1)),
			Met: r.BoundaryCPU <= 1.15})
	}
	if sub != nil {
		peak := 0.0
		for _, s := range sums {
			if !s.Scenario.InProcess {
				peak = max(peak, s.PeakPSSMB)
			}
		}
		out = append(out, Target{Goal: "whole-tree PSS ≤100 MB (subprocess scenarios)",
			Got: fmt.Sprintf("%.0f MB at most (subprocess: %.0f MB)", peak, sub.PeakPSSMB),
			Met: peak <= 100})
	}
	if r.Linear > 0 {
		out = append(out, Target{Goal: fmt.Sprintf("10× events cost 10× CPU (within %.0f %%)", 100*noise),
			Got: fmt.Sprintf("%.2f×", r.Linear), Met: r.Linear <= 10*(1+noise)})
	}
	if r.TenantsCPU > 0 {
		out = append(out, Target{Goal: fmt.Sprintf("100 tenants no slower than 1, file output (within %.0f %%)", 100*noise),
			Got: fmt.Sprintf("CPU per event %.2f×, events/s %.2f×", r.TenantsCPU, r.TenantsRate),
			Met: r.TenantsCPU <= 1+noise})
	}
	if r.ESTenantsCPU > 0 {
		out = append(out, Target{Goal: fmt.Sprintf("100 tenants no slower than 1, Elasticsearch (within %.0f %%)", 100*noise),
			Got: fmt.Sprintf("CPU per event %.2f×, events/s %.2f×", r.ESTenantsCPU, r.ESTenantsRate),
			Met: r.ESTenantsCPU <= 1+noise})
	}
	return out
}

func printTargets(w io.Writer, ts []Target) {
	for _, t := range ts {
		verdict := "met"
		if !t.Met {
			verdict = "NOT met"
			if t.Gap > 0 {
				verdict += fmt.Sprintf(" (%.1f× to go)", t.Gap)
			}
		}
		fmt.Fprintf(w, "target %-62s %-8s %s\n", t.Goal+":", verdict, t.Got)
	}
}
