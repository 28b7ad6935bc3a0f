// Package file is the output that appends events as NDJSON to one file per
// target in a folder: an event routed to target `logs-zeek.conn-acme` is a
// line of `<path>/logs-zeek.conn-acme.ndjson`.
//
// A Write groups its records by target and appends each group with one
// write call, so a record is Delivered only once its bytes are in the file
// (and on disk, with sync on). When a write fails halfway, the file is cut
// back to where it was, so a retried record is not written twice and no
// half line is left for the next one to join.
package file

import (
	"bytes"
	"container/list"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/mdrsflow/mdrsflow/sdk"
)

//go:embed sample.yaml
var sample []byte

func init() {
	sdk.Register(sdk.Registration{
		Kind:    sdk.KindOutput,
		Name:    "file",
		Summary: "append events as NDJSON, one file per target",
		New:     func() any { return New() },
		Sample:  sample,
	})
}

// MaxTargetLen is the longest target accepted as a file name, in bytes.
const MaxTargetLen = 200

// File is the file output. Its exported fields are its settings; see
// sample.yaml for what each one means.
type File struct {
	Path         string `yaml:"path"`
	Sync         bool   `yaml:"sync"`
	MaxOpenFiles int    `yaml:"max_open_files"`

	mu      sync.Mutex // Write and Close
	log     *slog.Logger
	started bool
	files   map[string]*openFile
	lru     list.List // of *openFile, most recently used first
	failing bool      // the last write failed; log the recovery
	spare   [][]byte  // line buffers of earlier writes, for reuse
}

// maxSpare and maxSpareBytes bound the line buffers kept between writes:
// one per target of a batch, and together about what one batch needs.
const (
	maxSpare      = 32
	maxSpareBytes = 4 << 20
)

type openFile struct {
	target string
	path   string
	f      *os.File
	elem   *list.Element
}

// New returns the output with its defaults set.
func New() *File {
	return &File{MaxOpenFiles: 1024}
}

// Validate checks the settings without touching the file system.
func (o *File) Validate() error {
	var errs []error
	if o.Path == "" {
		errs = append(errs, errors.New("file: path is required: the folder to write "+
			"<target>.ndjson files into"))
	}
	if o.MaxOpenFiles < 1 {
		errs = append(errs, fmt.Errorf("file: max_open_files is %d; it must be at least 1",
			o.MaxOpenFiles))
	}
	return errors.Join(errs...)
}

// Start creates the folder when it does not exist.
func (o *File) Start(_ context.Context, env sdk.Env) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.log = env.Logger
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(o.Path, 0o750); err != nil {
		return fmt.Errorf("file: create folder (setting path): %w", err)
	}
	if lim := openFileLimit(); lim > 0 && uint64(o.MaxOpenFiles) > lim/2 {
		keep := max(int(lim/2), 1)
		o.log.Warn("max_open_files is more than half of this process's limit on open files; "+
			"keeping fewer open. Raise the limit (ulimit -n, or LimitNOFILE= in a systemd unit) "+
			"to keep more", "max_open_files", o.MaxOpenFiles, "limit", lim, "keeping", keep)
		o.MaxOpenFiles = keep
	}
	o.files = map[string]*openFile{}
	o.started = true
	o.log.Info("writing files", "path", o.Path, "sync", o.Sync)
	return nil
}

// Write appends each record's Data as one line to its target's file and
// returns one Result per record, in order. It is called from one goroutine
// at a time and does not keep recs.
func (o *File) Write(ctx context.Context, recs []sdk.Record) []sdk.Result {
	o.mu.Lock()
	defer o.mu.Unlock()
	res := make([]sdk.Result, len(recs))
	if !o.started {
		for i := range res {
			res[i] = sdk.Result{Status: sdk.Retry, Reason: "file output is not started"}
		}
		return res
	}

	type group struct {
		buf []byte
		idx []int
	}
	groups := map[string]*group{}
	var order []string
	for i := range recs {
		target, reason := targetOf(&recs[i])
		if reason == "" {
			var line []byte
			line, reason = oneLine(recs[i].Data)
			if reason == "" {
				g := groups[target]
				if g == nil {
					g = &group{buf: o.takeSpare()}
					groups[target] = g
					order = append(order, target)
				}
				g.buf = append(append(g.buf, line...), '\n')
				g.idx = append(g.idx, i)
				continue
			}
		}
		res[i] = sdk.Result{Status: sdk.Rejected, Reason: reason}
	}

	for _, target := range order {
		g := groups[target]
		r := sdk.Result{Status: sdk.Delivered}
		if err := ctx.Err(); err != nil {
			r = sdk.Result{Status: sdk.Retry, Reason: "write cancelled: " + err.Error()}
		} else if err := o.append(target, g.buf); err != nil {
			r = sdk.Result{Status: sdk.Retry, Reason: err.Error()}
		}
		for _, i := range g.idx {
			res[i] = r
		}
		o.keepSpare(g.buf)
	}
	return res
}

