// Package stdout is the output that writes events as NDJSON to standard
// output, for trying flows, piping into other tools and tests.
package stdout

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/mdrsflow/mdrsflow/sdk"
)

//go:embed sample.yaml
var sample []byte

func init() {
	sdk.Register(sdk.Registration{
		Kind:    sdk.KindOutput,
		Name:    "stdout",
		Summary: "write events as NDJSON to standard output",
		New:     func() any { return New() },
		Sample:  sample,
	})
}

// Stdout is the stdout output. WithTarget is its only setting.
type Stdout struct {
	WithTarget bool `yaml:"with_target"`

	// Out receives the lines; nil means os.Stdout. Set it before the first
	// Write, for example in a test.
	Out io.Writer `yaml:"-"`

	mu   sync.Mutex
	buf  []byte
	ends []int
}

// New returns the output with its defaults set.
func New() *Stdout { return &Stdout{} }

// Write writes one line per record with a single call to Out and returns
// one Result per record, in order. Records whose line was written whole
// are Delivered; when Out fails partway, the rest are Retry with the
// error. It is safe for concurrent use, though the engine does not need it.
func (s *Stdout) Write(ctx context.Context, recs []sdk.Record) []sdk.Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	res := make([]sdk.Result, len(recs))
	if err := ctx.Err(); err != nil {
		for i := range res {
			res[i] = sdk.Result{Status: sdk.Retry, Reason: "write cancelled: " + err.Error()}
		}
		return res
	}

	buf, ends := s.buf[:0], s.ends[:0]
	for i := range recs {
		line, reason := s.line(buf, &recs[i])
		if reason != "" {
			res[i] = sdk.Result{Status: sdk.Rejected, Reason: reason}
			ends = append(ends, -1)
			continue
		}
		buf = line
		ends = append(ends, len(buf))
	}

	out := s.Out
	if out == nil {
		out = os.Stdout
	}
	n, err := out.Write(buf)
	if err == nil && n < len(buf) {
		err = io.ErrShortWrite
	}
	for i, end := range ends {
		switch {
		case end < 0:
		case end <= n:
			res[i] = sdk.Result{Status: sdk.Delivered}
		default:
			res[i] = sdk.Result{Status: sdk.Retry, Reason: "stdout: " + err.Error()}
		}
	}

	if cap(buf) <= 4<<20 { // keep a normal buffer, let a huge one go
		s.buf, s.ends = buf[:0], ends[:0]
	}
	return res
}

// line appends the record's line to buf, or returns why it cannot.
func (s *Stdout) line(buf []byte, r *sdk.Record) ([]byte, string) {
	data := r.Data
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
	if !s.WithTarget {
		return append(append(buf, data...), '\n'), ""
	}
	if len(r.Routes) == 0 || r.Routes[0].Target == "" {
		return nil, "no target: the record has no route to this output"
	}
	target, _ := json.Marshal(r.Routes[0].Target)
	buf = append(buf, `{"target":`...)
	buf = append(buf, target...)
	buf = append(buf, `,"event":`...)
	buf = append(buf, data...)
	return append(buf, "}\n"...), ""
}

// String describes the output.
func (s *Stdout) String() string { return fmt.Sprintf("stdout(with_target=%v)", s.WithTarget) }

// Interface guards.
var (
	_ sdk.Output   = (*Stdout)(nil)
	_ fmt.Stringer = (*Stdout)(nil)
)
