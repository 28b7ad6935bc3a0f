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
	if !strings.Contains(b.String(), "in flight (read, not yet acknowledged): 6 ") {
		t.Errorf("summary:\n%s", b.String())
	}
}

// Events delivered after their input restarted were read again by the
// restarted input and counted in again; they are named as read twice, not
// as in flight.
func TestSummaryNamesEventsReadTwice(t *testing.T) {
	s := newStats()
	s.in.Add(10 + 3) // 3 read, input restarted, the same 3 read again
	s.superseded.Add(3)
	s.acked.Add(10)
	var b strings.Builder
	s.Print(&b)
	out := b.String()
	if !strings.Contains(out, "read twice:") || !strings.Contains(out, "at least 3 of them") {
		t.Errorf("summary does not name the events read twice:\n%s", out)
	}
	if strings.Contains(out, "in flight") {
		t.Errorf("summary calls delivered events in flight:\n%s", out)
	}
}
