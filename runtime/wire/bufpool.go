package wire

import (
	"math/bits"
	"sync"

	"google.golang.org/grpc/experimental"
	"google.golang.org/grpc/mem"
)

// bufferPool is the pool gRPC reads messages and frames into. gRPC's
// default has tiers up to 1 MiB and clears every buffer it hands out; a
// batch is often larger (a thousand ECS documents are about 1.3 MB), so
// each message fell through to a fresh, zeroed allocation, and every
// smaller one cleared a whole tier. This pool has a tier for every power
// of two up to maxPooled and does not clear: gRPC fills the length it asks
// for before reading it, and both ends of the connection are this program.
type bufferPool struct {
	tiers [maxTier + 1]sync.Pool
}

const (
	minTier = 8  // 256 bytes
	maxTier = 26 // 64 MiB; larger messages are allocated and dropped
)

var sharedBuffers = &bufferPool{}

// The pool is gRPC's default for every connection and for the protobuf
// codec's send buffers, which no per-connection option reaches.
func init() { experimental.SetDefaultBufferPool(sharedBuffers) }

// tier returns the smallest tier that holds n bytes.
func tier(n int) int {
	if n <= 1<<minTier {
		return minTier
	}
	return bits.Len(uint(n - 1))
}

func (p *bufferPool) Get(n int) *[]byte {
	t := tier(n)
	if t > maxTier {
		b := make([]byte, n)
		return &b
	}
	if b, ok := p.tiers[t].Get().(*[]byte); ok {
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n, 1<<t)
	return &b
}

func (p *bufferPool) Put(b *[]byte) {
	c := cap(*b)
	if c < 1<<minTier || c&(c-1) != 0 {
		return // not one of ours (or cut down): let the GC have it
	}
	t := bits.Len(uint(c)) - 1
	if t > maxTier {
		return
	}
	*b = (*b)[:0]
	p.tiers[t].Put(b)
}

var _ mem.BufferPool = (*bufferPool)(nil)
