// Package host runs a flow: it starts the parts (inputs, filter stages,
// outputs) in plugin subprocesses or in this process, moves batches
// between them, retries what outputs could not deliver yet, sets aside
// what they refuse for good, and acknowledges inputs.
//
//	input ─► queue (bounded) ─► worker: stage 1 … stage n ─► per-output writer ─┐
//	  ▲                                                                          │
//	  └──────────────── Ack(batch) when every output has settled it ◄───────────┘
//
// A batch is settled by an output when each of its records routed there is
// delivered, or rejected for good and written to the dead-letter queue. A
// record that a filter process keeps dying on is found by splitting the
// batch and sent to the quarantine target with the reason, so one poison
// record never stops a flow.
package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mdrsflow/mdrsflow/runtime/chain"
	"github.com/mdrsflow/mdrsflow/runtime/dlq"
	"github.com/mdrsflow/mdrsflow/runtime/flow"
	"github.com/mdrsflow/mdrsflow/runtime/stage"
	"github.com/mdrsflow/mdrsflow/runtime/wire"
	"github.com/mdrsflow/mdrsflow/sdk"
)

// ErrDrainTimeout is returned by Run when a stop could not deliver every
// batch in flight within the drain timeout. Nothing is lost (those
// batches were not acknowledged), but the exit should say so.
var ErrDrainTimeout = errors.New("stopped before every batch in flight was delivered")

// Options control how a flow runs.
type Options struct {
	// InProcess runs every built-in part in this process instead of in
	// plugin subprocesses (benchmarks of the boundary's cost, tests).
	InProcess bool
	// Command makes the command that serves built-in plugins, normally
	// this binary with `plugin serve`. Required unless InProcess.
	Command func() *exec.Cmd
	// DataDir holds positions and dead letters; each part gets a folder.
	DataDir string
	Logger  *slog.Logger
	// QueueBatches bounds the batches waiting between inputs and filters
	// and between the filters and each output (default 2).
	QueueBatches int
	// Workers is how many batches go through the filters at once, each
	// worker with its own filter processes.
	Workers int
	// DrainTimeout bounds how long a stop waits for in-flight batches.
	DrainTimeout time.Duration
	// RetryBase and RetryMax shape the backoff for records an output
	// asks to retry.
	RetryBase, RetryMax time.Duration
	// StageTimeout bounds one batch in one filter process. A process
	// that takes longer is killed and handled as one that died: restarted,
	// the batch retried and split, a record that hangs it every time set
	// aside. Filters running in-process cannot be interrupted.
	StageTimeout time.Duration
}

func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.QueueBatches <= 0 {
		o.QueueBatches = 2
	}
	if o.Workers <= 0 {
		o.Workers = 1
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 30 * time.Second
	}
	if o.RetryBase <= 0 {
		o.RetryBase = 100 * time.Millisecond
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 30 * time.Second
	}
	if o.StageTimeout <= 0 {
		o.StageTimeout = time.Minute
	}
	if o.DataDir == "" {
		o.DataDir = "data"
	}
}

// Runner runs one flow.
type Runner struct {
	flow   *flow.Flow
	opts   Options
	log    *slog.Logger
	router *chain.Router
	stats  *Stats
	dlq    *deadLetters

	inputs  []*part
	stages  [][]*part // [worker][stage]
	outputs []*part
	outIDs  []string
	// gens counts input restarts; acks of an earlier generation are
	// dropped, because the new process re-reads from its saved position.
	gens []atomic.Uint64

	unroutedLog everyMinute
	// rejectedLog says, per output, that it refused events for good.
	rejectedLog []everyMinute

	started atomic.Bool
	ran     atomic.Bool // Run started every part at least once
	// incomplete is the first input that finished short of data.
	incomplete atomic.Pointer[incompleteErr]
	lastErr    atomic.Value // string: why an output is retrying, "" when fine
}

// Name is the flow's name.
func (r *Runner) Name() string { return r.flow.Name }

