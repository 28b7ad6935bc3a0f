package host

import (
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/mdrsflow/mdrsflow/sdk"
)

// Stats counts a flow's events. Every event read ends in exactly one of:
// delivered (normal, failed or quarantined, per output and target),
// dropped on purpose by a filter, rejected into the dead-letter queue, or
// still in flight.
type Stats struct {
	in, dropped    atomic.Uint64
	acked          atomic.Uint64 // events of batches their input acknowledged
	superseded     atomic.Uint64 // events delivered after their input restarted, read again
	retries        atomic.Uint64
	pluginRestarts atomic.Uint64

	mu      sync.Mutex
	targets map[targetKey]*targetCount

	// Elapsed is the run's wall time, set when Run returns.
	Elapsed time.Duration
}

type targetKey struct{ output, target, tenant string }

// targetCount is one output/target line of the summary.
type targetCount struct {
	Out, Failed, Quarantined, Rejected uint64
}

func newStats() *Stats { return &Stats{targets: map[targetKey]*targetCount{}} }

func (s *Stats) addIn(n int)      { s.in.Add(uint64(n)) }
func (s *Stats) addDropped(n int) { s.dropped.Add(uint64(n)) }

func (s *Stats) line(output string, rec sdk.Record) *targetCount {
	k := targetKey{output, rec.Routes[0].Target, rec.Tenant}
	c := s.targets[k]
	if c == nil {
		c = &targetCount{}
		s.targets[k] = c
	}
	return c
}

func (s *Stats) addDelivered(output string, rec sdk.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.line(output, rec)
	switch {
	case rec.Quarantine != "":
		c.Quarantined++
	case rec.Error != "":
		c.Failed++
	default:
		c.Out++
	}
}

// addUnrouted counts a record no output took, kept in the dead-letter
// queue; it shows under the output "(no output)".
func (s *Stats) addUnrouted(rec sdk.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := targetKey{"(no output)", "(dead-letter queue)", rec.Tenant}
	c := s.targets[k]
	if c == nil {
		c = &targetCount{}
		s.targets[k] = c
	}
	c.Rejected++
}

func (s *Stats) addRejected(output string, rec sdk.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.line(output, rec).Rejected++
}

// Totals sums the counters.
type Totals struct {
	In, Out, Failed, Quarantined, Dropped, Rejected, Retries, PluginRestarts uint64
	// Acked is the events of the batches acknowledged to their input;
	// Superseded those delivered after their input had restarted, which
	// it read again (and In counted again). In - Acked - Superseded were
	// still in flight when the run ended.
	Acked, Superseded uint64
}

// Totals returns the sums over every output and target.
func (s *Stats) Totals() Totals {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := Totals{In: s.in.Load(), Dropped: s.dropped.Load(), Retries: s.retries.Load(),
		PluginRestarts: s.pluginRestarts.Load(), Acked: s.acked.Load(),
		Superseded: s.superseded.Load()}
	for _, c := range s.targets {
		t.Out += c.Out
		t.Failed += c.Failed
		t.Quarantined += c.Quarantined
		t.Rejected += c.Rejected
	}
	return t
}

// TargetLine is the counts of one output, target and tenant.
type TargetLine struct {
	Output, Target, Tenant             string
	Out, Failed, Quarantined, Rejected uint64
}

// Targets returns a copy of the per-target counts.
func (s *Stats) Targets() []TargetLine {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]TargetLine, 0, len(s.targets))
	for k, c := range s.targets {
		out = append(out, TargetLine{Output: k.output, Target: k.target, Tenant: k.tenant,
			Out: c.Out, Failed: c.Failed, Quarantined: c.Quarantined, Rejected: c.Rejected})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Output != b.Output {
			return a.Output < b.Output
		}
		if a.Target != b.Target {
			return a.Target < b.Target
		}
		return a.Tenant < b.Tenant
	})
	return out
}

// Print writes the end-of-run summary: one line per output and target,
// then the totals.
func (s *Stats) Print(w io.Writer) {
	// Lines of one output and target are summed over tenants here; the
	// target name carries the tenant already.
	type key struct{ output, target string }
	sums := map[key]*TargetLine{}
	var order []key
	for _, l := range s.Targets() {
		k := key{l.Output, l.Target}
		if sums[k] == nil {
			sums[k] = &TargetLine{Output: l.Output, Target: l.Target}
			order = append(order, k)
		}
		c := sums[k]
		c.Out += l.Out
		c.Failed += l.Failed
		c.Quarantined += l.Quarantined
		c.Rejected += l.Rejected
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "output\ttarget\tout\tfailed\tquarantined\tdead-lettered")
	for _, k := range order {
		c := sums[k]
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\n", c.Output, c.Target, c.Out, c.Failed, c.Quarantined, c.Rejected)
	}
	tw.Flush()
	t := s.Totals()
	fmt.Fprintf(w, "events in: %d  out: %d  failed: %d  quarantined: %d  dropped: %d  dead-lettered: %d",
		t.In, t.Out, t.Failed, t.Quarantined, t.Dropped, t.Rejected)
	if s.Elapsed > 0 {
		fmt.Fprintf(w, "  in %s (%.0f events/s)", s.Elapsed.Round(time.Millisecond),
			float64(t.In)/s.Elapsed.Seconds())
	}
	fmt.Fprintln(w)
	if t.Superseded > 0 {
		fmt.Fprintf(w, "read twice: an input restarted and read again from its last saved position, "+
			"so some events are counted twice above and were delivered twice (Elasticsearch "+
			"overwrites the repeats by document id; files hold them twice); at least %d of them "+
			"were delivered before the restart\n", t.Superseded)
	}
	if t.In > t.Acked+t.Superseded {
		fmt.Fprintf(w, "in flight (read, not yet acknowledged): %d (an input that keeps "+
			"positions reads them again at the next start)\n", t.In-t.Acked-t.Superseded)
	}
	if t.PluginRestarts > 0 || t.Retries > 0 {
		fmt.Fprintf(w, "plugin restarts: %d  record retries: %d\n", t.PluginRestarts, t.Retries)
	}
}

// NewStatsForTest returns empty counters, for tests of code that reads
// them.
func NewStatsForTest() *Stats { return newStats() }
