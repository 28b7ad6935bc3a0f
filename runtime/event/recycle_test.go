package event

import (
	"testing"
)

// encodeOrFail encodes ev with its metadata, so leftovers there show too.
func encodeOrFail(t *testing.T, ev *Event) string {
	t.Helper()
	b, err := ev.EncodeWithMetadata(nil)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRecyclerGivesEachEventEmptyObjects(t *testing.T) {
	var r Recycler
	first := []byte(`{"a":{"x":1,"y":2},"b":{"c":{"d":true}},"n":3}`)
	ev, err := r.Decode(first)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"source.ip", "source.port", "event.kind", "zeek.conn.state", "b.c.e"} {
		if err := ev.Set(MustPath(p), "from the first event"); err != nil {
			t.Fatal(err)
		}
	}
	ev.SetMeta("tenant", "first")
	r.Release(ev)

	// The second record has other keys at the same places: nothing of the
	// first may show through, whatever object it is given.
	second := []byte(`{"a":{"z":9},"b":{"c":{}},"m":4}`)
	ev, err = r.Decode(second)
	if err != nil {
		t.Fatal(err)
	}
	if err := ev.Set(MustPath("source.port"), int64(53)); err != nil {
		t.Fatal(err)
	}
	want := `{"@metadata":{"tenant":"second"},"a":{"z":9},"b":{"c":{}},"m":4,"source":{"port":53}}`
	ev.SetMeta("tenant", "second")
	if got := encodeOrFail(t, ev); got != want {
		t.Fatalf("second event:\n got %s\nwant %s", got, want)
	}
	r.Release(ev)

	// And a record that matches the first in shape still starts empty.
	ev, err = r.Decode([]byte(`{"n":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := encodeOrFail(t, ev); got != `{"n":1}` {
		t.Fatalf("third event: %s", got)
	}
}

func TestRecyclerNeverTakesValuesAStepStored(t *testing.T) {
	var r Recycler
	// A step's constant, stored as a value (steps store copies, but the
	// recycler must not depend on that).
	constant := map[string]any{"k": "v"}
	ev, err := r.Decode([]byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := ev.Set(MustPath("labels.site"), constant); err != nil {
		t.Fatal(err)
	}
	r.Release(ev)
	if len(constant) != 1 || constant["k"] != "v" {
		t.Fatalf("a stored value was emptied: %v", constant)
	}
}

func TestRecyclerLeavesForeignAndReplacedEventsAlone(t *testing.T) {
	var r, other Recycler
	plain, err := Decode([]byte(`{"a":{"b":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	r.Release(plain) // not from r: must be left as it is
	if got := encodeOrFail(t, plain); got != `{"a":{"b":1}}` {
		t.Fatalf("a plain event was changed: %s", got)
	}
	ev, err := other.Decode([]byte(`{"a":{"b":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	r.Release(ev) // another recycler's
	if got := encodeOrFail(t, ev); got != `{"a":{"b":1}}` {
		t.Fatalf("another recycler's event was changed: %s", got)
	}
	// Replaced wholesale, as the chain does with a document it cannot
	// write: the replacement's objects are not the recycler's.
	*ev = *plain
	other.Release(ev)
	if got := encodeOrFail(t, plain); got != `{"a":{"b":1}}` {
		t.Fatalf("a replacement's objects were taken: %s", got)
	}
}

func TestRecyclerDecodeErrors(t *testing.T) {
	var r Recycler
	for _, in := range []string{`{"a":{"b":1}`, `[1]`, `{"a":1} x`, ``} {
		if ev, err := r.Decode([]byte(in)); err == nil {
			t.Errorf("%q: no error, got %v", in, ev)
		}
	}
	// After failures the recycler still serves whole events.
	ev, err := r.Decode([]byte(`{"a":{"b":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := encodeOrFail(t, ev); got != `{"a":{"b":1}}` {
		t.Fatalf("after errors: %s", got)
	}
}

func BenchmarkRecycler(b *testing.B) {
	rec := []byte(`{"ts":1.5,"uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":5353,"proto":"udp","conn_state":"S0"}`)
	paths := []Path{MustPath("source.ip"), MustPath("source.port"), MustPath("event.kind"),
		MustPath("network.transport"), MustPath("zeek.connection.state")}
	b.Run("plain", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ev, _ := Decode(rec)
			for _, p := range paths {
				_ = ev.Set(p, "x")
			}
		}
	})
	b.Run("recycled", func(b *testing.B) {
		b.ReportAllocs()
		var r Recycler
		for b.Loop() {
			ev, _ := r.Decode(rec)
			for _, p := range paths {
				_ = ev.Set(p, "x")
			}
			r.Release(ev)
		}
	})
}
