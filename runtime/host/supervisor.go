package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"sync"
	"time"

	"github.com/mdrsflow/mdrsflow/runtime/stage"
	"github.com/mdrsflow/mdrsflow/runtime/wire"
	"github.com/mdrsflow/mdrsflow/sdk"
)

// part is one plugin instance of a flow as the host runs it: in this
// process, or in a subprocess that it restarts when it dies.
type part struct {
	kind   sdk.Kind
	cfg    stage.Config
	logger *slog.Logger // with the flow, the plugin and the kind
	// bare is the logger without them, for a part opened in this
	// process: the stage adds them itself.
	bare *slog.Logger
	// launch starts the subprocess; nil runs the part in this process.
	launch func() (*wire.Process, error)

	mu       sync.Mutex
	proc     *wire.Process
	filter   stage.Filter
	output   stage.Output
	input    stage.Input
	restarts int // since the flow started, for the log
	// streak counts restarts in a row: each of them came less than
	// restartCalm after the start before it. The pause grows with it.
	streak  int
	started time.Time
}

// maxRestartWait caps the pause between restarts of a dying plugin.
const maxRestartWait = 5 * time.Second

// restartCalm is how long a plugin process must have run for its death
// to start the pauses from the beginning again: a crash a week after the
// last one is not part of a crash loop.
const restartCalm = time.Minute

// open starts (or restarts) the part. Restarts pause with a growing delay
// so a plugin that dies at once does not spin.
func (p *part) open(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.openLocked(ctx)
}

func (p *part) openLocked(ctx context.Context) error {
	if p.launch == nil {
		var err error
		switch p.kind {
		case sdk.KindInput:
			p.input, err = stage.OpenInput(ctx, p.cfg, p.bare)
		case sdk.KindFilter:
			p.filter, err = stage.OpenFilter(ctx, p.cfg, p.bare)
		case sdk.KindOutput:
			p.output, err = stage.OpenOutput(ctx, p.cfg, p.bare)
		}
		return err
	}

	if p.proc != nil {
		p.proc.Kill()
		p.proc = nil
		wait := p.restartWait(time.Now())
		p.logger.Warn("restarting plugin process", "restarts", p.restarts, "in_a_row", p.streak, "after", wait)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	proc, err := p.launch()
	if err != nil {
		return err
	}
	p.started = time.Now()
	switch p.kind {
	case sdk.KindInput:
		p.input, err = proc.OpenInput(ctx, p.cfg)
	case sdk.KindFilter:
		p.filter, err = proc.OpenFilter(ctx, p.cfg)
	case sdk.KindOutput:
		p.output, err = proc.OpenOutput(ctx, p.cfg)
	}
	if err != nil {
		proc.Kill()
		return err
	}
	p.proc = proc
	return nil
}

// restartWait counts a restart at now and returns the pause before it:
// 100 ms for each restart in a row, up to maxRestartWait.
func (p *part) restartWait(now time.Time) time.Duration {
	p.restarts++
	if now.Sub(p.started) >= restartCalm {
		p.streak = 0
	}
	p.streak++
	return min(time.Duration(p.streak)*100*time.Millisecond, maxRestartWait)
}

// died reports whether err means the plugin process is gone and the part
// should be restarted.
func (p *part) died(err error) bool {
	if p.launch == nil || err == nil {
		return false
	}
	if errors.Is(err, wire.ErrPluginExited) {
		return true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.proc != nil && p.proc.Exited()
}

// restart replaces a dead process.
func (p *part) restart(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.openLocked(ctx); err != nil {
		return fmt.Errorf("%s: restart: %w", p.cfg.ID, err)
	}
	return nil
}

func (p *part) currentFilter() stage.Filter {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.filter
}

func (p *part) currentOutput() stage.Output {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.output
}

func (p *part) currentInput() stage.Input {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.input
}

func (p *part) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var err error
	switch {
	case p.input != nil:
		err = p.input.Close()
	case p.filter != nil:
		err = p.filter.Close()
	case p.output != nil:
		err = p.output.Close()
	}
	if p.proc != nil {
		p.proc.Kill()
	}
	return err
}

// kill ends the subprocess at once (a hung plugin); the next call finds
// it dead and restarts it.
func (p *part) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc != nil {
		p.proc.Kill()
	}
}

// pid of the subprocess, for tests that kill it; 0 in-process.
func (p *part) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc == nil {
		return 0
	}
	return p.proc.Pid()
}

// commandFunc makes the command that starts a built-in plugin process.
type commandFunc func() *exec.Cmd