// keepSpare keeps b for a later write while the spares stay within bounds.
func (o *File) keepSpare(b []byte) {
	total := cap(b)
	for _, x := range o.spare {
		total += cap(x)
	}
	if len(o.spare) < maxSpare && total <= maxSpareBytes {
		o.spare = append(o.spare, b[:0])
	}
}

// takeSpare returns an empty line buffer, reusing an earlier one.
func (o *File) takeSpare() []byte {
	if n := len(o.spare); n > 0 {
		b := o.spare[n-1]
		o.spare = o.spare[:n-1]
		return b
	}
	return nil
}

// append writes buf to the target's file and logs when writing starts to
// fail or works again.
func (o *File) append(target string, buf []byte) error {
	err := o.appendTo(target, buf)
	switch {
	case err != nil && !o.failing:
		o.failing = true
		o.log.Error("write failed; events will be retried", "err", err)
	case err == nil && o.failing:
		o.failing = false
		o.log.Info("writing again", "path", o.Path)
	}
	return err
}

// appendTo writes buf to the target's file, and syncs it when asked. On
// failure it cuts the file back to its size before the write and closes it,
// so the next attempt starts from whole lines with a fresh descriptor.
func (o *File) appendTo(target string, buf []byte) error {
	of, err := o.get(target)
	if err != nil {
		return err
	}
	n, err := of.f.Write(buf)
	if err == nil && o.Sync {
		err = of.f.Sync()
	}
	if err == nil && unlinked(of.f) {
		// Written to a file that no longer has a name: the lines would
		// be gone with its last descriptor. Write them again to a new
		// file (get recreates the folder); make it now, so that when it
		// cannot be made the error says why.
		o.closeFile(of)
		if _, gerr := o.get(target); gerr != nil {
			return fmt.Errorf("file: %s was deleted (or its folder was) while open, and a new one "+
				"cannot be made: %w", of.path, gerr)
		}
		return fmt.Errorf("file: %s was deleted (or its folder was) while open; "+
			"writing these events again to a new file", of.path)
	}
	if err == nil {
		return nil
	}
	// The file is opened for appending, so the n bytes that made it are its
	// last ones. Its size is read now rather than remembered, so a
	// logrotate copytruncate before the write is harmless.
	if n > 0 {
		if terr := o.cutBack(of.f, int64(n)); terr != nil {
			o.log.Error("cannot remove a partly written line; the file may hold a broken line",
				"path", of.path, "err", terr)
		}
	}
	o.closeFile(of)
	return fmt.Errorf("file: write %s: %w", of.path, err)
}

// cutBack removes the last n bytes of f.
func (o *File) cutBack(f *os.File, n int64) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Size() < n {
		return fmt.Errorf("the file holds %d bytes, fewer than the %d just written: it was "+
			"truncated meanwhile", st.Size(), n)
	}
	return f.Truncate(st.Size() - n)
}

// get returns the open file of a target, opening it and closing the least
// recently used one when max_open_files are open.
//
// Limitation: an open file is never checked for having been renamed or
// removed — a rename-based log rotation keeps receiving lines in the old
// file until it is closed (restart, or pushed out by max_open_files);
// comparing the path's inode with the descriptor's on each Write would
// catch it.
//
// Limitation: one writer per folder — a second writer's lines could
// interleave with ours, and the cut-back after a failed write in append
// could remove them; a lock file in the folder would refuse the second.
func (o *File) get(target string) (*openFile, error) {
	if of := o.files[target]; of != nil {
		o.lru.MoveToFront(of.elem)
		return of, nil
	}
	for len(o.files) >= o.MaxOpenFiles {
		o.closeFile(o.lru.Back().Value.(*openFile))
	}

	path := filepath.Join(o.Path, target+".ndjson")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o640)
	if errors.Is(err, fs.ErrNotExist) {
		// The folder was removed while the flow ran: make it again,
		// as Start did.
		if mkErr := os.MkdirAll(o.Path, 0o750); mkErr != nil {
			return nil, fmt.Errorf("file: the folder %s is gone and cannot be made again: %w", o.Path, mkErr)
		}
		o.log.Warn("the output folder was removed while the flow ran; made it again", "path", o.Path)
		f, err = os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o640)
	}
	if err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	if err := o.wholeLines(f, path); err != nil {
		_ = f.Close()
		return nil, err
	}
	of := &openFile{target: target, path: path, f: f}
	of.elem = o.lru.PushFront(of)
	o.files[target] = of
	return of, nil
}

