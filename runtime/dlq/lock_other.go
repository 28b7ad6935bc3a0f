//go:build !unix

package dlq

import "os"

// tryLock does nothing where flock does not exist.
//
// Limitation: without flock, `mdrsflow dlq replay` cannot tell which file
// a running flow appends to — replaying while the flow runs may then lose
// letters written meanwhile; stop the flow before replaying there.
func tryLock(*os.File) error { return nil }
