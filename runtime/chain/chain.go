// Package chain runs a fused run of built-in filters over batches: it
// decodes each record once, applies every step, routes the event to its
// outputs and targets, and encodes it once. A chain runs in the host
// (in-process mode, `mdrsflow pipe`) or in a filter subprocess; it behaves
// the same in both.
//
//	record bytes ─► decode ─► step 1 … step n ─► expand dotted keys ─► route ─► encode
//	                  │            │ error: fail ──────────────────────┘ (failures target)
//	                  └─ invalid JSON ─────────────────────────────────► (quarantine target)
package chain

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mdrsflow/mdrsflow/runtime/event"
	"github.com/mdrsflow/mdrsflow/runtime/expr"
	"github.com/mdrsflow/mdrsflow/sdk"
)

// Spec is everything a process needs to build a chain. It travels to
// filter subprocesses as JSON.
type Spec struct {
	Flow  string     `json:"flow"`
	Steps []StepSpec `json:"steps"`
	// Router is set on the last chain of a flow, which routes events.
	Router *RouterSpec `json:"router,omitempty"`
}

// StepSpec is one filter of the chain.
type StepSpec struct {
	Name     string `json:"name"`
	ID       string `json:"id"`
	Where    string `json:"where"` // file:line of the entry, for errors
	If       string `json:"if,omitempty"`
	OnError  string `json:"on_error,omitempty"`
	Settings string `json:"settings,omitempty"` // YAML
	// Skip > 0 (with Name "") makes a guard: when If is false, the next
	// Skip steps are passed over. A `use:` with `if:` becomes one.
	Skip int `json:"skip,omitempty"`
}

// RouterSpec says where events go.
type RouterSpec struct {
	Outputs []RouteSpec `json:"outputs"`
}

// RouteSpec is one output's condition and templates, with the flow's
// defaults already filled in.
type RouteSpec struct {
	ID         string `json:"id"`
	When       string `json:"when,omitempty"`
	Target     string `json:"target"`
	Failures   string `json:"failures"`
	Quarantine string `json:"quarantine"`
}

// Stats counts what a chain did. Read it with Chain.Stats.
type Stats struct {
	In, Failed, Quarantined, Dropped, Tagged uint64
}

// Chain is a built chain. Process may be called from one goroutine at a
// time.
type Chain struct {
	spec   Spec
	steps  []step
	router *router
	stats  struct{ in, failed, quarantined, dropped, tagged atomic.Uint64 }
	now    func() time.Time
	buf    []byte
	// decided is the current event's tenant as a tenant step set it.
	decided string
	// recycler keeps the objects of each finished event for the next.
	recycler event.Recycler
}

// tenantStep is the one filter allowed to set an event's tenant.
const tenantStep = "tenant"

type step struct {
	spec   StepSpec
	filter sdk.Filter
	cond   *expr.Program
	tag    string
	// run, when set, decides this guard and the ones after it in one
	// lookup; pos is this guard's place in run.guards.
	run *guardRun
	pos int
}

// Build constructs every step from the registry, validates and starts it.
// On error, the steps already started are closed.
func Build(ctx context.Context, spec Spec, env sdk.Env) (c *Chain, err error) {
	c = &Chain{spec: spec, now: time.Now}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Close())
			c = nil
		}
	}()
	for i, s := range spec.Steps {
		if s.Name == "" {
			if s.Skip < 0 || i+s.Skip >= len(spec.Steps)+1 || s.If == "" {
				return c, fmt.Errorf("%s: %s: a guard needs a condition and steps to guard", s.Where, s.ID)
			}
			st := step{spec: s}
			if st.cond, err = expr.CompileBool(s.If); err != nil {
				return c, fmt.Errorf("%s: %s: if: %w", s.Where, s.ID, err)
			}
			c.steps = append(c.steps, st)
			continue
		}
		reg, ok := sdk.Lookup(sdk.KindFilter, s.Name)
		if !ok {
			return c, fmt.Errorf("%s: no filter plugin %q in this binary", s.Where, s.Name)
		}
		inst := reg.New()
		if err := sdk.DecodeSettingsText([]byte(s.Settings), inst); err != nil {
			return c, fmt.Errorf("%s: %s: %w", s.Where, s.ID, err)
		}
		f, ok := inst.(sdk.Filter)
		if !ok {
			return c, fmt.Errorf("%s: %s: plugin %q is registered as a filter but is not one", s.Where, s.ID, s.Name)
		}
		if v, ok := inst.(sdk.Validator); ok {
			if err := v.Validate(); err != nil {
				return c, fmt.Errorf("%s: %s: %w", s.Where, s.ID, err)
			}
		}
		st := step{spec: s, filter: f, tag: "_" + s.Name + "_failure"}
		c.steps = append(c.steps, st)
		if s.If != "" {
			if st.cond, err = expr.CompileBool(s.If); err != nil {
				return c, fmt.Errorf("%s: %s: if: %w", s.Where, s.ID, err)
			}
			c.steps[len(c.steps)-1].cond = st.cond
		}
		if starter, ok := inst.(sdk.Starter); ok {
			senv := env
			if env.Logger != nil {
				// The chain's logger names the process's flow, plugin
				// (the chain) and kind already; the step is added apart.
				senv.Logger = env.Logger.With("step", s.ID)
			}
			senv.ID = s.ID
			if err := starter.Start(ctx, senv); err != nil {
				return c, fmt.Errorf("%s: %s: start: %w", s.Where, s.ID, err)
			}
		}
	}
	c.planGuards()
	if spec.Router != nil {
		if c.router, err = newRouter(*spec.Router); err != nil {
			return c, err
		}
	}
	return c, nil
}