// Ready reports whether the flow has started every part and its outputs
// are delivering: not ready while starting, while an output asks to retry
// records and has not delivered a whole share since, or while an output
// that reports its health (Elasticsearch: which cluster, the last bulk
// error) says its destination is unreachable or failing. It is safe to
// call from any goroutine.
//
// Health is read from outputs that run in this process. An output in a
// plugin subprocess is judged by its results alone: the wire protocol
// has no health call, and the retry reasons it returns name the cluster
// and the error already, so the answer differs only while no events flow.
func (r *Runner) Ready() (bool, string) {
	if !r.started.Load() {
		return false, "starting"
	}
	var why []string
	if reason, _ := r.lastErr.Load().(string); reason != "" {
		why = append(why, "output retrying: "+reason)
	}
	for i, p := range r.outputs {
		h, ok := p.currentOutput().(interface{ Health() (bool, string) })
		if !ok {
			continue
		}
		if reachable, last := h.Health(); !reachable || last != "" {
			if last == "" {
				last = "destination unreachable"
			}
			why = append(why, fmt.Sprintf("output %s: %s", r.outIDs[i], last))
		}
	}
	if len(why) > 0 {
		return false, strings.Join(why, "; ")
	}
	return true, ""
}

// stageSpec is one filter stage: a fused chain or an external plugin.
type stageSpec struct {
	cfg      stage.Config
	external *flow.External
}

// New prepares a runner; Run starts it.
func New(f *flow.Flow, opts Options) (*Runner, error) {
	opts.defaults()
	if !opts.InProcess && opts.Command == nil {
		return nil, errors.New("host: Options.Command is required to run plugins as subprocesses")
	}
	f.Complete()
	if len(f.Inputs) == 0 {
		return nil, fmt.Errorf("%s: the flow has no inputs; add one under inputs:", f.File)
	}
	if len(f.Outputs) == 0 {
		return nil, fmt.Errorf("%s: the flow has no outputs; add one under outputs:", f.File)
	}
	r := &Runner{flow: f, opts: opts, stats: newStats(), log: opts.Logger.With("flow", f.Name)}

	specs, err := r.stageSpecs()
	if err != nil {
		return nil, err
	}
	if r.router, err = chain.NewRouter(*chain.RouterFromFlow(f)); err != nil {
		return nil, fmt.Errorf("%s: %w", f.File, err)
	}
	if r.dlq, err = newDeadLetters(DeadLetterDir(opts.DataDir, f.Name), r.log); err != nil {
		return nil, fmt.Errorf("%s: %w (under the data directory %s: check --data-dir or MDRSFLOW_DATA)",
			f.File, err, opts.DataDir)
	}

	for _, in := range f.Inputs {
		p, err := r.newPart(in, nil)
		if err != nil {
			return nil, err
		}
		r.inputs = append(r.inputs, p)
	}
	r.gens = make([]atomic.Uint64, len(r.inputs))
	for w := 0; w < opts.Workers; w++ {
		var row []*part
		for _, s := range specs {
			p := &part{kind: sdk.KindFilter, cfg: s.cfg, logger: r.log.With("plugin", s.cfg.ID, "kind", "filter"),
				bare: r.opts.Logger}
			p.launch = r.launcher(sdk.KindFilter, s.external, p.logger)
			row = append(row, p)
		}
		r.stages = append(r.stages, row)
	}
	for _, o := range f.Outputs {
		p, err := r.newPart(o.Plugin, nil)
		if err != nil {
			return nil, err
		}
		r.outputs = append(r.outputs, p)
		r.outIDs = append(r.outIDs, o.ID)
	}
	r.rejectedLog = make([]everyMinute, len(r.outputs))
	return r, nil
}

func (r *Runner) newPart(pl flow.Plugin, _ any) (*part, error) {
	settings, err := pl.SettingsText()
	if err != nil {
		return nil, err
	}
	cfg := stage.Config{Kind: pl.Kind, Name: pl.Name, ID: pl.ID, Flow: r.flow.Name,
		Settings: []byte(settings),
		DataDir:  filepath.Join(r.opts.DataDir, safeName(r.flow.Name), safeName(pl.ID))}
	logger := r.log.With("plugin", pl.ID, "kind", string(pl.Kind))
	p := &part{kind: pl.Kind, cfg: cfg, logger: logger, bare: r.opts.Logger}
	p.launch = r.launcher(pl.Kind, pl.External, logger)
	return p, nil
}

// launcher returns how to start a part's process; nil runs it in-process.
func (r *Runner) launcher(kind sdk.Kind, ext *flow.External, logger *slog.Logger) func() (*wire.Process, error) {
	if ext != nil {
		return func() (*wire.Process, error) {
			sum, err := pinnedSum(ext)
			if err != nil {
				return nil, err
			}
			return wire.Launch(exec.Command(ext.Path, ext.Args...), kind, logger, sum)
		}
	}
	if r.opts.InProcess {
		return nil
	}
	return func() (*wire.Process, error) {
		return wire.Launch(r.opts.Command(), kind, logger, nil)
	}
}

