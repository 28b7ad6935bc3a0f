package file

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/mdrsflow/mdrsflow/runtime/zeeklog"
	"github.com/mdrsflow/mdrsflow/sdk"
)

//go:embed sample.yaml
var sample []byte

func init() {
	sdk.Register(sdk.Registration{
		Kind:    sdk.KindInput,
		Name:    "file",
		Summary: "read Zeek logs (JSON or TSV, plain or gzip) from files, once or following them",
		New:     func() any { return New() },
		Sample:  sample,
	})
}

// The modes.
const (
	ModeReadOnce = "read_once"
	ModeFollow   = "follow"
)

// File is the file input. Its exported fields are its settings.
type File struct {
	// Paths lists glob patterns of the files to read. Required.
	Paths []string `yaml:"paths"`
	// Exclude lists glob patterns of files to leave out, matched against
	// the full path and the base name.
	Exclude []string `yaml:"exclude"`
	// Mode is read_once (read every file to its end, then return) or
	// follow (tail files, pick up new ones, follow rotation).
	Mode string `yaml:"mode"`
	// BatchSize is the number of records per batch.
	BatchSize int `yaml:"batch_size"`
	// BatchTimeout is how old a batch that is not full may get before it
	// is sent anyway, in follow mode.
	BatchTimeout time.Duration `yaml:"batch_timeout"`
	// PollInterval is how often to look for new, rotated and truncated
	// files and for more data in idle ones.
	PollInterval time.Duration `yaml:"poll_interval"`
	// MaxLineBytes is the longest line turned into a record; a longer one
	// becomes an error record holding its first bytes.
	MaxLineBytes int `yaml:"max_line_bytes"`
	// StartAt is where to start in a file with no saved position:
	// beginning, or end (follow mode, files found at startup only).
	StartAt string `yaml:"start_at"`
	// Positions says whether to keep read positions across restarts.
	Positions bool `yaml:"positions"`

	log   *slog.Logger
	stats *stats
	store *store // nil when Positions is false

	// drainGrace is how long a file rotated away must stay quiet before
	// it is finished: its writer may still flush to it. idleClose is how
	// long a file must stay quiet before its handle is closed until it
	// grows. Start sets both when they are zero.
	drainGrace time.Duration
	idleClose  time.Duration

	// Run's state; only Run's goroutine touches these.
	files    map[string]*fileState // by identity key
	batch    []sdk.Record
	contrib  []*fileState // files with records in batch
	batchAt  time.Time    // when the first record went into batch
	openErrs map[string]string
	sizes    map[string]sizeAt // compressed files waiting to stop growing
	initial  map[string]bool   // files found by the first scan, not yet opened

	// mu guards the acknowledgement state: nextID, batches, and in each
	// fileState the fields documented as guarded by it.
	mu      sync.Mutex
	nextID  uint64
	batches map[uint64][]*mark

	stopSaver chan struct{}
	saverDone chan struct{}
}

// New returns a file input with its defaults set.
func New() *File {
	return &File{
		Mode:         ModeReadOnce,
		BatchSize:    256,
		BatchTimeout: 200 * time.Millisecond,
		PollInterval: time.Second,
		MaxLineBytes: zeeklog.DefaultMaxLineBytes,
		StartAt:      "beginning",
		Positions:    true,
	}
}

// Validate checks the settings without touching the file system.
func (f *File) Validate() error {
	if len(f.Paths) == 0 {
		return errors.New(`paths: at least one glob is required, ` +
			`for example paths: ["/var/log/zeek/current/*.log"]`)
	}
	for i, p := range f.Paths {
		if _, err := filepath.Match(p, ""); err != nil {
			return fmt.Errorf("paths[%d] %q: %w", i, p, err)
		}
	}
	for i, p := range f.Exclude {
		if _, err := filepath.Match(p, ""); err != nil {
			return fmt.Errorf("exclude[%d] %q: %w", i, p, err)
		}
	}

	switch f.Mode {
	case ModeReadOnce, ModeFollow:
	default:
		return fmt.Errorf("mode: %q is not a mode (use read_once or follow)", f.Mode)
	}
	switch f.StartAt {
	case "beginning":
	case "end":
		if f.Mode != ModeFollow {
			return errors.New("start_at: end only applies to mode: follow; " +
				"read_once always reads files from their beginning")
		}
	default:
		return fmt.Errorf("start_at: %q is not a place to start (use beginning or end)",
			f.StartAt)
	}

	if f.BatchSize < 1 {
		return fmt.Errorf("batch_size: %d is too small (at least 1)", f.BatchSize)
	}
	if f.BatchTimeout <= 0 {
		return fmt.Errorf("batch_timeout: %s must be positive", f.BatchTimeout)
	}
	if f.PollInterval <= 0 {
		return fmt.Errorf("poll_interval: %s must be positive", f.PollInterval)
	}
	if f.MaxLineBytes < 1 {
		return fmt.Errorf("max_line_bytes: %d is too small (at least 1)", f.MaxLineBytes)
	}
	return nil
}

