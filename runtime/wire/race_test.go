//go:build race

package wire

// The race detector's instrumentation allocates where a normal build
// does not, so allocation counts are not checked under it.
func init() { raceEnabled = true }
