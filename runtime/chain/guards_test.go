package chain

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	_ "github.com/mdrsflow/mdrsflow/plugins/filters/set"
	"github.com/mdrsflow/mdrsflow/runtime/event"
	"github.com/mdrsflow/mdrsflow/sdk"
)

// layout builds random chains of guards on meta("mapping"), some nested,
// some on another key, with steps that mark that they ran and steps that
// change the mapping in the middle of a row.
type layout struct {
	r     *rand.Rand
	steps []StepSpec
}

var mappings = []string{"a", "b", "c", "d"}

func (l *layout) cond() string {
	key := "mapping"
	if l.r.IntN(8) == 0 {
		key = "other"
	}
	switch l.r.IntN(4) {
	case 0:
		return fmt.Sprintf(`meta(%q) in [%q, %q]`, key, mappings[l.r.IntN(4)], mappings[l.r.IntN(4)])
	case 1:
		return fmt.Sprintf(`%q == meta(%q)`, mappings[l.r.IntN(4)], key)
	case 2:
		if l.r.IntN(3) == 0 { // not a selector: evaluated as written
			return fmt.Sprintf(`meta(%q) != %q`, key, mappings[l.r.IntN(4)])
		}
	}
	return fmt.Sprintf(`meta(%q) == %q`, key, mappings[l.r.IntN(4)])
}

func (l *layout) step() {
	n := len(l.steps)
	settings := fmt.Sprintf("fields:\n  ran.s%d: true\n", n)
	if l.r.IntN(5) == 0 {
		settings += fmt.Sprintf("  \"@metadata.mapping\": %s\n", mappings[l.r.IntN(4)])
	}
	l.steps = append(l.steps, StepSpec{Name: "set", ID: fmt.Sprintf("set-%d", n),
		Where: fmt.Sprintf("test:%d", n), Settings: settings})
}

// block appends either a plain step or a guard with the steps it guards.
func (l *layout) block(depth int) {
	if l.r.IntN(6) == 0 {
		l.step()
		return
	}
	g := len(l.steps)
	l.steps = append(l.steps, StepSpec{ID: fmt.Sprintf("guard-%d", g),
		Where: fmt.Sprintf("test:%d", g), If: l.cond()})
	for range 1 + l.r.IntN(3) {
		if depth < 2 && l.r.IntN(4) == 0 {
			l.block(depth + 1)
		} else {
			l.step()
		}
	}
	l.steps[g].Skip = len(l.steps) - g - 1
}

func build(t *testing.T, steps []StepSpec) *Chain {
	t.Helper()
	c, err := Build(context.Background(), Spec{Flow: "guards", Steps: steps},
		sdk.Env{Logger: slog.New(slog.DiscardHandler), Flow: "guards"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// A row of guards decided by one lookup runs exactly the steps that
// testing each guard in turn runs, including when a step in the row
// changes the key the row tests.
func TestGuardRunsMatchConditions(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	events := []func() *event.Event{
		func() *event.Event { return event.New() },
		func() *event.Event { ev := event.New(); ev.SetMeta("mapping", int64(3)); return ev },
		func() *event.Event { ev := event.New(); ev.SetMeta("mapping", "zzz"); return ev },
		func() *event.Event { ev := event.New(); ev.Fields()[event.MetadataKey] = "not an object"; return ev },
	}
	for _, m := range mappings {
		events = append(events, func() *event.Event {
			ev := event.New()
			ev.SetMeta("mapping", m)
			ev.SetMeta("other", mappings[(len(m)+int(m[0]))%4])
			return ev
		})
	}

	rows, decided := 0, 0
	for n := range 300 {
		l := &layout{r: r}
		for range 2 + r.IntN(10) {
			l.block(0)
		}
		fast := build(t, l.steps)
		slow := build(t, l.steps)
		for i := range slow.steps {
			slow.steps[i].run = nil
		}
		seen := map[*guardRun]bool{}
		for _, s := range fast.steps {
			if s.run != nil && !seen[s.run] {
				seen[s.run] = true
				rows++
			}
		}
		for e, mk := range events {
			a, b := mk(), mk()
			keepA, failA := fast.ProcessEvent(a)
			keepB, failB := slow.ProcessEvent(b)
			if keepA != keepB || failA != failB || !reflect.DeepEqual(a.Fields(), b.Fields()) {
				var specs strings.Builder
				for i, s := range l.steps {
					fmt.Fprintf(&specs, "  %d %s if=%q skip=%d %q\n", i, s.ID, s.If, s.Skip, s.Settings)
				}
				t.Fatalf("layout %d, event %d: with rows %v %q %v, one by one %v %q %v\n%s",
					n, e, keepA, failA, a.Fields(), keepB, failB, b.Fields(), specs.String())
			}
			if len(seen) > 0 {
				decided++
			}
		}
	}
	// Otherwise this compared the conditions with themselves.
	if rows < 100 || decided < 500 {
		t.Fatalf("only %d rows formed, %d events through them: the layouts do not exercise the lookup", rows, decided)
	}
	t.Logf("%d rows, %d events through chains with rows", rows, decided)
}

// The shipped transform's use: entries become one row.
func TestMetaTestRecognisesSelectors(t *testing.T) {
	steps := []StepSpec{
		{ID: "g0", Where: "t:1", If: `meta("mapping") == "conn"`, Skip: 1},
		{Name: "set", ID: "s1", Where: "t:2", Settings: "fields:\n  x: 1\n"},
		{ID: "g2", Where: "t:3", If: `meta("mapping") in ["smb_files", "smb_mapping"]`, Skip: 1},
		{Name: "set", ID: "s3", Where: "t:4", Settings: "fields:\n  y: 1\n"},
		{ID: "g4", Where: "t:5", If: `"dns" == meta("mapping")`, Skip: 1},
		{Name: "set", ID: "s5", Where: "t:6", Settings: "fields:\n  z: 1\n"},
		{ID: "g6", Where: "t:7", If: `meta("mapping") == "http" && proto == "tcp"`, Skip: 1},
		{Name: "set", ID: "s7", Where: "t:8", Settings: "fields:\n  w: 1\n"},
	}
	c := build(t, steps)
	for i, want := range []bool{true, false, true, false, true, false, false, false} {
		if got := c.steps[i].run != nil; got != want {
			t.Errorf("step %d (%s): in a row %v, want %v", i, steps[i].If, got, want)
		}
	}
	if r := c.steps[0].run; r == nil || r.end != 6 || len(r.guards) != 3 {
		t.Fatalf("row: %+v", r)
	}
}
