package chain

import (
	"slices"

	"github.com/mdrsflow/mdrsflow/runtime/event"
)

// A flow that maps many log types is a row of `use:` entries, each with an
// `if:` on the same metadata key (`meta("mapping") == "conn"`, then
// "dns", ...), and every event used to test each of them in turn: 26
// conditions for the shipped Corelight transform. A guardRun decides such
// a row with one read of the key and one map lookup.
//
// The row keeps its meaning exactly. Guards are decided in order, and each
// time the chain arrives at a guard of the row it reads the key afresh, so
// a step inside one used file that changes the key is seen by the guards
// after it, as before. A guard is passed over only when its condition is
// false for the value the key holds at that moment.
type guardRun struct {
	key string
	// guards are the step indices of the row's guards, in order.
	guards []int
	// at lists, for each value, the positions in guards whose condition
	// holds for it, ascending.
	at map[string][]int
	// end is the step index after the last guard's steps.
	end int
}

// minGuardRun is the shortest row worth a lookup instead of the
// conditions themselves.
const minGuardRun = 3

// planGuards finds the rows of guards on one metadata key: guards where
// each starts right after the steps of the one before.
func (c *Chain) planGuards() {
	type test struct {
		key    string
		values []string
	}
	tests := make([]*test, len(c.steps))
	for i := range c.steps {
		s := &c.steps[i]
		if s.filter != nil || s.cond == nil {
			continue
		}
		if k, vs, ok := s.cond.MetaTest(); ok {
			tests[i] = &test{k, vs}
		}
	}
	for i := 0; i < len(c.steps); {
		t := tests[i]
		if t == nil {
			i++
			continue
		}
		r := &guardRun{key: t.key, at: map[string][]int{}}
		j := i
		for j < len(c.steps) && tests[j] != nil && tests[j].key == t.key {
			pos := len(r.guards)
			r.guards = append(r.guards, j)
			for _, v := range tests[j].values {
				if ps := r.at[v]; len(ps) == 0 || ps[len(ps)-1] != pos {
					r.at[v] = append(ps, pos)
				}
			}
			j += 1 + c.steps[j].spec.Skip
		}
		r.end = j
		if len(r.guards) >= minGuardRun {
			for pos, g := range r.guards {
				c.steps[g].run, c.steps[g].pos = r, pos
			}
			i = j
			continue
		}
		i++
	}
}

// next returns the index of the step to go on with from the guard at
// position pos: the first step of the first guard from pos on whose
// condition holds, or the step after the row when none does. ok is false
// when the metadata is not an object, which the guard's own condition
// must then judge.
func (r *guardRun) next(ev *event.Event, pos int) (int, bool) {
	var v any
	if raw, present := ev.Fields()[event.MetadataKey]; present {
		m, isMap := raw.(map[string]any)
		if !isMap {
			return 0, false
		}
		v = m[r.key]
	}
	s, isString := v.(string)
	if !isString {
		return r.end, true
	}
	ps := r.at[s]
	k, _ := slices.BinarySearch(ps, pos)
	if k == len(ps) {
		return r.end, true
	}
	return r.guards[ps[k]] + 1, true
}
