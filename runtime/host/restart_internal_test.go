package host

import (
	"testing"
	"time"
)

func TestRestartWaitGrowsInACrashLoopAndStartsOverAfterACalm(t *testing.T) {
	var p part
	t0 := time.Unix(1_000_000, 0)
	now := t0
	var waits []time.Duration
	for range 60 { // a process that dies at once, 60 times
		p.started = now
		now = now.Add(time.Second)
		waits = append(waits, p.restartWait(now))
	}
	if waits[0] != 100*time.Millisecond || waits[9] != time.Second || waits[59] != maxRestartWait {
		t.Fatalf("waits in a crash loop: first %v, 10th %v, 60th %v; want 100ms, 1s, %v",
			waits[0], waits[9], waits[59], maxRestartWait)
	}
	// It then runs for an hour before dying again: a new incident.
	p.started = now
	now = now.Add(time.Hour)
	if w := p.restartWait(now); w != 100*time.Millisecond {
		t.Fatalf("restart after an hour of running waits %v, want 100ms", w)
	}
	if p.restarts != 61 {
		t.Fatalf("restarts counted %d, want 61", p.restarts)
	}
}