// Close closes every step that holds resources.
func (c *Chain) Close() error {
	var errs []error
	for _, s := range c.steps {
		if cl, ok := s.filter.(sdk.Closer); ok {
			if err := cl.Close(); err != nil {
				errs = append(errs, fmt.Errorf("%s: close: %w", s.spec.ID, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Stats returns the counters so far.
func (c *Chain) Stats() Stats {
	return Stats{
		In: c.stats.in.Load(), Failed: c.stats.failed.Load(),
		Quarantined: c.stats.quarantined.Load(), Dropped: c.stats.dropped.Load(),
		Tagged: c.stats.tagged.Load(),
	}
}

// Process runs every record of recs through the chain and returns the
// records that go on, in order, and how many were dropped on purpose.
// It reuses recs' backing array. Record Data is replaced by the encoded
// result; nothing in recs is retained after the call.
func (c *Chain) Process(recs []sdk.Record) (out []sdk.Record, dropped int) {
	out = recs[:0]
	for i := range recs {
		rec := recs[i]
		c.stats.in.Add(1)
		if c.processOne(&rec) {
			out = append(out, rec)
			continue
		}
		dropped++
		c.stats.dropped.Add(1)
	}
	return out, dropped
}

// ProcessEvent runs a decoded event through the steps only (no routing,
// no encoding), for `mdrsflow test`-style callers that inspect events.
// It reports whether the event is kept and the failure, if any.
func (c *Chain) ProcessEvent(ev *event.Event) (keep bool, failure string) {
	return c.apply(ev)
}

// processOne handles one record in place; false means dropped.
func (c *Chain) processOne(rec *sdk.Record) bool {
	raw := rec.Data

	// Metadata from an earlier stage of the flow comes back first: the
	// tenant, and the digest of the record as it first arrived, which the
	// document id is made from so that every stage agrees on it.
	var meta map[string]any
	if len(rec.Meta) > 0 {
		if m, err := event.DecodeObject(rec.Meta); err == nil {
			meta = m
		}
	}
	digest, _ := meta[digestKey].(string)
	if digest == "" {
		sum := sha256.Sum256(raw)
		digest = base64.RawURLEncoding.EncodeToString(sum[:])
	}

	// An input that could not make a record of a line says so in Error
	// and sends {"event":{"original":<line>}}; that document is kept as
	// it is, marked failed, and skips the steps.
	failure := rec.Error
	if failure != "" {
		failure = whereOf(rec) + ": " + failure
	}
	// encoded is the document's final bytes once known (see below).
	var encoded []byte
	ev, err := c.recycler.Decode(raw)
	// The event is done with when this returns: its document is
	// encoded into rec.Data, and nothing else keeps it.
	defer c.recycler.Release(ev)
	if err != nil {
		ev = nil
		if failure == "" {
			failure = fmt.Sprintf("%s: cannot read the record as a JSON object: %v", whereOf(rec), err)
		}
	}
	if ev == nil {
		// Unreadable: nobody can say whose it is, so it is quarantined.
		ev = c.failedShell(raw, failure)
		rec.Quarantine = "unreadable record: " + failure
	} else {
		for k, v := range meta {
			ev.SetMeta(k, v)
		}
		if rec.Path != "" {
			ev.SetMeta("path", rec.Path)
		}
		if rec.Source != "" {
			ev.SetMeta("source", rec.Source)
		}
		// The tenant as this record arrived; applyRaw moves it on as
		// tenant steps decide. A record that failed before this chain
		// skips the steps, and holdTenant must then judge it by its own
		// tenant, never by the previous record's.
		c.decided = ev.MetaString("tenant")
		if failure == "" {
			keep, f := c.applyRaw(ev, raw)
			if !keep {
				return false
			}
			failure = f
		}
		c.holdTenant(ev)
		if failure == "" {
			// The document is encoded here, before routing, and is final
			// unless it has a key with a dot, which Expand must rewrite
			// first (routing reads the expanded fields), or routing fails
			// it. Looking for such keys while encoding saves Expand's own
			// walk over the document in the usual case, where there are
			// none.
			data, dotted, err := ev.EncodeDotted(c.buf[:0])
			c.buf = data
			if err == nil && !dotted {
				encoded = data
			} else if err := ev.Expand(); err != nil {
				failure = fmt.Sprintf("%s: the document cannot be written: %v", whereOf(rec), err)
			}
		}
		if failure != "" {
			c.markFailed(ev, raw, failure)
		}
		if q := ev.MetaString("quarantine"); q != "" {
			rec.Quarantine = q
		}
	}

	rec.Tenant = ev.MetaString("tenant")
	rec.Error = failure
	h := sha256.New()
	h.Write([]byte(rec.Tenant))
	h.Write([]byte{0})
	h.Write([]byte(digest))
	var sum [sha256.Size]byte
	rec.ID = base64.RawURLEncoding.EncodeToString(h.Sum(sum[:0])[:16])

	if c.router == nil {
		// Not the last stage: hand the metadata on.
		ev.SetMeta(digestKey, digest)
		rec.Meta, _ = event.AppendValue(rec.Meta[:0], ev.Meta())
	} else {
		rec.Meta = nil
	}
	if c.router != nil {
		c.router.route(ev, rec)
		if rec.Quarantine != "" {
			c.stats.quarantined.Add(1)
			if rec.Error == "" {
				// Quarantined by a step (the tenant filter) or the router:
				// the document explains itself, as a failed one does.
				c.markFailed(ev, raw, rec.Quarantine)
				addTag(ev, "_mdrsflow_quarantine")
			}
		} else if rec.Error != "" {
			c.stats.failed.Add(1)
		}
	}

	data := encoded
	if data == nil || rec.Quarantine != "" || rec.Error != "" {
		// Changed since, or never encoded: encode it now.
		var err error
		data, err = ev.Encode(c.buf[:0])
		if err != nil {
			// A value the encoder cannot write: keep the original instead.
			rec.Error = fmt.Sprintf("%s: cannot encode the result: %v", whereOf(rec), err)
			data, _ = c.failedShell(raw, rec.Error).Encode(c.buf[:0])
		}
		c.buf = data
	}
	rec.Data = append([]byte(nil), data...)
	return true
}

// apply runs the steps; it reports whether to keep the event and, when a
// step failed it for good, why.
func (c *Chain) apply(ev *event.Event) (keep bool, failure string) {
	c.decided = ev.MetaString("tenant")
	return c.applyRaw(ev, nil)
}

// holdTenant quarantines an event whose tenant changed after the last
// tenant step decided it: only the tenant filter may set the tenant, so a
// `set`, `copy` or plugin that writes @metadata.tenant cannot move an
// event into another customer's target.
func (c *Chain) holdTenant(ev *event.Event) {
	if got := ev.MetaString("tenant"); got != c.decided {
		ev.SetMeta("quarantine", fmt.Sprintf("the tenant was changed from %q to %q by a step after the "+
			"tenant filter; only the tenant filter may set it", c.decided, got))
		if c.decided == "" {
			delete(ev.Meta(), "tenant")
		} else {
			ev.SetMeta("tenant", c.decided)
		}
	}
}

// The caller sets c.decided to the tenant the event arrived with (from
// an earlier stage's tenant filter, or none); tenant steps move it on.
func (c *Chain) applyRaw(ev *event.Event, raw []byte) (keep bool, failure string) {
	for i := 0; i < len(c.steps); i++ {
		s := &c.steps[i]
		if s.run != nil {
			if next, ok := s.run.next(ev, s.pos); ok {
				i = next - 1
				continue
			}
		}
		if s.cond != nil {
			ok, err := s.cond.EvalBool(ev)
			if err != nil {
				return true, fmt.Sprintf("%s (%s): if: %v", s.spec.ID, s.spec.Where, err)
			}
			if !ok {
				i += s.spec.Skip
				continue
			}
		}
		if s.filter == nil {
			continue // a guard whose condition held
		}
		err := safeApply(s.filter, ev, raw)
		if s.spec.Name == tenantStep {
			c.decided = ev.MetaString("tenant")
		}
		if err == nil {
			continue
		}
		if errors.Is(err, sdk.ErrDrop) {
			return false, ""
		}
		switch s.spec.OnError {
		case "ignore":
			continue
		case "tag":
			c.stats.tagged.Add(1)
			addTag(ev, s.tag)
			continue
		}
		return true, fmt.Sprintf("%s (%s): %v", s.spec.ID, s.spec.Where, err)
	}
	return true, ""
}

// safeApply turns a panicking step into a failure of that event alone.
func safeApply(f sdk.Filter, ev *event.Event, raw []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("step panicked: %v\n%s", r, firstLines(string(debug.Stack()), 12))
		}
	}()
	if rf, ok := f.(sdk.RawFilter); ok && raw != nil {
		return rf.ApplyRaw(ev, raw)
	}
	return f.Apply(ev)
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// digestKey holds, in metadata between stages, the digest of the record
// as it first arrived.
const digestKey = "_mdrsflow_digest"

var (
	pathErrorMessage = event.MustPath("error.message")
	pathEventKind    = event.MustPath("event.kind")
	pathEventOrig    = event.MustPath("event.original")
	pathTimestamp    = event.MustPath("@timestamp")
	pathTags         = event.MustPath("tags")
)

// markFailed records the failure on the event itself, as an ingest
// pipeline's failure handler does, so the document explains itself.
func (c *Chain) markFailed(ev *event.Event, raw []byte, failure string) {
	f := ev.Fields()
	if err := ev.Set(pathErrorMessage, failure); err != nil {
		// `error` is not an object on this record: move it aside.
		f["_error"] = f["error"]
		delete(f, "error")
		_ = ev.Set(pathErrorMessage, failure)
	}
	if err := ev.Set(pathEventKind, "pipeline_error"); err != nil {
		f["_event"] = f["event"]
		delete(f, "event")
		_ = ev.Set(pathEventKind, "pipeline_error")
	}
	if _, ok := ev.Get(pathEventOrig); !ok && len(raw) > 0 {
		// The record as it reached this chain, so that it can be fixed
		// and sent again; the document beside it is half transformed.
		_ = ev.Set(pathEventOrig, string(raw))
	}
	if _, ok := ev.Get(pathTimestamp); !ok {
		// Data streams refuse documents without @timestamp.
		_ = ev.Set(pathTimestamp, c.now().UTC().Format(time.RFC3339Nano))
	}
	addTag(ev, "_mdrsflow_failure")
	if err := ev.Expand(); err != nil {
		// Still not writable: keep only what explains it.
		orig, _ := ev.Encode(nil) // without @metadata, which is never written
		*ev = *c.failedShell(orig, failure+"; "+err.Error())
	}
}

// failedShell is the document written for a record that could not be
// read at all.
func (c *Chain) failedShell(raw []byte, failure string) *event.Event {
	ev := event.New()
	_ = ev.Set(pathEventOrig, string(raw))
	_ = ev.Set(pathErrorMessage, failure)
	_ = ev.Set(pathEventKind, "pipeline_error")
	_ = ev.Set(pathTimestamp, c.now().UTC().Format(time.RFC3339Nano))
	_ = ev.Set(pathTags, []any{"_mdrsflow_failure"})
	return ev
}

func addTag(ev *event.Event, tag string) {
	v, _ := ev.Get(pathTags)
	switch t := v.(type) {
	case []any:
		for _, x := range t {
			if x == tag {
				return
			}
		}
		_ = ev.Set(pathTags, append(t, tag))
	case string:
		_ = ev.Set(pathTags, []any{t, tag})
	default:
		if err := ev.Set(pathTags, []any{tag}); err != nil {
			ev.Fields()["tags"] = []any{tag}
		}
	}
}

func whereOf(rec *sdk.Record) string {
	if rec.Source != "" {
		return rec.Source
	}
	return "record"
}

// ParseSpec reads a chain spec sent as JSON.
func ParseSpec(b []byte) (Spec, error) {
	var s Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("chain spec: %w", err)
	}
	return s, nil
}

// Marshal encodes the spec for a subprocess.
func (s Spec) Marshal() ([]byte, error) { return json.Marshal(s) }
