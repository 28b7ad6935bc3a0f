package zeeklog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// DefaultMaxLineBytes is the longest line a Reader turns into a record
// unless told otherwise: 1 MiB.
const DefaultMaxLineBytes = 1 << 20

// Format says how a Reader interprets lines.
type Format string

// The formats a Reader understands.
const (
	// FormatAuto takes lines starting with '#' as TSV header lines and,
	// once a #fields header has been seen, other lines as TSV data; before
	// that, lines are JSON objects. This is the default.
	FormatAuto Format = "auto"
	// FormatJSON takes every non-blank line as one JSON object.
	FormatJSON Format = "json"
	// FormatTSV takes every line as TSV, header or data.
	FormatTSV Format = "tsv"
)

// ParseFormat returns the Format named s: "auto" (or ""), "json" or "tsv".
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case "":
		return FormatAuto, nil
	case FormatAuto, FormatJSON, FormatTSV:
		return f, nil
	}
	return "", fmt.Errorf("unknown format %q (use auto, json or tsv)", s)
}

// Record is one log line turned into an event.
type Record struct {
	// Data is one JSON object. The caller owns it.
	Data []byte
	// Path is the log type: the TSV #path header, else the hint given by
	// WithPath, else the type in the stream's name (see LogType), else "".
	Path string
	// Line is the 1-based line number in the (decompressed) stream,
	// counting header and blank lines.
	Line int64
	// Err is empty for a good record. Otherwise it says what is wrong with
	// the line, and Data is {"event":{"original":"<the line>"}}.
	Err string
}

// Position is how far a Reader has got, to resume from later.
type Position struct {
	// Offset is the number of bytes consumed, always at the end of a
	// line. For gzip input it counts decompressed bytes.
	Offset int64
	// Line is the number of lines consumed.
	Line int64
	// Header holds the TSV header lines in force at Offset, one per line;
	// "" for JSON logs.
	Header string
}

// Option changes how NewReader sets up a Reader.
type Option func(*Reader)

// WithMaxLineBytes sets the longest line turned into a record; a longer
// line becomes an error record holding its first bytes. n < 1 means
// DefaultMaxLineBytes.
func WithMaxLineBytes(n int) Option {
	return func(r *Reader) {
		if n < 1 {
			n = DefaultMaxLineBytes
		}
		r.max = n
	}
}

// WithFormat sets the format; the default is FormatAuto.
func WithFormat(f Format) Option {
	return func(r *Reader) { r.format = f }
}

// WithPath sets the log type used when the stream has no #path header,
// instead of the type found in the stream's name. An empty logType
// changes nothing.
func WithPath(logType string) Option {
	return func(r *Reader) {
		if logType != "" {
			r.hint = logType
		}
	}
}

// WithResume says the stream starts at pos of a log read before (the
// caller has positioned it there, for example by seeking a file to
// pos.Offset): offsets and line numbers continue from pos and pos.Header
// is in force. No gzip detection is done when pos.Offset > 0.
func WithResume(pos Position) Option {
	return func(r *Reader) { r.pos = pos }
}

// WithFollow makes the Reader suited to a file that is still being
// written: at the end of the data, a last line without its newline is
// held back instead of returned, and a later Next continues it once more
// data has arrived. Call Finish when no more data will come.
func WithFollow() Option {
	return func(r *Reader) { r.follow = true }
}

// Reader reads Zeek log records from a stream. It is not safe for
// concurrent use.
type Reader struct {
	name   string
	format Format
	hint   string
	max    int
	follow bool
	done   bool // Finish was called

	lines *lineReader
	pos   Position
	hdr   header
}

// NewReader returns a Reader of the Zeek log in r. name is the stream's
// file name (or another label such as "stdin"): the log type comes from it
// when there is no #path header, and it is used in error messages.
func NewReader(r io.Reader, name string, opts ...Option) *Reader {
	zr := &Reader{
		name:   name,
		format: FormatAuto,
		hint:   LogType(name),
		max:    DefaultMaxLineBytes,
		hdr:    newHeader(),
	}
	for _, o := range opts {
		o(zr)
	}
	zr.lines = newLineReader(r, zr.max, zr.pos.Offset == 0)
	if zr.pos.Header != "" {
		for _, l := range strings.Split(zr.pos.Header, "\n") {
			zr.hdr.apply(l, 0) // line numbers of a saved header are not kept
		}
	}
	return zr
}

// Name returns the name given to NewReader.
func (r *Reader) Name() string { return r.name }

// Position returns how far the Reader has got: just past the line of the
// last record returned, or past the last line consumed by Skip or by a
// Next that returned io.EOF.
func (r *Reader) Position() Position {
	p := r.pos
	p.Header = r.hdr.joined()
	return p
}

// Finish tells a Reader made WithFollow that no more data will come: the
// next Next returns a held-back last line as a record.
func (r *Reader) Finish() { r.done = true }

