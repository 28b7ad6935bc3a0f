// Package stdin is the "stdin" input: it reads Zeek logs (JSON lines or
// TSV, plain or gzipped) from standard input until its end, for tests,
// one-shot backfills and pipes such as `zcat conn.*.log.gz | mdrsflow ...`.
package stdin

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mdrsflow/mdrsflow/runtime/zeeklog"
	"github.com/mdrsflow/mdrsflow/sdk"
)

//go:embed sample.yaml
var sample []byte

func init() {
	sdk.Register(sdk.Registration{
		Kind:    sdk.KindInput,
		Name:    "stdin",
		Summary: "read Zeek logs (JSON or TSV, plain or gzip) from standard input",
		New:     func() any { return New() },
		Sample:  sample,
	})
}

// Stdin is the stdin input. Its exported fields are its settings.
type Stdin struct {
	// Path is the log type of records whose stream has no #path header.
	Path string `yaml:"path"`
	// Format is auto, json or tsv; see zeeklog.Format.
	Format string `yaml:"format"`
	// BatchSize is the number of records per batch.
	BatchSize int `yaml:"batch_size"`
	// BatchTimeout is how old a batch that is not full may get before it
	// is sent anyway.
	BatchTimeout time.Duration `yaml:"batch_timeout"`
	// MaxLineBytes is the longest line turned into a record.
	MaxLineBytes int `yaml:"max_line_bytes"`

	// In is what is read: os.Stdin unless set before Start, as tests and
	// embedding programs do. It is not a setting.
	In io.Reader `yaml:"-"`

	format    zeeklog.Format
	log       *slog.Logger
	malformed atomic.Int64
	logMu     sync.Mutex
	loggedAt  time.Time
	unlogged  int64
}

// New returns a stdin input with its defaults set.
func New() *Stdin {
	return &Stdin{
		Format:       string(zeeklog.FormatAuto),
		BatchSize:    256,
		BatchTimeout: 200 * time.Millisecond,
		MaxLineBytes: zeeklog.DefaultMaxLineBytes,
	}
}

// Validate checks the settings.
func (s *Stdin) Validate() error {
	if _, err := zeeklog.ParseFormat(s.Format); err != nil {
		return fmt.Errorf("format: %w", err)
	}
	if s.BatchSize < 1 {
		return fmt.Errorf("batch_size: %d is too small (at least 1)", s.BatchSize)
	}
	if s.BatchTimeout <= 0 {
		return fmt.Errorf("batch_timeout: %s must be positive", s.BatchTimeout)
	}
	if s.MaxLineBytes < 1 {
		return fmt.Errorf("max_line_bytes: %d is too small (at least 1)", s.MaxLineBytes)
	}
	return nil
}

// Start takes the logger; standard input needs no opening.
func (s *Stdin) Start(_ context.Context, env sdk.Env) error {
	f, err := zeeklog.ParseFormat(s.Format)
	if err != nil {
		return fmt.Errorf("stdin input: format: %w", err)
	}
	s.format = f
	s.log = env.Logger
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.In == nil {
		s.In = os.Stdin
	}
	return nil
}

// item is what the reading goroutine hands to Run: a record or the error
// that ended the stream.
type item struct {
	rec zeeklog.Record
	err error
}

// Run reads standard input to its end, emitting batches with ids from 1,
// and returns nil there, or when ctx is cancelled or the flow stops. A
// read error (a broken gzip stream, say) is returned after the records
// before it were emitted.
//
// Limitation: a Read of standard input cannot be interrupted — when ctx
// is cancelled while the stream is idle, Run returns but its reading
// goroutine stays blocked until the stream has data or ends, which is
// harmless as the process is stopping anyway.
func (s *Stdin) Run(ctx context.Context, emit sdk.Emit) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	items := make(chan item, s.BatchSize)
	go s.read(ctx, items)

	var (
		id     uint64
		batch  []sdk.Record
		timer  = time.NewTimer(time.Hour)
		timerC <-chan time.Time // nil while the batch is empty
	)
	timer.Stop()
	defer timer.Stop()
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		id++
		b := sdk.Batch{ID: id, Records: batch}
		batch, timerC = nil, nil
		timer.Stop()
		return emit(ctx, b)
	}

	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timerC:
			if err := flush(); err != nil {
				return nil // the flow is stopping
			}
		case it, ok := <-items:
			if !ok || it.err != nil {
				if err := flush(); err != nil {
					return nil
				}
				if ok && !errors.Is(it.err, io.EOF) {
					return fmt.Errorf("stdin input: %w", it.err)
				}
				return nil
			}
			if len(batch) == 0 {
				timer.Reset(s.BatchTimeout)
				timerC = timer.C
			}
			batch = append(batch, s.record(it.rec))
			if len(batch) >= s.BatchSize {
				if err := flush(); err != nil {
					return nil
				}
			}
		}
	}
}

// read turns the stream into records for Run, ending with the error that
// ended the stream (io.EOF at its end).
func (s *Stdin) read(ctx context.Context, items chan<- item) {
	defer close(items)
	r := zeeklog.NewReader(s.In, "stdin", zeeklog.WithPath(s.Path),
		zeeklog.WithFormat(s.format), zeeklog.WithMaxLineBytes(s.MaxLineBytes))
	for {
		rec, err := r.Next()
		select {
		case items <- item{rec: rec, err: err}:
		case <-ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}

// record makes the sdk record of one log record, counting a malformed one.
func (s *Stdin) record(r zeeklog.Record) sdk.Record {
	src := "stdin:" + strconv.FormatInt(r.Line, 10)
	if r.Err != "" {
		s.malformedLine(src, r.Err)
	}
	return sdk.Record{Data: r.Data, Path: r.Path, Source: src, Error: r.Err}
}

// malformedLine counts a record with an error and logs Warn "malformed
// lines" at most once a minute, with the count since the last such line
// and the latest one's source and reason.
func (s *Stdin) malformedLine(source, reason string) {
	total := s.malformed.Add(1)
	s.logMu.Lock()
	defer s.logMu.Unlock()
	s.unlogged++
	if now := time.Now(); s.loggedAt.IsZero() || now.Sub(s.loggedAt) >= time.Minute {
		s.log.Warn("malformed lines", "count", s.unlogged, "source", source, "err", reason,
			"total", total)
		s.loggedAt, s.unlogged = now, 0
	}
}

// Ack does nothing: standard input cannot be read again, so there is no
// position to keep.
func (s *Stdin) Ack(uint64) {}

var (
	_ sdk.Input     = (*Stdin)(nil)
	_ sdk.Validator = (*Stdin)(nil)
	_ sdk.Starter   = (*Stdin)(nil)
)
