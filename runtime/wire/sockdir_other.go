//go:build !unix

package wire

// socketDir returns "": plugins do not use Unix sockets here.
func socketDir() (string, error) { return "", nil }

// RemoveSocketDir does nothing here.
func RemoveSocketDir() {}
