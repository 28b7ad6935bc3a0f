package dlq

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"
)

// ErrBusy says a dead-letter file is locked: the running flow appends to
// it, or another replay works on it.
var ErrBusy = errors.New("dead-letter file is in use")

// maxLine bounds one letter's line when reading; a longer line is
// counted unreadable and kept as it is.
const maxLine = 256 << 20

// line is one line of a dead-letter file: the letter, or nil when the
// line cannot be read as one (kept verbatim by a replay).
type line struct {
	raw    []byte
	letter *Letter
}

// readLines reads every line of a dead-letter file.
func readLines(f *os.File) ([]line, error) {
	var out []line
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	for sc.Scan() {
		raw := append([]byte(nil), sc.Bytes()...)
		if len(raw) == 0 {
			continue
		}
		var l Letter
		if err := json.Unmarshal(raw, &l); err != nil || l.Output == "" {
			out = append(out, line{raw: raw})
			continue
		}
		out = append(out, line{raw: raw, letter: &l})
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("read %s: %w", f.Name(), err)
	}
	return out, nil
}

// Count is the number of letters of one output, target and reason class.
type Count struct {
	Output, Target, Reason string
	Events                 int
}

// Summary describes a flow's dead-letter queue.
type Summary struct {
	Dir    string
	Files  int
	Bytes  int64
	Events int
	// Unreadable counts lines that are not letters (a file cut short by
	// a crash, edited by hand).
	Unreadable     int
	Oldest, Newest time.Time
	// Counts are by output, target and reason class, largest first.
	Counts []Count
}

// Summarize reads every file in dir. A dir that does not exist is an
// empty queue.
func Summarize(dir string) (Summary, error) {
	s := Summary{Dir: dir}
	files, err := Files(dir)
	if err != nil {
		return s, err
	}
	counts := map[Count]int{}
	for _, p := range files {
		f, err := os.Open(p)
		if errors.Is(err, os.ErrNotExist) {
			continue // replayed away meanwhile
		}
		if err != nil {
			return s, fmt.Errorf("dead-letter queue: %w", err)
		}
		lines, err := readLines(f)
		fi, _ := f.Stat()
		f.Close()
		if err != nil {
			return s, fmt.Errorf("dead-letter queue: %w", err)
		}
		s.Files++
		if fi != nil {
			s.Bytes += fi.Size()
		}
		for _, ln := range lines {
			l := ln.letter
			if l == nil {
				s.Unreadable++
				continue
			}
			s.Events++
			counts[Count{Output: l.Output, Target: l.Target, Reason: ReasonClass(l.Reason)}]++
			if s.Oldest.IsZero() || l.Time.Before(s.Oldest) {
				s.Oldest = l.Time
			}
			if l.Time.After(s.Newest) {
				s.Newest = l.Time
			}
		}
	}
	for c, n := range counts {
		c.Events = n
		s.Counts = append(s.Counts, c)
	}
	sort.Slice(s.Counts, func(i, j int) bool {
		a, b := s.Counts[i], s.Counts[j]
		if a.Events != b.Events {
			return a.Events > b.Events
		}
		if a.Output != b.Output {
			return a.Output < b.Output
		}
		if a.Target != b.Target {
			return a.Target < b.Target
		}
		return a.Reason < b.Reason
	})
	return s, nil
}

var (
	reQuoted  = regexp.MustCompile(`'[^']*'`)
	rePreview = regexp.MustCompile(`(?i)\.?\s*Preview of field's value:.*$`)
)

// ReasonClass is a reason without what differs from one event to the
// next (document ids, previews of values), so that `dlq list` counts
// "failed to parse field [source.ip] of type [ip]" once for all events
// that share it. Field names in brackets are kept.
func ReasonClass(reason string) string {
	r := rePreview.ReplaceAllString(reason, "")
	r = reQuoted.ReplaceAllString(r, "'…'")
	return strings.TrimSpace(r)
}
