package dlq

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mdrsflow/mdrsflow/sdk"
)

// Letter is one dead-lettered event: one line of a dead-letter file. It
// holds what is needed to send the event again exactly as it was sent
// (output, target, id, tenant) and what an operator needs to see why it
// was refused.
type Letter struct {
	// Time is when the event was dead-lettered.
	Time time.Time `json:"time"`
	// Output is the id of the flow's output that refused it.
	Output string `json:"output"`
	// Target is the index, data stream or file it was written to.
	Target string `json:"target"`
	// ID is the document id; a replay sends the same one, so a replay
	// of an event that did get stored creates no duplicate.
	ID string `json:"id,omitempty"`
	// Tenant is the event's tenant; outputs with a tenant map pick the
	// cluster by it.
	Tenant string `json:"tenant,omitempty"`
	// Source says where the event came from, such as conn.log:17.
	Source string `json:"source,omitempty"`
	// Path is the Zeek log type the input gave, if any.
	Path string `json:"path,omitempty"`
	// Reason is why the output refused it, as the output said.
	Reason string `json:"reason"`
	// Failure and Quarantine are the record's own failure and quarantine
	// reasons, when it was on its way to a failures or quarantine target.
	Failure    string `json:"failure,omitempty"`
	Quarantine string `json:"quarantine,omitempty"`
	// Replays counts replays that were refused again; LastReplay is the
	// time of the last.
	Replays    int        `json:"replays,omitempty"`
	LastReplay *time.Time `json:"last_replay,omitempty"`
	// Event is the event as it was sent, when it is JSON; EventRaw holds
	// it as text otherwise.
	Event    json.RawMessage `json:"event,omitempty"`
	EventRaw string          `json:"event_raw,omitempty"`
}

// FromRecord makes the letter for a record that output refused for
// reason. It does not keep rec.Data.
func FromRecord(rec sdk.Record, output, reason string, now time.Time) Letter {
	l := Letter{
		Time: now.UTC(), Output: output, ID: rec.ID, Tenant: rec.Tenant,
		Source: rec.Source, Path: rec.Path, Reason: reason,
		Failure: rec.Error, Quarantine: rec.Quarantine,
	}
	if len(rec.Routes) > 0 {
		l.Target = rec.Routes[0].Target
	}
	var c bytes.Buffer
	if json.Valid(rec.Data) && json.Compact(&c, rec.Data) == nil {
		l.Event = c.Bytes()
	} else {
		l.EventRaw = string(rec.Data)
	}
	return l
}

// Record is the record to send again: the same data, id, tenant and
// target, routed to output index out.
func (l *Letter) Record(out int) sdk.Record {
	data := []byte(l.Event)
	if len(data) == 0 {
		data = []byte(l.EventRaw)
	}
	return sdk.Record{
		Data: data, Path: l.Path, Source: l.Source, ID: l.ID, Tenant: l.Tenant,
		Error: l.Failure, Quarantine: l.Quarantine,
		Routes: []sdk.Route{{Output: out, Target: l.Target}},
	}
}

// DefaultMaxBytes bounds a flow's dead-letter queue unless set otherwise.
const DefaultMaxBytes int64 = 1 << 30

// maxSegmentBytes caps the size of one file, so that the bound discards
// a small slice of the oldest events rather than half of them.
const maxSegmentBytes int64 = 64 << 20

