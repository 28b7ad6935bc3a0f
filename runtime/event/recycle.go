package event

// Recycler hands the objects of finished events to the events after them.
// An event is a tree of maps, and the small objects a flow creates while
// it maps fields (source, destination, event, ecs, the per-log objects)
// are most of what it allocates; reusing them spares the allocator and,
// more, the collector, which otherwise sweeps them up a few events later.
//
// Only objects the event made itself are reused: those the decoder read
// from the record and those Set, SetMeta and Meta created on the way to a
// field. A value a step stored (a constant, a lookup result) is never
// taken, and nothing outside the event may keep a reference to one of its
// objects once Release is called. Steps hold to this already: a filter
// must not retain an event's values after Apply returns, and the filters
// that write stored values write copies of them.
//
// A Recycler is not safe for concurrent use; like the chain that owns it,
// it serves one event at a time.
type Recycler struct {
	small  []map[string]any
	top    map[string]any
	events []*Event
}

// recycleSmall is the most keys an object may hold when released for it
// to be kept: Go makes a map of up to eight keys as one group of slots,
// and a larger one as a table that clearing does not shrink, which would
// then serve a two-key object at the cost of walking the whole table
// whenever the object is encoded.
const recycleSmall = 8

// recycleTop is the most keys a record's top level may have had for its
// map to be kept for the next record.
const recycleTop = 48

// recycleKeep bounds the objects kept; one event at a time needs a few
// dozen.
const recycleKeep = 1024

// Decode is event.Decode, with the event's objects taken from r where it
// has them and recorded so that Release can take them back.
func (r *Recycler) Decode(data []byte) (*Event, error) {
	d := newDecoder(data)
	defer d.release()
	d.rec = r
	e := r.event()
	d.owned = e.owned
	m, err := d.document()
	e.owned = d.owned
	if err != nil {
		r.Release(e)
		return nil, err
	}
	delete(m, MetadataKey) // see Decode
	e.fields = m
	e.topKeys = d.topKeys
	return e, nil
}

func (r *Recycler) event() *Event {
	if n := len(r.events); n > 0 {
		e := r.events[n-1]
		r.events[n-1] = nil
		r.events = r.events[:n-1]
		return e
	}
	return &Event{rec: r}
}

// object returns an empty map for an object of at most a few keys.
func (r *Recycler) object() map[string]any {
	if n := len(r.small); n > 0 {
		m := r.small[n-1]
		r.small[n-1] = nil
		r.small = r.small[:n-1]
		return m
	}
	return make(map[string]any, 4)
}

// topLevel returns an empty map for a record's top level of n keys.
func (r *Recycler) topLevel(n int) map[string]any {
	if m := r.top; m != nil && n <= recycleTop {
		r.top = nil
		return m
	}
	return make(map[string]any, n+topLevelRoom)
}

// Release takes back the objects e made, emptied, and e itself. Neither e
// nor any object in it may be used afterwards. An event that did not come
// from r's Decode, or whose contents were replaced wholesale, is left to
// the collector.
func (r *Recycler) Release(e *Event) {
	if e == nil || e.rec != r {
		return
	}
	if m := e.fields; m != nil && e.topKeys > 0 && e.topKeys <= recycleTop && r.top == nil {
		clear(m)
		r.top = m
	}
	for i, m := range e.owned {
		if len(m) <= recycleSmall && len(r.small) < recycleKeep {
			clear(m)
			r.small = append(r.small, m)
		}
		e.owned[i] = nil
	}
	owned := e.owned[:0]
	*e = Event{rec: r, owned: owned}
	if len(r.events) < recycleKeep {
		r.events = append(r.events, e)
	}
}

// newObject makes an object that Set or Meta is about to place in e.
func (e *Event) newObject() map[string]any {
	if e.rec == nil {
		return make(map[string]any, 4)
	}
	m := e.rec.object()
	e.owned = append(e.owned, m)
	return m
}
