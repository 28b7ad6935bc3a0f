//go:build !unix

package file

import "os"

// openFileLimit returns 0: the limit on open descriptors is not known here.
func openFileLimit() uint64 { return 0 }

// unlinked returns false: a deleted open file is not detected here.
func unlinked(*os.File) bool { return false }
