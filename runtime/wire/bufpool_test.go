package wire

import "testing"

func TestBufferPoolTier(t *testing.T) {
	for _, c := range []struct{ n, tier int }{
		{0, minTier}, {1, minTier}, {256, minTier}, {257, 9}, {512, 9}, {513, 10},
		{1 << 20, 20}, {1<<20 + 1, 21}, {1 << maxTier, maxTier}, {1<<maxTier + 1, maxTier + 1},
	} {
		if got := tier(c.n); got != c.tier {
			t.Errorf("tier(%d) = %d, want %d", c.n, got, c.tier)
		}
	}
}

func TestBufferPoolGetLength(t *testing.T) {
	p := &bufferPool{}
	for _, n := range []int{0, 1, 255, 256, 257, 1000, 1024, 1025, 65536, 1<<20 + 7} {
		b := p.Get(n)
		if len(*b) != n {
			t.Errorf("Get(%d): length %d", n, len(*b))
		}
		if c := cap(*b); c != 1<<tier(n) {
			t.Errorf("Get(%d): capacity %d, want the tier's %d", n, c, 1<<tier(n))
		}
		p.Put(b)
	}
}

func TestBufferPoolReuse(t *testing.T) {
	p := &bufferPool{}
	// sync.Pool may drop what it is given (a GC in between, or the race
	// detector on purpose), so try a few times.
	for range 20 {
		b := p.Get(1000)
		first := &(*b)[:1][0]
		p.Put(b)
		c := p.Get(700) // the same tier, 1024 bytes
		if c == b && &(*c)[:1][0] == first {
			if len(*c) != 700 {
				t.Fatalf("reused buffer has length %d, want 700", len(*c))
			}
			return
		}
	}
	t.Fatal("a buffer given back with Put was never handed out again for its tier")
}

func TestBufferPoolPutIgnoresForeign(t *testing.T) {
	p := &bufferPool{}
	for _, c := range []struct {
		name string
		buf  []byte
	}{
		{"not a power of two", make([]byte, 1000)},
		{"cut down", make([]byte, 1024)[:1000:1000]},
		{"below the smallest tier", make([]byte, 128)},
	} {
		b := c.buf
		p.Put(&b)
		for range 5 {
			got := p.Get(len(c.buf))
			if got == &b {
				t.Errorf("%s: Put kept a buffer of capacity %d", c.name, cap(c.buf))
			}
			if cp := cap(*got); cp&(cp-1) != 0 {
				t.Errorf("%s: Get handed out a buffer of capacity %d", c.name, cp)
			}
		}
	}
}

func TestBufferPoolTooLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 64 MiB")
	}
	p := &bufferPool{}
	n := 1<<maxTier + 1
	b := p.Get(n)
	if len(*b) != n || cap(*b) != n {
		t.Fatalf("Get(%d): length %d capacity %d, want both %d", n, len(*b), cap(*b), n)
	}
	p.Put(b) // not pooled; must not panic
}