// stageSpecs groups consecutive built-in filters into one chain per
// process; an external filter is a stage of its own. The last stage is
// always a chain, which routes.
func (r *Runner) stageSpecs() ([]stageSpec, error) {
	var (
		out []stageSpec
		run []flow.Step
	)
	flush := func(last bool) error {
		if len(run) == 0 && !last {
			return nil
		}
		steps, err := chain.StepsFromFlow(run)
		if err != nil {
			return err
		}
		spec := chain.Spec{Flow: r.flow.Name, Steps: steps}
		if last {
			spec.Router = chain.RouterFromFlow(r.flow)
		}
		b, err := spec.Marshal()
		if err != nil {
			return err
		}
		id := "chain"
		if len(run) > 0 {
			id = fmt.Sprintf("chain[%s..%s]", run[0].ID, run[len(run)-1].ID)
		}
		out = append(out, stageSpec{cfg: stage.Config{Kind: sdk.KindFilter, Name: stage.ChainName,
			ID: id, Flow: r.flow.Name, Settings: b,
			DataDir: filepath.Join(r.opts.DataDir, safeName(r.flow.Name), "filters")}})
		run = nil
		return nil
	}
	for _, s := range r.flow.Filters {
		if s.External == nil {
			run = append(run, s)
			continue
		}
		if err := flush(false); err != nil {
			return nil, err
		}
		settings, err := s.SettingsText()
		if err != nil {
			return nil, err
		}
		out = append(out, stageSpec{
			cfg: stage.Config{Kind: sdk.KindFilter, Name: "external", ID: s.ID, Flow: r.flow.Name,
				Settings: []byte(settings),
				DataDir:  filepath.Join(r.opts.DataDir, safeName(r.flow.Name), safeName(s.ID))},
			external: s.External,
		})
	}
	if err := flush(true); err != nil {
		return nil, err
	}
	return out, nil
}

// Stats returns the runner's counters (live while it runs).
func (r *Runner) Stats() *Stats { return r.stats }

// Ran reports whether Run got as far as starting every part of the flow;
// after a failed start there is nothing to sum up.
func (r *Runner) Ran() bool { return r.ran.Load() }

// item is a batch on its way, with what is needed to acknowledge it.
type item struct {
	input   int
	gen     uint64
	batch   sdk.Batch
	pending atomic.Int32 // outputs still to settle the batch
}

// delivery is one output's share of a batch.
type delivery struct {
	it   *item
	recs []sdk.Record
}