// wholeLines cuts off a partial last line of f, which a crash in the
// middle of a write leaves behind; appending after it would corrupt the
// next line too.
func (o *File) wholeLines(f *os.File, path string) error {
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("file: stat %s: %w", path, err)
	}
	size := st.Size()
	end := size
	chunk := make([]byte, 64<<10)
	for end > 0 {
		start := max(end-int64(len(chunk)), 0)
		b := chunk[:end-start]
		if _, err := f.ReadAt(b, start); err != nil && err != io.EOF {
			return fmt.Errorf("file: read %s: %w", path, err)
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			end = start + int64(i) + 1
			break
		}
		end = start
	}
	if end == size {
		return nil
	}
	if err := f.Truncate(end); err != nil {
		return fmt.Errorf("file: cut partial last line of %s: %w", path, err)
	}
	o.log.Warn("removed a partial last line left by an interrupted write", "path", path,
		"bytes", size-end)
	return nil
}

func (o *File) closeFile(of *openFile) {
	o.lru.Remove(of.elem)
	delete(o.files, of.target)
	if err := of.f.Close(); err != nil {
		o.log.Warn("close failed", "path", of.path, "err", err)
	}
}

// Close closes every open file. It is safe after a failed Start and more
// than once.
func (o *File) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	var errs []error
	for _, of := range o.files {
		if err := of.f.Close(); err != nil {
			errs = append(errs, fmt.Errorf("file: close %s: %w", of.path, err))
		}
	}
	o.files = nil
	o.lru.Init()
	o.started = false
	return errors.Join(errs...)
}

// targetOf returns the record's target for this output, or why it cannot
// be used as a file name.
func targetOf(r *sdk.Record) (string, string) {
	if len(r.Routes) == 0 {
		return "", "no target: the record has no route to this output"
	}
	t := r.Routes[0].Target
	if reason := CheckTarget(t); reason != "" {
		return "", reason
	}
	return t, ""
}

// CheckTarget returns why a target cannot be used as a file name, or "".
// A target must start with a lowercase letter or digit, hold only a-z, 0-9,
// '.', '_', '+' and '-', hold no "..", and be at most MaxTargetLen bytes.
// Upper case is refused so that targets differing only in case never share
// a file on a case-insensitive file system.
func CheckTarget(t string) string {
	show := t
	if len(show) > 60 {
		show = show[:60] + "…"
	}
	switch {
	case t == "":
		return "no target: the record has no route to this output"
	case len(t) > MaxTargetLen:
		return fmt.Sprintf("target %q is %d bytes; a file name allows %d", show, len(t),
			MaxTargetLen)
	case !isLowerOrDigit(t[0]):
		return fmt.Sprintf("target %q must start with a lowercase letter or a digit "+
			"to be a file name", show)
	case strings.Contains(t, ".."):
		return fmt.Sprintf("target %q contains \"..\", which a file name may not", show)
	}
	for _, c := range t {
		if !isLowerOrDigit(c) && c != '.' && c != '_' && c != '+' && c != '-' {
			return fmt.Sprintf("target %q holds %q; a file name allows a-z, 0-9, '.', '_', "+
				"'+' and '-'", show, c)
		}
	}
	return ""
}

func isLowerOrDigit[T byte | rune](c T) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// oneLine returns the event as one line, compacting JSON that spans
// several, or why it cannot be written.
func oneLine(data []byte) ([]byte, string) {
	if bytes.IndexByte(data, '\n') >= 0 {
		var c bytes.Buffer
		if err := json.Compact(&c, data); err != nil {
			return nil, "event is not valid JSON: " + err.Error()
		}
		data = c.Bytes()
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, "event is empty"
	}
	return data, ""
}

// Interface guards.
var (
	_ sdk.Output    = (*File)(nil)
	_ sdk.Validator = (*File)(nil)
	_ sdk.Starter   = (*File)(nil)
	_ sdk.Closer    = (*File)(nil)
)