// Next returns the record of the next line that is neither blank nor a
// header line. It returns io.EOF at the end of the stream and any read
// error (wrapped, naming the stream and line); after a read error other
// than io.EOF the Reader returns it again on every call.
//
// A TSV data line becomes the object Zeek's JSON writer would write for
// it: keys in #fields order, unchanged (dots kept); unset fields left
// out; bool as true/false; count, int and port as integers; time,
// interval and double as numbers with the digits as written; every other
// type as a string; set[T] and vector[T] as arrays of T split on the set
// separator; the empty field as "" or []. Zeek's \xNN escapes (of bytes
// that are not printable, or of a separator inside a value) are kept as
// the literal text they are, as Zeek's JSON writer writes those bytes; a
// backslash that Zeek's ASCII writer doubled is single again.
func (r *Reader) Next() (Record, error) {
	for {
		ln, err := r.lines.next(r.follow && !r.done)
		if err != nil {
			return Record{}, r.wrap(err)
		}
		r.pos.Offset += ln.size
		r.pos.Line++

		if ln.long > 0 {
			return r.fail(ln.text, fmt.Sprintf("line is %d bytes, over the limit of "+
				"%d; event.original holds its first %d bytes (raise max_line_bytes "+
				"if such lines are expected)", ln.long, r.max, len(ln.text))), nil
		}
		text := bytes.TrimSuffix(r.dropBOM(ln), []byte{'\r'})
		if blank(text) {
			continue
		}
		if text[0] == '#' && r.format != FormatJSON {
			r.hdr.apply(string(text), r.pos.Line)
			continue
		}
		return r.record(text), nil
	}
}

// Skip consumes lines without making records until at least n bytes of
// the stream have been consumed, keeping the line count and the TSV
// header up to date. It returns nil when it got there and io.EOF when the
// stream ended first. A caller uses it to resume a stream it cannot seek,
// such as gzip, or to start at the end of a TSV log with its header.
func (r *Reader) Skip(n int64) error {
	for r.pos.Offset < n {
		ln, err := r.lines.next(r.follow && !r.done)
		if err != nil {
			return r.wrap(err)
		}
		r.pos.Offset += ln.size
		r.pos.Line++
		text := r.dropBOM(ln)
		if ln.long == 0 && len(text) > 0 && text[0] == '#' && r.format != FormatJSON {
			r.hdr.apply(string(bytes.TrimSuffix(text, []byte{'\r'})), r.pos.Line)
		}
	}
	return nil
}

// utf8BOM is the byte order mark some Windows tools write at the start of
// a UTF-8 file.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// dropBOM returns the text of ln without a byte order mark when ln is the
// first line of the stream (already counted in pos), so that a log saved
// by such a tool does not lose its first record or header line.
func (r *Reader) dropBOM(ln rawLine) []byte {
	if r.pos.Line == 1 && r.pos.Offset == ln.size {
		return bytes.TrimPrefix(ln.text, utf8BOM)
	}
	return ln.text
}

func (r *Reader) wrap(err error) error {
	if errors.Is(err, io.EOF) {
		return io.EOF
	}
	return fmt.Errorf("read %s after line %d (offset %d): %w", r.name, r.pos.Line,
		r.pos.Offset, err)
}

// record turns one line that is not a header into a record.
func (r *Reader) record(text []byte) Record {
	asJSON := r.format == FormatJSON
	if r.format == FormatAuto {
		// A JSON object amid TSV (say, two logs concatenated) is taken as
		// JSON when it cannot be a TSV row of this header.
		asJSON = !r.hdr.active() ||
			(len(r.hdr.fields) > 1 && jsonShaped(text) &&
				!bytes.Contains(text, []byte(r.hdr.sep)))
	}
	if asJSON {
		return r.json(text)
	}
	if !r.hdr.active() {
		return r.fail(text, "tab-separated data before any #fields header; a Zeek TSV "+
			"log must start with its # header lines (was the start of the file cut off?)")
	}
	data, reason := r.hdr.convert(make([]byte, 0, len(text)+len(text)/2+64), text)
	if reason != "" {
		return r.fail(text, reason)
	}
	return Record{Data: data, Path: r.path(), Line: r.pos.Line}
}

// json checks the shape of a JSON line and passes it through.
//
// Limitation: only the first and last bytes are checked — a line such as
// {"a":} becomes a record and fails later in the filter chain's decoder,
// which gives it its error there; checking the whole line here would
// cost a second parse of every event.
func (r *Reader) json(text []byte) Record {
	t := bytes.Trim(text, " \t\r") // not empty: blank lines never get here
	switch {
	case t[0] != '{':
		if r.format == FormatAuto && bytes.IndexByte(t, '\t') >= 0 {
			return r.fail(text, "tab-separated data before any #fields header; a "+
				"Zeek TSV log must start with its # header lines (was the start of "+
				"the file cut off?)")
		}
		return r.fail(text, "not a JSON object: the line does not start with '{'")
	case t[len(t)-1] != '}':
		return r.fail(text, "incomplete JSON object: the line does not end with '}' "+
			"(cut off while being written?)")
	}
	return Record{Data: append([]byte(nil), text...), Path: r.path(), Line: r.pos.Line}
}

// fail makes the error record for a line.
func (r *Reader) fail(text []byte, reason string) Record {
	data := make([]byte, 0, len(text)+32)
	data = append(data, `{"event":{"original":`...)
	data = appendString(data, text)
	data = append(data, "}}"...)
	return Record{Data: data, Path: r.path(), Line: r.pos.Line, Err: reason}
}

func (r *Reader) path() string {
	if r.hdr.path != "" {
		return r.hdr.path
	}
	return r.hint
}

func jsonShaped(t []byte) bool {
	t = bytes.Trim(t, " \t\r")
	return len(t) >= 2 && t[0] == '{' && t[len(t)-1] == '}'
}

// blank reports whether b holds only spaces, tabs and carriage returns.
func blank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}
