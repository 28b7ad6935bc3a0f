package file

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mdrsflow/mdrsflow/runtime/zeeklog"
)

// match returns the regular files the globs find now, sorted, without the
// excluded ones.
//
// Limitation: patterns are filepath.Match globs — "**" matches one
// directory level like "*", so a tree of dated directories needs one
// pattern per level; supporting it needs a directory walk per poll.
func (f *File) match() []string {
	var out []string
	for _, p := range f.Paths {
		found, _ := filepath.Glob(p) // patterns were checked by Validate
		for _, path := range found {
			if !f.excluded(path) {
				out = append(out, path)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (f *File) excluded(path string) bool {
	base := filepath.Base(path)
	for _, p := range f.Exclude {
		if ok, _ := filepath.Match(p, path); ok {
			return true
		}
		if ok, _ := filepath.Match(p, base); ok {
			return true
		}
	}
	return false
}

// open starts reading a file found at path, where reading it should
// resume: at its saved position; for a file whose content is already
// known under another identity (a rotated file that was compressed, a
// copy), where that one got to; else at its beginning, or its end when
// atEnd. It returns nil when the file cannot be read (the reason is
// logged). A gzip file that was read completely before, or that atEnd
// skips, comes back finished, without an open handle.
func (f *File) open(path string, fi os.FileInfo, key string, atEnd bool) *fileState {
	osf, err := os.Open(path)
	if err != nil {
		f.openFailed(path, err)
		return nil
	}
	gz := isGzip(osf)
	fp, err := readFingerprint(osf, gz)
	if err != nil {
		osf.Close()
		f.openFailed(path, fmt.Errorf("read the start of the file: %w", err))
		return nil
	}
	delete(f.openErrs, path)
	st := &fileState{key: key, path: path, base: filepath.Base(path), gz: gz, fp: fp}

	start, from := f.startAt(st, atEnd)
	f.files[key] = st
	if from == fromDone || from == fromSkipped {
		osf.Close()
		f.mu.Lock()
		st.finished, st.final = true, start
		if from == fromSkipped && st.entry != nil {
			st.entry.Done = true
		}
		f.mu.Unlock()
		f.stats.fileSkipped(path, from)
		return st
	}
	if !gz && start.Offset > fi.Size() {
		f.stats.fileShrunk(path, start.Offset, fi.Size())
		start, from = zeeklog.Position{}, fromBeginning
	}

	if err := f.startReader(st, osf, start, from == fromEnd, fi.Size()); err != nil {
		osf.Close()
		delete(f.files, key)
		f.openFailed(path, err)
		return nil
	}
	f.stats.fileOpened(path, from, st.read, gz)
	return st
}

// Where reading a file starts, as logged.
const (
	fromBeginning = "beginning"
	fromEnd       = "end"
	fromSaved     = "saved position"
	fromContent   = "position of a file with the same content"
	fromDone      = "read before"
	fromSkipped   = "start_at: end"
)

// startAt decides where st's reading starts and ties st to its saved
// entry.
func (f *File) startAt(st *fileState, atEnd bool) (zeeklog.Position, string) {
	f.mu.Lock()
	defer f.mu.Unlock()

	var e *entry
	if f.store != nil {
		e = f.store.entries[st.key]
	}
	var start zeeklog.Position
	from := fromBeginning
	switch {
	case e != nil && st.fp.matches(e):
		start, from = e.position(), fromSaved
		if e.Done && st.gz {
			from = fromDone
		}
	case st.fp.full():
		e = nil // an entry under this key with other content is stale
		if p, ok := f.byContent(st); ok {
			start, from = p, fromContent
		}
	default:
		e = nil
	}
	if from == fromBeginning && atEnd {
		from = fromEnd
		if st.gz {
			from = fromSkipped
		}
	}

	if f.store == nil {
		return start, from
	}
	if e == nil {
		e = &entry{}
		e.setPosition(start)
		f.store.entries[st.key] = e
	}
	e.Path, e.Gzip, e.Seen = st.path, st.gz, time.Now()
	setFingerprint(e, st.fp)
	st.entry = e
	f.store.dirty = true
	return start, from
}

// byContent looks for a file with the same content start under another
// identity and returns how far it was read: for a file being read now,
// its read position; else its saved one. Called with mu held.
func (f *File) byContent(st *fileState) (zeeklog.Position, bool) {
	sum, _ := st.fp.sum(len(st.fp.head))
	var best zeeklog.Position
	found := false
	consider := func(p zeeklog.Position) {
		if !found || p.Offset > best.Offset {
			best, found = p, true
		}
	}
	for _, o := range f.files {
		if o != st && bytes.Equal(o.fp.head, st.fp.head) {
			consider(o.read)
		}
	}
	if f.store != nil {
		for k, e := range f.store.entries {
			if k != st.key && e.FingerprintBytes == len(st.fp.head) && e.Fingerprint == sum {
				consider(e.position())
			}
		}
	}
	return best, found
}

// startReader sets up st's zeeklog reader at start, or at the end of the
// file's data when toEnd.
func (f *File) startReader(st *fileState, osf *os.File, start zeeklog.Position,
	toEnd bool, size int64) error {
	opts := []zeeklog.Option{zeeklog.WithMaxLineBytes(f.MaxLineBytes)}
	if f.Mode == ModeFollow && !st.gz {
		opts = append(opts, zeeklog.WithFollow())
	}

	// Read up to the start when it cannot be sought to: to learn the line
	// number and the TSV header in force at the end of a file, and in a
	// gzip file, which has no offsets to seek to.
	//
	// Limitation: this reads (and for gzip decompresses) everything
	// before the start, once per open — slow at startup for multi-GB
	// files with start_at: end; a fix needs the header to be read from the
	// top and the line count given up.
	skip := start.Offset
	if toEnd {
		skip = size
	}
	seekTo := start.Offset
	if toEnd || st.gz {
		seekTo = 0
	}
	if _, err := osf.Seek(seekTo, io.SeekStart); err != nil {
		return err
	}

	var zr *zeeklog.Reader
	if seekTo > 0 {
		zr = zeeklog.NewReader(osf, st.path, append(opts, zeeklog.WithResume(start))...)
	} else {
		zr = zeeklog.NewReader(osf, st.path, opts...)
		if err := zr.Skip(skip); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
	}

	st.f, st.zr = osf, zr
	st.read = zr.Position()
	st.grewAt = time.Now()
	st.eof = false
	if toEnd && st.entry != nil {
		f.mu.Lock()
		f.commit(st, st.read) // skipped on purpose: not to be read after a restart
		f.mu.Unlock()
	}
	return nil
}

// reopen opens a closed file again where reading stopped. It returns false
// when the file at st.path is no longer the same one.
func (f *File) reopen(st *fileState) bool {
	osf, err := os.Open(st.path)
	if err != nil {
		f.openFailed(st.path, err)
		return false
	}
	fi, err := osf.Stat()
	if err != nil || identity(st.path, fi) != st.key {
		osf.Close()
		return false
	}
	if err := f.startReader(st, osf, st.read, false, 0); err != nil {
		osf.Close()
		f.openFailed(st.path, err)
		return false
	}
	return true
}

// openFailed logs that a file cannot be read, once per file and reason.
func (f *File) openFailed(path string, err error) {
	msg := err.Error()
	if f.openErrs[path] == msg {
		return
	}
	f.openErrs[path] = msg
	f.stats.openFailed(path, err)
}

// closeFile closes st's handle; st stays known.
func (f *File) closeFile(st *fileState) {
	if st.f != nil {
		st.f.Close()
	}
	st.f, st.zr = nil, nil
}

// closeAll closes every open file. Run calls it on return.
func (f *File) closeAll() {
	for _, st := range f.files {
		f.closeFile(st)
	}
}

// scan looks at what the globs find now: it opens new files, notices
// files that were rotated away, truncated or rewritten, and opens again
// idle files that grew. first says this is the first scan of Run.
func (f *File) scan(first bool) (truncated []*fileState) {
	now := time.Now()
	seen := map[string]bool{}
	for _, path := range f.match() {
		fi, err := os.Stat(path)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		key := identity(path, fi)
		if seen[key] {
			continue // the same file under a second name
		}
		seen[key] = true
		if first {
			f.initial[key] = true
		}

		st := f.files[key]
		if st == nil {
			if strings.HasSuffix(path, ".gz") && !f.stable(key, fi, now) {
				continue // still being compressed, perhaps
			}
			delete(f.sizes, key)
			f.open(path, fi, key, f.StartAt == "end" && f.initial[key])
			delete(f.initial, key)
			continue
		}
		st.gone = false
		if st.path != path {
			f.stats.fileRenamed(st.path, path)
			st.path = path
		}
		f.touch(st, now)
		if st.gz || st.finished {
			continue
		}
		if f.rewritten(st, fi) {
			truncated = append(truncated, st)
			continue
		}
		if st.f == nil && fi.Size() > st.read.Offset {
			f.reopen(st)
		}
	}

	for key := range f.sizes {
		if !seen[key] {
			delete(f.sizes, key)
			delete(f.initial, key)
		}
	}
	for key, st := range f.files {
		if seen[key] {
			continue
		}
		if !st.gone && st.f != nil {
			f.stats.fileRotated(st.path, st.read.Offset)
		}
		st.gone = true
		if st.f == nil {
			delete(f.files, key) // its entry stays for forgetAfter
		}
	}
	return truncated
}

// stable reports whether a file has kept its size for drainGrace. A
// compressed file is read once and never again, so it is left alone
// while its writer may still be at work.
//
// Limitation: a compressor that stalls longer than drainGrace is taken
// to be done — the file gives a read error at its cut end and the rest
// is not read; a fix needs to treat an unexpected end of a gzip stream as
// "come back later" and read the file again from its saved position.
func (f *File) stable(key string, fi os.FileInfo, now time.Time) bool {
	s, ok := f.sizes[key]
	if !ok || s.size != fi.Size() {
		f.sizes[key] = sizeAt{fi.Size(), now}
		return false
	}
	return now.Sub(s.at) >= f.drainGrace
}

// sizeAt is a file's size and when it was first seen at that size.
type sizeAt struct {
	size int64
	at   time.Time
}

// touch records that a glob still finds st.
func (f *File) touch(st *fileState, now time.Time) {
	if st.entry == nil {
		return
	}
	f.mu.Lock()
	if now.Sub(st.entry.Seen) > seenGranularity || st.entry.Path != st.path {
		st.entry.Seen, st.entry.Path = now, st.path
		f.store.dirty = true
	}
	f.mu.Unlock()
}

// rewritten reports whether a plain file was truncated or rewritten since
// it was read: it is shorter than the read position, or its first bytes
// changed. It also lengthens the fingerprint of a file that grew.
//
// Limitation: this runs once per poll — a file truncated and grown past
// the old read position within one poll interval is first read on from
// that position, in the middle of the new content, and then again from
// its start once noticed: those lines come twice, and the cut one as an
// error record; a fix needs the writer's cooperation (rotation by rename)
// or a check of the first bytes before every read.
func (f *File) rewritten(st *fileState, fi os.FileInfo) bool {
	if fi.Size() < st.read.Offset {
		return true
	}
	if st.f == nil && fi.Size() == st.read.Offset {
		return false // closed while idle, and still the same size
	}
	var src *os.File
	if st.f != nil {
		src = st.f
	} else {
		var err error
		if src, err = os.Open(st.path); err != nil {
			return false
		}
		defer src.Close()
	}
	fp, err := readFingerprint(src, false)
	if err != nil {
		return false
	}
	old := st.fp.head
	if len(fp.head) < len(old) || !bytes.Equal(fp.head[:len(old)], old) {
		return true
	}
	if len(fp.head) > len(old) {
		st.fp = fp
		if st.entry != nil {
			f.mu.Lock()
			setFingerprint(st.entry, fp)
			f.store.dirty = true
			f.mu.Unlock()
		}
	}
	return false
}
