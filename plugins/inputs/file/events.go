package file

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mdrsflow/mdrsflow/runtime/zeeklog"
)

// logEvery is the least time between two recurring log lines of a kind.
var logEvery = time.Minute

// stats holds the file input's counters and emits all its log lines, so
// that what an operator can see is listed here, in one place.
//
// Counters (totals since Start): records, malformed (records with an
// error), opened (files), rotations, truncations.
type stats struct {
	log *slog.Logger

	records     atomic.Int64
	malformed   atomic.Int64
	opened      atomic.Int64
	rotations   atomic.Int64
	truncations atomic.Int64
	unreadable  atomic.Int64 // open or read errors

	badLines limiter
	saves    limiter
}

func newStats(log *slog.Logger) *stats { return &stats{log: log} }

// fileOpened: Info "reading file", once per file opened.
func (s *stats) fileOpened(path, from string, p zeeklog.Position, gz bool) {
	s.opened.Add(1)
	s.log.Info("reading file", "path", path, "from", from, "offset", p.Offset,
		"line", p.Line, "gzip", gz)
}

// fileSkipped: Debug "skipping compressed file", read before or left out
// by start_at: end.
func (s *stats) fileSkipped(path, why string) {
	s.log.Debug("skipping compressed file", "path", path, "why", why)
}

// fileShrunk: Info "file shorter than saved position"; it is read again
// from its start.
func (s *stats) fileShrunk(path string, offset, size int64) {
	s.log.Info("file shorter than saved position", "path", path, "offset", offset,
		"size", size, "action", "reading it from the start")
}

// fileRenamed: Debug "file renamed", to a name the globs also match.
func (s *stats) fileRenamed(from, to string) {
	s.log.Debug("file renamed", "from", from, "to", to)
}

// fileRotated: Info "file rotated": its name leads elsewhere or nowhere;
// what is left in it is still read.
func (s *stats) fileRotated(path string, offset int64) {
	s.rotations.Add(1)
	s.log.Info("file rotated", "path", path, "offset", offset)
}

// rotatedDone: Info "finished rotated file": drained and closed.
func (s *stats) rotatedDone(path string, p zeeklog.Position) {
	s.log.Info("finished rotated file", "path", path, "offset", p.Offset, "line", p.Line)
}

// fileTruncated: Info "file truncated" (copy-truncate or rewritten in
// place); it is read again from its start.
func (s *stats) fileTruncated(path string, offset int64) {
	s.truncations.Add(1)
	s.log.Info("file truncated", "path", path, "offset", offset,
		"action", "reading it again from the start")
}

// idleClosed: Debug "closing idle file"; it is opened again when it grows.
func (s *stats) idleClosed(path string, offset int64) {
	s.log.Debug("closing idle file", "path", path, "offset", offset)
}

// openFailed: Error "cannot open file"; the caller logs it once per file
// and reason.
func (s *stats) openFailed(path string, err error) {
	s.unreadable.Add(1)
	s.log.Error("cannot open file", "path", path, "err", err)
}

// readFailed: Error "cannot read file" in the middle of a file.
func (s *stats) readFailed(path string, p zeeklog.Position, gz bool, err error) {
	action := "opening it again at the next poll"
	if gz {
		action = "giving up on the rest of this compressed file"
	}
	s.unreadable.Add(1)
	s.log.Error("cannot read file", "path", path, "offset", p.Offset, "line", p.Line,
		"err", err, "action", action)
}

// finished: Info "finished reading", when read_once has read every file.
func (s *stats) finished(files int) {
	s.log.Info("finished reading", "files", files, "records", s.records.Load(),
		"malformed", s.malformed.Load())
}

// malformedLine counts a record with an error. Warn "malformed lines" at
// most once per logEvery, with the count since the last such line and the
// latest one's source and reason.
func (s *stats) malformedLine(source, reason string) {
	s.malformed.Add(1)
	if n, ok := s.badLines.allow(); ok {
		s.log.Warn("malformed lines", "count", n, "source", source, "err", reason,
			"total", s.malformed.Load())
	}
}

// saveFailed: Error "cannot save positions", at most once per logEvery.
// Saving is tried again at the next tick.
func (s *stats) saveFailed(path string, err error) {
	if n, ok := s.saves.allow(); ok {
		s.log.Error("cannot save positions", "path", path, "err", err, "count", n,
			"action", "retrying every second; restarts repeat more until it works")
	}
}

// limiter lets one event through per logEvery and counts the others.
type limiter struct {
	mu    sync.Mutex
	last  time.Time
	count int64
}

// allow counts an event and reports whether to log it, with the number
// of events since the last one logged (this one included).
func (l *limiter) allow() (int64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.count++
	now := time.Now()
	if !l.last.IsZero() && now.Sub(l.last) < logEvery {
		return 0, false
	}
	n := l.count
	l.last, l.count = now, 0
	return n, true
}