// Start loads the saved positions and starts saving them as acks come in.
func (f *File) Start(_ context.Context, env sdk.Env) error {
	f.log = env.Logger
	if f.log == nil {
		f.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	f.stats = newStats(f.log)
	f.files = map[string]*fileState{}
	f.openErrs = map[string]string{}
	f.sizes = map[string]sizeAt{}
	f.initial = map[string]bool{}
	f.batches = map[uint64][]*mark{}
	if f.drainGrace == 0 {
		f.drainGrace = max(5*f.PollInterval, 5*time.Second)
	}
	if f.idleClose == 0 {
		f.idleClose = max(5*time.Minute, 2*f.drainGrace)
	}

	if !f.Positions {
		return nil
	}
	if env.DataDir == "" {
		return errors.New("file input: no data directory to keep positions in; " +
			"set positions: false to read without keeping positions")
	}
	st, err := openStore(filepath.Join(env.DataDir, positionsFile))
	if err != nil {
		return fmt.Errorf("file input: %w", err)
	}
	f.store = st
	st.dirty = true // find out now, not at the first ack, if it cannot be written
	if err := f.save(); err != nil {
		return fmt.Errorf("file input: %w; check that the data directory is writable "+
			"and not full", err)
	}
	f.stopSaver = make(chan struct{})
	f.saverDone = make(chan struct{})
	go f.saveLoop()
	return nil
}

// saveInterval is how often acknowledged positions are written to disk.
// A crash loses at most this much progress, which is read again.
var saveInterval = time.Second

func (f *File) saveLoop() {
	defer close(f.saverDone)
	t := time.NewTicker(saveInterval)
	defer t.Stop()
	for {
		select {
		case <-f.stopSaver:
			return
		case <-t.C:
			if err := f.save(); err != nil {
				f.stats.saveFailed(f.store.path, err)
			}
		}
	}
}

// save writes the positions if they changed.
func (f *File) save() error {
	f.mu.Lock()
	data, ok := f.store.snapshot()
	f.mu.Unlock()
	if !ok {
		return nil
	}
	if err := f.store.write(data); err != nil {
		f.mu.Lock()
		f.store.dirty = true // try again at the next tick
		f.mu.Unlock()
		return fmt.Errorf("save positions to %s: %w", f.store.path, err)
	}
	return nil
}

// Close writes the last acknowledged positions. It is safe after a failed
// or partial Start and after Run returned.
func (f *File) Close() error {
	if f.stopSaver == nil {
		return nil
	}
	close(f.stopSaver)
	<-f.saverDone
	f.stopSaver = nil
	if err := f.save(); err != nil {
		return fmt.Errorf("file input: %w", err)
	}
	return nil
}

// Run reads the files. In read_once mode it returns nil once every file
// has been read to its end and emitted; in follow mode it runs until ctx
// is cancelled. It returns nil, too, when emit fails because the flow is
// stopping.
func (f *File) Run(ctx context.Context, emit sdk.Emit) error {
	defer f.closeAll()
	if f.Mode == ModeFollow {
		return f.follow(ctx, emit)
	}
	return f.readOnce(ctx, emit)
}

var (
	_ sdk.Input     = (*File)(nil)
	_ sdk.Validator = (*File)(nil)
	_ sdk.Starter   = (*File)(nil)
	_ sdk.Closer    = (*File)(nil)
)