// Options shape a Writer.
type Options struct {
	// MaxBytes bounds the total size of the queue's files; 0 means
	// DefaultMaxBytes.
	MaxBytes int64
	// Logger receives the lines about discarded files and leftovers.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Stats are a Writer's counters since Open.
type Stats struct {
	// Written counts letters written.
	Written uint64
	// Discarded counts letters deleted by the bound, in DiscardedFiles
	// files.
	Discarded, DiscardedFiles uint64
	// Bytes and Files describe the queue on disk now, as far as this
	// writer knows (a replay in another process may have shrunk it).
	Bytes int64
	Files int
}

// Writer appends letters to a flow's dead-letter files. Its methods are
// safe for concurrent use.
type Writer struct {
	dir     string
	max     int64
	segment int64
	log     *slog.Logger
	now     func() time.Time

	mu       sync.Mutex
	f        *os.File
	cur      string
	curSize  int64
	old      []fileSize // other files, oldest first
	total    int64
	stats    Stats
	lastName string
}

type fileSize struct {
	path string
	size int64
}

// Open prepares a writer for the files in dir. It creates nothing until
// the first Write, so a flow that never dead-letters leaves no folder;
// it logs a warning when earlier runs left letters behind.
func Open(dir string, opts Options) (*Writer, error) {
	if opts.MaxBytes == 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.MaxBytes < 0 {
		return nil, fmt.Errorf("dead-letter queue %s: the size bound must be positive", dir)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	w := &Writer{dir: dir, max: opts.MaxBytes, log: opts.Logger, now: opts.Now,
		segment: min(maxSegmentBytes, max(opts.MaxBytes/8, 1))}
	if err := w.scan(); err != nil {
		return nil, err
	}
	if len(w.old) > 0 {
		w.log.Warn("dead-letter queue holds events from earlier runs; "+
			"see `mdrsflow dlq list` and `mdrsflow dlq replay`",
			"path", dir, "files", len(w.old), "bytes", w.total)
	}
	return w, nil
}

// scan learns the files already in dir.
func (w *Writer) scan() error {
	files, err := Files(w.dir)
	if err != nil {
		return err
	}
	w.old, w.total = w.old[:0], 0
	for _, p := range files {
		fi, err := os.Stat(p)
		if err != nil {
			continue // removed meanwhile, by a replay
		}
		w.old = append(w.old, fileSize{p, fi.Size()})
		w.total += fi.Size()
	}
	return nil
}

// Write appends the letters and syncs them to disk before it returns, so
// the caller may acknowledge the events' input right after. When the
// letters would pass the bound, the oldest files are deleted first.
func (w *Writer) Write(letters []Letter) error {
	if len(letters) == 0 {
		return nil
	}
	var buf []byte
	for i := range letters {
		b, err := json.Marshal(&letters[i])
		if err != nil {
			return fmt.Errorf("dead-letter queue %s: encode letter: %w", w.dir, err)
		}
		buf = append(append(buf, b...), '\n')
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil || w.curSize >= w.segment {
		if err := w.rotate(); err != nil {
			return err
		}
	}
	if w.total+int64(len(buf)) > w.max {
		if w.curSize > 0 {
			if err := w.rotate(); err != nil {
				return err
			}
		}
		w.makeRoom(int64(len(buf)))
	}
	if _, err := w.f.Write(buf); err != nil {
		return fmt.Errorf("dead-letter queue %s: write: %w", w.cur, err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("dead-letter queue %s: sync: %w", w.cur, err)
	}
	w.curSize += int64(len(buf))
	w.total += int64(len(buf))
	w.stats.Written += uint64(len(letters))
	return nil
}

// rotate closes the current file, if any, and starts a new one.
func (w *Writer) rotate() error {
	if w.f != nil {
		err := w.closeCurrent()
		if err != nil {
			return err
		}
	}
	if err := os.MkdirAll(w.dir, 0o750); err != nil {
		return fmt.Errorf("dead-letter queue: create folder: %w", err)
	}
	name := "dlq-" + w.now().UTC().Format("20060102T150405.000000000Z")
	if name <= w.lastName { // two files within the clock's resolution
		name = w.lastName + "x"
	}
	w.lastName = name
	path := filepath.Join(w.dir, name+fileExt)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("dead-letter queue: %w", err)
	}
	if err := tryLock(f); err != nil {
		return errors.Join(fmt.Errorf("dead-letter queue: lock %s: %w", path, err), f.Close())
	}
	// The new name must survive a power cut along with what is written
	// into it, since the input is acknowledged once Write returns.
	if err := syncDir(w.dir); err != nil {
		return errors.Join(fmt.Errorf("dead-letter queue: %w", err), f.Close())
	}
	w.f, w.cur, w.curSize = f, path, 0
	return nil
}

func (w *Writer) closeCurrent() error {
	f := w.f
	w.f = nil
	if w.curSize > 0 {
		w.old = append(w.old, fileSize{w.cur, w.curSize})
	} else {
		_ = os.Remove(w.cur) // nothing was written to it
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("dead-letter queue: close %s: %w", w.cur, err)
	}
	return nil
}

// makeRoom deletes the oldest files, other than the current one, until
// need more bytes fit under the bound or no other file is left. A file a
// replay is working on is skipped.
func (w *Writer) makeRoom(need int64) {
	if w.total+need > w.max {
		// A replay in another process may have removed files since.
		cur, curSize := w.cur, w.curSize
		_ = w.scan()
		w.old = slicesDelete(w.old, cur)
		w.total = sum(w.old) + curSize
	}
	for i := 0; i < len(w.old) && w.total+need > w.max; {
		victim := w.old[i]
		events, err := w.discard(victim.path)
		if err != nil {
			i++ // locked by a replay, or gone: try the next one
			continue
		}
		w.old = append(w.old[:i], w.old[i+1:]...)
		w.total -= victim.size
		w.stats.Discarded += uint64(events)
		w.stats.DiscardedFiles++
		w.log.Error("dead-letter queue full; discarded its oldest file, these events are lost",
			"path", victim.path, "events", events, "bytes", victim.size, "max_size", w.max)
	}
}

// discard deletes a file that no replay holds and returns how many
// letters it held.
func (w *Writer) discard(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if err := tryLock(f); err != nil {
		return 0, err
	}
	n, err := countLines(f)
	if err != nil {
		return 0, err
	}
	return n, os.Remove(path)
}

// Stats returns the writer's counters.
func (w *Writer) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.stats
	s.Bytes, s.Files = w.total, len(w.old)
	if w.f != nil {
		s.Files++
	}
	return s
}

// Close closes the current file. Writes after Close start a new file.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	return w.closeCurrent()
}

// ---------------------------------------------------------------------------

// fileExt ends every dead-letter file's name.
const fileExt = ".ndjson"

// Files returns the dead-letter files in dir, oldest first. A dir that
// does not exist holds none.
func Files(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dead-letter queue: %w", err)
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if e.Type().IsRegular() && strings.HasPrefix(n, "dlq-") && strings.HasSuffix(n, fileExt) {
			out = append(out, filepath.Join(dir, n))
		}
	}
	sort.Strings(out) // names start with the UTC time they were opened
	return out, nil
}

func countLines(r io.Reader) (int, error) {
	buf := make([]byte, 64<<10)
	n := 0
	for {
		k, err := r.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return nil
}

func slicesDelete(fs []fileSize, path string) []fileSize {
	out := fs[:0]
	for _, f := range fs {
		if f.path != path {
			out = append(out, f)
		}
	}
	return out
}

func sum(fs []fileSize) int64 {
	var n int64
	for _, f := range fs {
		n += f.size
	}
	return n
}

// ---------------------------------------------------------------------------

// ParseSize reads a size such as 1073741824, "1GiB", "512 MiB" or "2GB"
// (binary units KiB, MiB, GiB, TiB; decimal KB, MB, GB, TB; B).
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
	} {
		if num, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(num), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size; write bytes or a size such as 1GiB or 500MB", s)
	}
	return n * mult, nil
}

// TryLock takes an exclusive advisory lock on f without waiting, or
// returns ErrBusy when another process holds one. The lock goes with the
// file's last close. The host uses it too, so that one flow's data
// directory has one writer.
func TryLock(f *os.File) error { return tryLock(f) }
