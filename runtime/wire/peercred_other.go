//go:build !linux

package wire

import "google.golang.org/grpc/credentials"

// peerChecked is false where the kernel cannot be asked who is at the
// other end of a socket the way Linux answers it: host and plugins use
// go-plugin's automatic mutual TLS there.
const peerChecked = false

// peerCreds is never used where peerChecked is false.
type peerCreds struct {
	credentials.TransportCredentials
}
