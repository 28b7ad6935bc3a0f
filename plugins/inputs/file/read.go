package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mdrsflow/mdrsflow/runtime/zeeklog"
	"github.com/mdrsflow/mdrsflow/sdk"
)

// errStop says the flow is stopping: ctx was cancelled or emit failed.
var errStop = errors.New("flow stopping")

// readOnce reads every matching file to its end, one after the other, and
// emits the last partial batch.
func (f *File) readOnce(ctx context.Context, emit sdk.Emit) error {
	paths := f.match()
	if len(paths) == 0 {
		return fmt.Errorf("file input: no file matches paths %q (exclude %q); check the "+
			"paths setting and that the files exist", f.Paths, f.Exclude)
	}

	files, regular := 0, 0
	var other string
	for _, path := range paths {
		fi, err := os.Stat(path)
		if err != nil || !fi.Mode().IsRegular() {
			if err == nil && other == "" {
				other = path
			}
			continue
		}
		regular++
		key := identity(path, fi)
		if f.files[key] != nil {
			continue // the same file under a second name
		}
		st := f.open(path, fi, key, false)
		if st == nil || st.f == nil {
			continue
		}
		files++
		err = f.readAll(ctx, emit, st)
		f.closeFile(st)
		if err != nil {
			return nil // the flow is stopping
		}
	}
	if err := f.flush(ctx, emit); err != nil {
		return nil
	}
	f.stats.finished(files)
	if n := f.stats.unreadable.Load(); n > 0 {
		return fmt.Errorf("file input: %d read error(s), logged above with the file, left data "+
			"unread; the rest was read: %w", n, sdk.ErrIncomplete)
	}
	if regular == 0 && other != "" {
		return fmt.Errorf("file input: paths %q match only directories or other files that are "+
			"not regular files (%s, for one); name the log files, e.g. %s",
			f.Paths, other, filepath.Join(other, "*.log"))
	}
	return nil
}

// readAll reads st to its end.
func (f *File) readAll(ctx context.Context, emit sdk.Emit, st *fileState) error {
	for st.zr != nil && !st.eof {
		if _, err := f.readSome(ctx, emit, st, f.BatchSize); err != nil {
			return err
		}
	}
	if st.eof {
		f.finish(st)
	}
	return nil
}