// Run starts every part and moves events until the inputs are done (a
// read-once flow) or ctx is cancelled, then drains what is in flight and
// closes everything. It returns the first fatal error.
func (r *Runner) Run(ctx context.Context) (err error) {
	start := time.Now()
	defer func() {
		err = errors.Join(err, r.closeAll())
		r.stats.Elapsed = time.Since(start)
	}()

	unlock, err := r.lockDataDir()
	if err != nil {
		return err
	}
	defer unlock()

	// Parts are opened outputs first, so nothing is read before there is
	// somewhere to put it.
	openCtx := context.WithoutCancel(ctx)
	for _, p := range r.outputs {
		if err := p.open(openCtx); err != nil {
			return fmt.Errorf("start output: %w", err)
		}
	}
	for _, row := range r.stages {
		for _, p := range row {
			if err := p.open(openCtx); err != nil {
				return fmt.Errorf("start filters: %w", err)
			}
		}
	}
	for _, p := range r.inputs {
		if err := p.open(openCtx); err != nil {
			return fmt.Errorf("start input: %w", err)
		}
	}
	r.started.Store(true)
	r.ran.Store(true)
	defer r.started.Store(false)
	r.log.Info("flow started", "inputs", len(r.inputs), "filter_stages", len(r.stages[0]),
		"outputs", len(r.outputs), "subprocesses", !r.opts.InProcess, "workers", r.opts.Workers,
		"host_processors", runtime.GOMAXPROCS(0))

	// work stops when asked; drain bounds the wait for in-flight batches.
	drainCtx, cancelDrain := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelDrain()
	var drainTimedOut atomic.Bool
	go func() {
		select {
		case <-ctx.Done():
			r.log.Info("stopping: draining in-flight batches", "timeout", r.opts.DrainTimeout)
			t := time.NewTimer(r.opts.DrainTimeout)
			defer t.Stop()
			select {
			case <-t.C:
				r.log.Error("drain timed out; unacknowledged batches will be read again on restart")
				drainTimedOut.Store(true)
				cancelDrain()
			case <-drainCtx.Done():
			}
		case <-drainCtx.Done():
		}
	}()

	queue := make(chan *item, r.opts.QueueBatches)
	outCh := make([]chan delivery, len(r.outputs))
	for i := range outCh {
		outCh[i] = make(chan delivery, r.opts.QueueBatches)
	}

	// readCtx stops the inputs: on a stop, or when the flow fails. An
	// input waiting for new lines would otherwise keep the run, and its
	// failure, from ending.
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	var (
		fatalOnce sync.Once
		fatal     error
		failed    atomic.Bool // set before fatal's goroutines stop taking work
	)
	fail := func(e error) {
		fatalOnce.Do(func() {
			failed.Store(true)
			fatal = e
			r.log.Error("the flow cannot go on; stopping it", "err", e)
			stopReading()
			cancelDrain()
		})
	}

	var inWG sync.WaitGroup
	for i := range r.inputs {
		inWG.Add(1)
		go func(i int) {
			defer inWG.Done()
			if err := r.readInput(readCtx, drainCtx, i, queue); err != nil {
				fail(err)
			}
		}(i)
	}
	go func() { inWG.Wait(); close(queue) }()

	var workWG sync.WaitGroup
	for w := range r.stages {
		workWG.Add(1)
		go func(w int) {
			defer workWG.Done()
			for it := range queue {
				if failed.Load() {
					continue // stopping on a failure; read again at the next start
				}
				if err := r.process(drainCtx, w, it, outCh); err != nil {
					fail(err)
					return
				}
			}
		}(w)
	}
	go func() {
		workWG.Wait()
		for _, c := range outCh {
			close(c)
		}
	}()

	var outWG sync.WaitGroup
	for i := range r.outputs {
		outWG.Add(1)
		go func(i int) {
			defer outWG.Done()
			for d := range outCh[i] {
				if failed.Load() {
					// Stopping on a failure, perhaps this output's own
					// restart: the batch is not acknowledged, and its
					// input reads it again at the next start.
					continue
				}
				if err := r.deliver(drainCtx, i, d); err != nil {
					fail(err)
					continue
				}
				r.settle(drainCtx, d.it)
			}
		}(i)
	}
	outWG.Wait()
	workWG.Wait()
	inWG.Wait()
	if fatal != nil {
		return fatal
	}
	if drainTimedOut.Load() {
		why := ""
		if reason, _ := r.lastErr.Load().(string); reason != "" {
			why = "; an output was retrying: " + reason
		}
		return fmt.Errorf("%w (%s): the unacknowledged batches are read again at the next start%s",
			ErrDrainTimeout, r.opts.DrainTimeout, why)
	}
	if inc := r.incomplete.Load(); inc != nil {
		return inc.err
	}
	return nil
}

// incompleteErr holds an input's sdk.ErrIncomplete for the end of the run.
type incompleteErr struct{ err error }

// readInput streams one input into the queue, restarting a dead input
// process; the new process resumes from its saved position.
func (r *Runner) readInput(ctx, drainCtx context.Context, i int, queue chan<- *item) error {
	p := r.inputs[i]
	for {
		gen := r.gens[i].Load()
		err := p.currentInput().Read(ctx, func(b sdk.Batch) error {
			// What the engine decides (tenant, quarantine, routes, the
			// metadata carried between stages) is never taken from an
			// input, built in or external: only its Data, Path, Source
			// and Error are.
			for j := range b.Records {
				rec := &b.Records[j]
				rec.ID, rec.Tenant, rec.Quarantine, rec.Routes, rec.Meta = "", "", "", nil, nil
			}
			it := &item{input: i, gen: gen, batch: b}
			select {
			case queue <- it:
				// Counted once queued: a batch the stop turned away is
				// not in, and is read again at the next start.
				r.stats.addIn(len(b.Records))
				return nil
			case <-ctx.Done():
				return ctx.Err()
			case <-drainCtx.Done():
				return drainCtx.Err()
			}
		})
		if err == nil || ctx.Err() != nil || drainCtx.Err() != nil {
			return nil
		}
		if errors.Is(err, sdk.ErrIncomplete) {
			// Finished, short of data it could not read: what it did
			// read is delivered as usual, and the run ends with this.
			r.incomplete.CompareAndSwap(nil, &incompleteErr{fmt.Errorf("input %s: %w", p.cfg.ID, err)})
			return nil
		}
		if !p.died(err) {
			return fmt.Errorf("input %s: %w", p.cfg.ID, err)
		}
		r.stats.pluginRestarts.Add(1)
		r.log.Error("input plugin process died; restarting it, it resumes from its last saved position",
			"plugin", p.cfg.ID, "err", err)
		r.gens[i].Add(1)
		if err := p.restart(ctx); err != nil {
			return err
		}
	}
}

