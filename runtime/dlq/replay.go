package dlq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/mdrsflow/mdrsflow/sdk"
)

// SendFunc writes letters through the flow's output named output and
// returns one result per letter, in order, as sdk.Output.Write does. An
// error means the output could not be used at all (it is not in the flow
// any more, it failed to start); the letters are then kept.
type SendFunc func(ctx context.Context, output string, letters []Letter) ([]sdk.Result, error)

// ReplayOptions shape a Replay.
type ReplayOptions struct {
	// Batch is how many letters go to the output at once; default 500.
	Batch int
	// RetryFor is how long letters that the output asks to retry are
	// retried, with backoff, before they are left in the queue; default
	// one minute.
	RetryFor time.Duration
	// RetryBase is the first backoff; default one second.
	RetryBase time.Duration
	Logger    *slog.Logger
	Now       func() time.Time
}

func (o *ReplayOptions) defaults() {
	if o.Batch <= 0 {
		o.Batch = 500
	}
	if o.RetryFor <= 0 {
		o.RetryFor = time.Minute
	}
	if o.RetryBase <= 0 {
		o.RetryBase = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// ReplayReport says what a Replay did.
type ReplayReport struct {
	// Files were replayed; Busy files were skipped because the running
	// flow still appends to them (or another replay works on them).
	Files int
	Busy  []string
	// Delivered letters were removed from the queue. Rejected ones were
	// refused again and stay, with the new reason. Kept ones stay as they
	// were: still failing when RetryFor ran out, or their output could
	// not be used. Unreadable lines stay as they are.
	Delivered, Rejected, Kept, Unreadable int
	// Reasons holds the last reason per output for letters that stay.
	Reasons map[string]string
}

// Replay sends the letters of every file in dir, oldest first, through
// send, removes what was delivered and keeps what was not. Each file is
// rewritten in one step (a new file renamed over it), so a replay that is
// interrupted leaves every letter in the queue: a delivered letter may
// then be sent again next time, which the same document id makes
// harmless.
func Replay(ctx context.Context, dir string, send SendFunc, opts ReplayOptions) (ReplayReport, error) {
	opts.defaults()
	rep := ReplayReport{Reasons: map[string]string{}}
	files, err := Files(dir)
	if err != nil {
		return rep, err
	}
	deadline := opts.Now().Add(opts.RetryFor)
	for _, p := range files {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		err := replayFile(ctx, p, send, &opts, deadline, &rep)
		if errors.Is(err, ErrBusy) {
			rep.Busy = append(rep.Busy, p)
			continue
		}
		if errors.Is(err, os.ErrNotExist) {
			continue // discarded by the bound, or replayed by someone else
		}
		if err != nil {
			return rep, err
		}
		rep.Files++
	}
	return rep, nil
}

func replayFile(ctx context.Context, path string, send SendFunc, opts *ReplayOptions,
	deadline time.Time, rep *ReplayReport) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := tryLock(f); err != nil {
		return err
	}
	lines, err := readLines(f)
	if err != nil {
		return fmt.Errorf("dead-letter queue: %w", err)
	}

	// outcome[i] is the status of lines[i]; unreadable lines are kept.
	outcome := make([]sdk.Status, len(lines))
	byOutput := map[string][]int{}
	var outputs []string
	for i, ln := range lines {
		outcome[i] = sdk.Retry
		if ln.letter == nil {
			rep.Unreadable++
			continue
		}
		o := ln.letter.Output
		if byOutput[o] == nil {
			outputs = append(outputs, o)
		}
		byOutput[o] = append(byOutput[o], i)
	}
	sort.Strings(outputs)

	for _, o := range outputs {
		idx := byOutput[o]
		for start := 0; start < len(idx); start += opts.Batch {
			chunk := idx[start:min(start+opts.Batch, len(idx))]
			if err := sendWithRetry(ctx, o, chunk, lines, outcome, send, opts, deadline, rep); err != nil {
				return err
			}
		}
	}

	now := opts.Now().UTC()
	var kept [][]byte
	for i, ln := range lines {
		switch {
		case ln.letter == nil:
			kept = append(kept, ln.raw)
		case outcome[i] == sdk.Delivered:
			rep.Delivered++
		case outcome[i] == sdk.Rejected:
			rep.Rejected++
			ln.letter.Replays++
			ln.letter.LastReplay = &now
			b, err := json.Marshal(ln.letter)
			if err != nil {
				return fmt.Errorf("dead-letter queue: encode letter: %w", err)
			}
			kept = append(kept, b)
		default:
			rep.Kept++
			kept = append(kept, ln.raw)
		}
	}
	return rewrite(path, kept)
}

// sendWithRetry sends the letters at idx and retries those the output
// asks to retry until deadline. It sets outcome for each and returns an
// error only when ctx ends.
func sendWithRetry(ctx context.Context, output string, idx []int, lines []line,
	outcome []sdk.Status, send SendFunc, opts *ReplayOptions, deadline time.Time,
	rep *ReplayReport) error {
	wait := opts.RetryBase
	for attempt := 1; len(idx) > 0; attempt++ {
		letters := make([]Letter, len(idx))
		for k, i := range idx {
			letters[k] = *lines[i].letter
		}
		res, err := send(ctx, output, letters)
		if err == nil && len(res) != len(letters) {
			err = fmt.Errorf("output %s returned %d results for %d letters", output,
				len(res), len(letters))
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			rep.Reasons[output] = err.Error()
			return nil // kept as they are
		}
		var again []int
		for k, i := range idx {
			outcome[i] = res[k].Status
			switch res[k].Status {
			case sdk.Rejected:
				lines[i].letter.Reason = res[k].Reason
				rep.Reasons[output] = res[k].Reason
			case sdk.Retry:
				again = append(again, i)
				rep.Reasons[output] = res[k].Reason
			}
		}
		idx = again
		if len(idx) == 0 || !opts.Now().Add(wait).Before(deadline) {
			return nil
		}
		opts.Logger.Warn("output asks to retry dead letters; waiting", "output", output,
			"events", len(idx), "attempt", attempt, "reason", rep.Reasons[output], "next_in", wait)
		jitter := time.Duration(rand.Int64N(int64(wait)/2 + 1))
		select {
		case <-time.After(wait/2 + jitter):
		case <-ctx.Done():
			return ctx.Err()
		}
		wait = min(wait*2, 30*time.Second)
	}
	return nil
}

// rewrite replaces path with the kept lines, or removes it when none is
// left. The new content is synced before it takes the old one's place.
func rewrite(path string, kept [][]byte) error {
	if len(kept) == 0 {
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("dead-letter queue: %w", err)
		}
		return syncDir(filepath.Dir(path))
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".replay")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("dead-letter queue: %w", err)
	}
	var buf []byte
	for _, k := range kept {
		buf = append(append(buf, k...), '\n')
	}
	_, werr := f.Write(buf)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("dead-letter queue: rewrite %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("dead-letter queue: %w", err)
	}
	return syncDir(filepath.Dir(path))
}
