package main

import (
	"runtime"
	"testing"
)

// A plugin process serves one batch at a time, so it runs on one processor
// unless the operator sets GOMAXPROCS, which then wins.
func TestPluginProcessProcessors(t *testing.T) {
	was := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(was) })

	runtime.GOMAXPROCS(3)
	t.Setenv("GOMAXPROCS", "")
	pluginProcs()
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("GOMAXPROCS unset: plugin process runs on %d processors, want 1", got)
	}

	runtime.GOMAXPROCS(3)
	t.Setenv("GOMAXPROCS", "3")
	pluginProcs()
	if got := runtime.GOMAXPROCS(0); got != 3 {
		t.Errorf("GOMAXPROCS=3 in the environment: plugin process runs on %d processors, want 3", got)
	}
}