// process runs a batch through the filter stages of worker w and hands
// each output its share.
func (r *Runner) process(ctx context.Context, w int, it *item, outCh []chan delivery) error {
	recs := it.batch.Records
	var aside []sdk.Record // records isolated from a crashing stage
	for si, p := range r.stages[w] {
		kept, dropped, bad, err := r.runStage(ctx, p, recs, 0)
		if err != nil {
			return err
		}
		r.stats.addDropped(dropped)
		recs = kept
		for _, b := range bad {
			r.router.RouteFailed(&b.rec, b.reason)
			aside = append(aside, b.rec)
		}
		_ = si
	}
	recs = append(recs, aside...)

	shares := make([][]sdk.Record, len(r.outputs))
	var unrouted []rejection
	for _, rec := range recs {
		if len(rec.Routes) == 0 {
			unrouted = append(unrouted, rejection{rec, unroutedReason(rec)})
			continue
		}
		if len(rec.Routes) == 1 {
			shares[rec.Routes[0].Output] = append(shares[rec.Routes[0].Output], rec)
			continue
		}
		for _, rt := range rec.Routes {
			one := rec
			one.Routes = []sdk.Route{rt}
			shares[rt.Output] = append(shares[rt.Output], one)
		}
	}
	if len(unrouted) > 0 {
		// Kept on local disk, not sent anywhere: no output's `when:`
		// takes these, and guessing one could cross tenants.
		if err := r.dlq.write("(no output)", unrouted); err != nil {
			return fmt.Errorf("records no output takes could not be kept in the dead-letter queue (%v); "+
				"stopping so nothing is lost", err)
		}
		for _, u := range unrouted {
			r.stats.addUnrouted(u.rec)
		}
		r.unroutedLog.log(r.log, "events no output takes were kept in the dead-letter queue; "+
			"see `mdrsflow dlq list`", len(unrouted), unrouted[0].reason)
	}
	n := 0
	for _, s := range shares {
		if len(s) > 0 {
			n++
		}
	}
	if n == 0 {
		r.ack(ctx, it)
		return nil
	}
	it.pending.Store(int32(n))
	for o, s := range shares {
		if len(s) == 0 {
			continue
		}
		select {
		case outCh[o] <- delivery{it: it, recs: s}:
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}

type badRecord struct {
	rec    sdk.Record
	reason string
}

// runStage processes recs with one stage. When the stage's process dies,
// it is restarted and the batch retried once; if it dies again, the batch
// is split in halves until the records that kill it are alone, and those
// are set aside with the reason.
func (r *Runner) runStage(ctx context.Context, p *part, recs []sdk.Record, depth int) (kept []sdk.Record, dropped int, bad []badRecord, err error) {
	if len(recs) == 0 {
		return nil, 0, nil, nil
	}
	for attempt := 0; attempt < 2; attempt++ {
		// The stage may reuse the slice; keep the originals for a retry.
		in := append([]sdk.Record(nil), recs...)
		sctx, cancel := context.WithTimeout(ctx, r.opts.StageTimeout)
		res, perr := p.currentFilter().Process(sctx, sdk.Batch{Records: in})
		timedOut := ctx.Err() == nil && (sctx.Err() == context.DeadlineExceeded || wire.IsTimeout(perr))
		cancel()
		if perr == nil {
			return res.Batch.Records, res.Dropped, nil, nil
		}
		killed := timedOut && p.launch != nil
		if killed {
			r.log.Error("filter plugin process took too long over a batch; killing it",
				"plugin", p.cfg.ID, "records", len(recs), "timeout", r.opts.StageTimeout)
			p.kill()
		}
		if !killed && !p.died(perr) {
			return nil, 0, nil, fmt.Errorf("filter stage %s: %w", p.cfg.ID, perr)
		}
		r.stats.pluginRestarts.Add(1)
		r.log.Error("filter plugin process died; restarting it and retrying the batch",
			"plugin", p.cfg.ID, "records", len(recs), "err", perr)
		if rerr := p.restart(ctx); rerr != nil {
			return nil, 0, nil, rerr
		}
		if len(recs) > 1 {
			break // split at once rather than crash again on the whole
		}
	}
	if len(recs) == 1 {
		reason := fmt.Sprintf("filter stage %s: its plugin process died on this record twice; "+
			"record set aside (source %s)", p.cfg.ID, recs[0].Source)
		r.log.Error("poison record isolated", "plugin", p.cfg.ID, "source", recs[0].Source)
		return nil, 0, []badRecord{{rec: recs[0], reason: reason}}, nil
	}
	mid := len(recs) / 2
	k1, d1, b1, err := r.runStage(ctx, p, recs[:mid], depth+1)
	if err != nil {
		return nil, 0, nil, err
	}
	k2, d2, b2, err := r.runStage(ctx, p, recs[mid:], depth+1)
	if err != nil {
		return nil, 0, nil, err
	}
	return append(k1, k2...), d1 + d2, append(b1, b2...), nil
}

// deliver writes an output's share of a batch until every record is
// delivered or rejected for good. Records the output asks to retry are
// retried alone, with exponential backoff and jitter, for as long as the
// flow runs: the bounded queue stops the inputs meanwhile.
func (r *Runner) deliver(ctx context.Context, o int, d delivery) error {
	p := r.outputs[o]
	recs := d.recs
	wait := r.opts.RetryBase
	for attempt := 1; len(recs) > 0; attempt++ {
		res, err := p.currentOutput().Write(ctx, recs)
		if err != nil {
			if p.died(err) {
				r.stats.pluginRestarts.Add(1)
				r.log.Error("output plugin process died; restarting it and retrying the write",
					"plugin", p.cfg.ID, "err", err)
				if rerr := p.restart(ctx); rerr != nil {
					return rerr
				}
				continue
			}
			res = make([]sdk.Result, len(recs))
			for i := range res {
				res[i] = sdk.Result{Status: sdk.Retry, Reason: err.Error()}
			}
		}
		var (
			retry      []sdk.Record
			rejected   []rejection
			lastReason string
		)
		for i, rec := range recs {
			switch res[i].Status {
			case sdk.Delivered:
				r.stats.addDelivered(r.outIDs[o], rec)
			case sdk.Rejected:
				rejected = append(rejected, rejection{rec, res[i].Reason})
			default:
				retry = append(retry, rec)
				lastReason = res[i].Reason
			}
		}
		// One write, synced once, for all of a Write's rejections: a
		// mapping conflict often rejects a whole batch.
		if err := r.dlq.write(r.outIDs[o], rejected); err != nil {
			return fmt.Errorf("output %s rejected %d records and the dead-letter queue "+
				"could not take them (%w); stopping so nothing is lost", r.outIDs[o],
				len(rejected), err)
		}
		for _, x := range rejected {
			r.stats.addRejected(r.outIDs[o], x.rec)
		}
		if len(rejected) > 0 {
			r.rejectedLog[o].log(r.log, "output refused events for good; they were kept in the "+
				"dead-letter queue: fix the cause, then `mdrsflow dlq list` and `mdrsflow dlq replay`",
				len(rejected), rejected[0].reason, "plugin", p.cfg.ID, "target", targetFor(rejected[0].rec, o))
		}
		recs = retry
		if len(recs) == 0 {
			r.lastErr.Store("")
			return nil
		}
		r.lastErr.Store(fmt.Sprintf("%s: %s", r.outIDs[o], lastReason))
		r.stats.retries.Add(uint64(len(recs)))
		if attempt == 1 || attempt%10 == 0 {
			r.log.Warn("output asked to retry records", "plugin", p.cfg.ID, "records", len(recs),
				"attempt", attempt, "reason", lastReason, "next_in", wait)
		}
		jitter := time.Duration(rand.Int64N(int64(wait)/2 + 1))
		select {
		case <-time.After(wait/2 + jitter):
		case <-ctx.Done():
			return nil // not settled: the batch stays unacknowledged
		}
		if wait *= 2; wait > r.opts.RetryMax {
			wait = r.opts.RetryMax
		}
	}
	return nil
}

// settle records that one output is done with a batch, and acknowledges
// the batch to its input when it was the last.
func (r *Runner) settle(ctx context.Context, it *item) {
	if ctx.Err() != nil {
		return
	}
	if it.pending.Add(-1) == 0 {
		r.ack(ctx, it)
	}
}

func (r *Runner) ack(ctx context.Context, it *item) {
	if r.gens[it.input].Load() != it.gen {
		// The input restarted since; it reads this batch again.
		r.stats.superseded.Add(uint64(len(it.batch.Records)))
		return
	}
	if err := r.inputs[it.input].currentInput().Ack(ctx, it.batch.ID); err != nil {
		if r.inputs[it.input].died(err) {
			// The input died before it took the acknowledgement; its
			// next process reads the batch again.
			r.stats.superseded.Add(uint64(len(it.batch.Records)))
			return
		}
		r.log.Warn("acknowledging a batch failed; it may be read again after a restart",
			"plugin", r.inputs[it.input].cfg.ID, "batch", it.batch.ID, "err", err)
		return
	}
	r.stats.acked.Add(uint64(len(it.batch.Records)))
}

func (r *Runner) closeAll() error {
	var errs []error
	for _, p := range r.inputs {
		errs = append(errs, p.close())
	}
	for _, row := range r.stages {
		for _, p := range row {
			errs = append(errs, p.close())
		}
	}
	for _, p := range r.outputs {
		errs = append(errs, p.close())
	}
	errs = append(errs, r.dlq.close())
	return errors.Join(errs...)
}

// FilterPIDs returns the process ids of worker 0's filter stages, for
// tests that kill one mid-run.
func (r *Runner) FilterPIDs() []int {
	var out []int
	for _, p := range r.stages[0] {
		out = append(out, p.pid())
	}
	return out
}

// lockDataDir makes sure one process at a time runs this flow on this
// data directory: two would read the same files from the same positions
// and write every event twice.
func (r *Runner) lockDataDir() (func(), error) {
	dir := filepath.Join(r.opts.DataDir, safeName(r.flow.Name))
	unusable := func(err error) error {
		return fmt.Errorf("data directory %s: %w; give mdrsflow a folder it can write "+
			"(--data-dir or MDRSFLOW_DATA)", r.opts.DataDir, err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, unusable(err)
	}
	path := filepath.Join(dir, "run.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, unusable(err)
	}
	if err := dlq.TryLock(f); err != nil {
		f.Close()
		if errors.Is(err, dlq.ErrBusy) {
			return nil, fmt.Errorf("flow %q is already running with data directory %s (lock %s held); "+
				"stop the other mdrsflow, or give this one its own --data-dir or flow name",
				r.flow.Name, r.opts.DataDir, path)
		}
		return nil, fmt.Errorf("data directory lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// unroutedReason says why a record reached no output.
func unroutedReason(rec sdk.Record) string {
	switch {
	case rec.Quarantine != "":
		return "quarantined, and no output's when: takes it: " + rec.Quarantine
	case rec.Error != "":
		return "failed, and no output's when: takes it: " + rec.Error
	}
	return "no output's when: condition holds for this event"
}

// targetFor is the target rec has at output o.
func targetFor(rec sdk.Record, o int) string {
	for _, rt := range rec.Routes {
		if rt.Output == o {
			return rt.Target
		}
	}
	return ""
}

// everyMinute logs a recurring problem at most once a minute (the first
// time at once), with the count since the last line.
type everyMinute struct {
	mu    sync.Mutex
	last  time.Time
	count int
}

func (e *everyMinute) log(l *slog.Logger, msg string, n int, example string, attrs ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.count += n
	if time.Since(e.last) < time.Minute {
		return
	}
	l.Warn(msg, append(attrs, "count", e.count, "example", example)...)
	e.last, e.count = time.Now(), 0
}

func safeName(s string) string {
	// Never "", "." or "..": a flow or plugin name must not point the
	// data directory somewhere else.
	if strings.Trim(s, ".") == "" {
		return "_" + strings.Repeat("_", len(s))
	}
	return strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' {
			return c
		}
		return '_'
	}, s)
}