// readSome reads up to limit records from st into the batch, emitting the
// batch whenever it fills. It sets st.eof when the data ran out. A read
// error is logged and closes the file: a plain file is opened again at the
// next scan, a gzip file is given up at the point of the error.
func (f *File) readSome(ctx context.Context, emit sdk.Emit, st *fileState, limit int) (int, error) {
	n := 0
	for n < limit {
		if ctx.Err() != nil {
			return n, errStop
		}
		rec, err := st.zr.Next()
		if pos := st.zr.Position(); pos.Offset != st.read.Offset {
			st.read = pos
			st.grewAt = time.Now()
		}
		if errors.Is(err, io.EOF) {
			st.eof = true
			f.settle(st)
			return n, nil
		}
		if err != nil {
			f.stats.readFailed(st.path, st.read, st.gz, err)
			if st.gz {
				f.finish(st) // the rest of a damaged gzip file cannot be read
			}
			f.closeFile(st)
			return n, nil
		}
		st.eof = false
		f.add(st, rec)
		n++
		if len(f.batch) >= f.BatchSize {
			if err := f.flush(ctx, emit); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// add puts one record into the batch being built.
func (f *File) add(st *fileState, rec zeeklog.Record) {
	r := sdk.Record{
		Data:   rec.Data,
		Path:   rec.Path,
		Source: st.base + ":" + strconv.FormatInt(rec.Line, 10),
		Error:  rec.Err,
	}
	if rec.Err != "" {
		f.stats.malformedLine(r.Source, rec.Err)
	}
	if len(f.batch) == 0 {
		f.batchAt = time.Now()
		f.batch = make([]sdk.Record, 0, min(f.BatchSize, 4096))
	}
	f.batch = append(f.batch, r)
	if !st.inBatch {
		st.inBatch = true
		f.contrib = append(f.contrib, st)
	}
	f.stats.records.Add(1)
}

// flush emits the batch being built, if any. emit is called without mu.
func (f *File) flush(ctx context.Context, emit sdk.Emit) error {
	if len(f.batch) == 0 {
		return nil
	}
	if err := emit(ctx, f.seal()); err != nil {
		return errStop
	}
	return nil
}

// follow reads files as they grow until ctx is cancelled.
func (f *File) follow(ctx context.Context, emit sdk.Emit) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C

	first, warned := true, false
	var nextScan time.Time
	for {
		if ctx.Err() != nil {
			return nil
		}
		if now := time.Now(); !now.Before(nextScan) {
			for _, st := range f.scan(first) {
				if err := f.truncated(ctx, emit, st); err != nil {
					return nil
				}
			}
			first = false
			nextScan = now.Add(f.PollInterval)
			if len(f.files) == 0 && !warned {
				// Often a mistake in paths, but in follow mode the files
				// may simply not exist yet; say so once and keep looking.
				f.stats.log.Warn("no file matches paths yet; still looking every poll_interval. "+
					"If the files should exist, check the paths setting", "paths", f.Paths,
					"exclude", f.Exclude, "poll_interval", f.PollInterval)
				warned = true
			}
		}

		progressed := false
		for _, st := range f.openFiles() {
			n, err := f.readSome(ctx, emit, st, f.BatchSize)
			if err != nil {
				return nil
			}
			progressed = progressed || n > 0
			if st.eof {
				if err := f.atEnd(ctx, emit, st); err != nil {
					return nil
				}
			}
		}
		if len(f.batch) > 0 && time.Since(f.batchAt) >= f.BatchTimeout {
			if err := f.flush(ctx, emit); err != nil {
				return nil
			}
		}
		if progressed {
			continue
		}

		wait := time.Until(nextScan)
		if len(f.batch) > 0 {
			wait = min(wait, time.Until(f.batchAt.Add(f.BatchTimeout)))
		}
		if wait <= 0 {
			continue
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
	}
}

// openFiles returns the files with an open handle, in path order.
func (f *File) openFiles() []*fileState {
	var out []*fileState
	for _, st := range f.files {
		if st.zr != nil {
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b *fileState) int { return strings.Compare(a.path, b.path) })
	return out
}

// atEnd decides what to do with a file that has no more data for now: a
// gzip file is finished; a file rotated away is finished once it has been
// quiet for drainGrace (its writer may still flush to it); a file quiet
// for idleClose is closed until it grows.
//
// Limitation: data written to a rotated file after it was finished, or
// left unread in it when mdrsflow stops, is not read unless a glob
// matches the file under its new name (or its compressed copy) — a
// rotated file is otherwise out of sight; a fix needs the positions file
// to remember open rotated files by inode and look for them on restart.
func (f *File) atEnd(ctx context.Context, emit sdk.Emit, st *fileState) error {
	quiet := time.Since(st.grewAt)
	switch {
	case st.gz:
		f.finish(st)
		f.closeFile(st)
	case st.gone && quiet >= f.drainGrace:
		// A last line without its newline will get none now.
		st.zr.Finish()
		st.eof = false
		if err := f.readAll(ctx, emit, st); err != nil {
			return err
		}
		f.stats.rotatedDone(st.path, st.read)
		f.closeFile(st)
	case !st.gone && quiet >= f.idleClose:
		f.stats.idleClosed(st.path, st.read.Offset)
		f.closeFile(st)
	}
	return nil
}

// truncated starts st over from its beginning after a copy-truncate or a
// rewrite in place. What was buffered of the old content (a last line
// without its newline) is emitted first, in a batch of its own, so that
// its acknowledgement cannot move the new content's position.
func (f *File) truncated(ctx context.Context, emit sdk.Emit, st *fileState) error {
	f.stats.fileTruncated(st.path, st.read.Offset)
	if st.zr != nil {
		st.zr.Finish()
		st.eof = false
		for !st.eof && st.zr != nil {
			if _, err := f.readSome(ctx, emit, st, f.BatchSize); err != nil {
				return err
			}
		}
	}
	if st.inBatch {
		if err := f.flush(ctx, emit); err != nil {
			return err
		}
	}

	osf := st.f
	if osf == nil {
		var err error
		if osf, err = os.Open(st.path); err != nil {
			f.openFailed(st.path, err)
			return nil
		}
	}
	fp, err := readFingerprint(osf, false)
	if err != nil {
		fp = fingerprint{}
	}
	f.restart(st, fp)
	st.f, st.zr = nil, nil
	if err := f.startReader(st, osf, zeeklog.Position{}, false, 0); err != nil {
		osf.Close()
		f.openFailed(st.path, err)
	}
	return nil
}
