package host

import (
	"strings"
	"testing"
)

// Events read but not acknowledged when a run ends (a drain that timed
// out, a second signal) are named in the summary, so its numbers add up.
func TestSummaryNamesEventsInFlight(t *testing.T) {
	s := newStats()
	s.in.Add(10)
	s.acked.Add(4)
	var b strings.Builder
	s.Print(&b)
	if !strings.Contains(b.String(), "in flight when the run ended, not acknowledged: 6 ") {
		t.Errorf("summary:\n%s", b.String())
	}
}
