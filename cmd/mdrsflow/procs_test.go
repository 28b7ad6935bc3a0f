package main

import (
	"runtime"
	"testing"
)

func TestHostProcs(t *testing.T) {
	was := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(was) })

	t.Setenv("GOMAXPROCS", "")
	for _, tc := range []struct{ machine, workers, want int }{
		{2, 1, 1}, {2, 4, 1}, {2, 5, 2}, {2, 64, 2}, {16, 8, 2}, {16, 13, 4}, {1, 9, 1},
	} {
		runtime.GOMAXPROCS(tc.machine)
		hostProcs(tc.workers)
		if got := runtime.GOMAXPROCS(0); got != tc.want {
			t.Errorf("%d processors, %d workers: host on %d, want %d", tc.machine, tc.workers, got, tc.want)
		}
	}

	// An operator's GOMAXPROCS stands.
	t.Setenv("GOMAXPROCS", "2")
	runtime.GOMAXPROCS(2)
	hostProcs(1)
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Errorf("GOMAXPROCS=2 in the environment: host on %d", got)
	}
}
