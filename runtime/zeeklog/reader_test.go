package zeeklog

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestJSONLines(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		data  []string // per record; "" for an error record
		lines []int64
		errs  []string
	}{
		{
			name:  "passed through untouched",
			in:    `{"ts":1.10,"b" : [1, 2]}` + "\n" + `{"_path":"dns"}` + "\n",
			data:  []string{`{"ts":1.10,"b" : [1, 2]}`, `{"_path":"dns"}`},
			lines: []int64{1, 2},
		},
		{
			name:  "crlf and last line without newline",
			in:    "{\"a\":1}\r\n{\"a\":2}",
			data:  []string{`{"a":1}`, `{"a":2}`},
			lines: []int64{1, 2},
		},
		{
			name:  "blank lines skipped but counted",
			in:    "\n{\"a\":1}\n  \n\r\n\t\n{\"a\":2}\n\n",
			data:  []string{`{"a":1}`, `{"a":2}`},
			lines: []int64{2, 6},
		},
		{
			name:  "surrounding spaces kept",
			in:    " {\"a\":1} \n",
			data:  []string{` {"a":1} `},
			lines: []int64{1},
		},
		{
			name:  "not an object",
			in:    "[1,2]\n{\"a\":1}\n",
			data:  []string{"", `{"a":1}`},
			lines: []int64{1, 2},
			errs:  []string{"does not start with '{'", ""},
		},
		{
			name:  "cut off object",
			in:    "{\"a\":1}\n{\"a\":\n",
			data:  []string{`{"a":1}`, ""},
			lines: []int64{1, 2},
			errs:  []string{"", "does not end with '}'"},
		},
		{
			name:  "tsv without header",
			in:    "1.0\tCx\t10.0.0.1\n",
			data:  []string{""},
			lines: []int64{1},
			errs:  []string{"before any #fields header"},
		},
		{
			name:  "invalid utf8 passed through",
			in:    "{\"a\":\"\xff\"}\n",
			data:  []string{"{\"a\":\"\xff\"}"},
			lines: []int64{1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs := readAll(t, NewReader(strings.NewReader(tt.in), "conn.log"))
			if len(recs) != len(tt.data) {
				t.Fatalf("got %d records, want %d", len(recs), len(tt.data))
			}
			for i, r := range recs {
				if r.Line != tt.lines[i] || r.Path != "conn" {
					t.Errorf("record %d: line %d path %q, want %d conn", i, r.Line, r.Path,
						tt.lines[i])
				}
				if tt.data[i] == "" {
					if r.Err == "" || !strings.Contains(r.Err, tt.errs[i]) {
						t.Errorf("record %d: error %q, want %q", i, r.Err, tt.errs[i])
					}
					if !bytes.HasPrefix(r.Data, []byte(`{"event":{"original":`)) {
						t.Errorf("record %d: error data %s", i, r.Data)
					}
					continue
				}
				if r.Err != "" || string(r.Data) != tt.data[i] {
					t.Errorf("record %d: %s (err %q), want %s", i, r.Data, r.Err, tt.data[i])
				}
			}
		})
	}
}

func TestHeaderRepeats(t *testing.T) {
	in := "#separator \\x09\n#path\tconn\n#fields\ta\tb\n#types\tcount\tstring\n" +
		"1\tx\n#close\t2024\n" +
		"#separator \\x09\n#path\tdns\n#fields\tq\n#types\tstring\n" +
		"example.com\n" +
		"#fields\tn\tm\n#types\tbool\tcount\nT\t2\n"
	recs := readAll(t, NewReader(strings.NewReader(in), "other.log"))
	want := []struct {
		data, path string
		line       int64
	}{
		{`{"a":1,"b":"x"}`, "conn", 5},
		{`{"q":"example.com"}`, "dns", 11},
		{`{"n":true,"m":2}`, "dns", 14},
	}
	if len(recs) != len(want) {
		t.Fatalf("got %d records, want %d", len(recs), len(want))
	}
	for i, r := range recs {
		if string(r.Data) != want[i].data || r.Path != want[i].path || r.Line != want[i].line {
			t.Errorf("record %d: %s %q line %d, want %+v", i, r.Data, r.Path, r.Line, want[i])
		}
	}
}

func TestJSONAmidTSV(t *testing.T) {
	in := "#separator \\x09\n#fields\ta\tb\n#types\tcount\tcount\n1\t2\n{\"a\":3}\n"
	recs := readAll(t, NewReader(strings.NewReader(in), "x.log"))
	if len(recs) != 2 || string(recs[1].Data) != `{"a":3}` || recs[1].Err != "" {
		t.Fatalf("got %+v", recs)
	}
}

func TestFormats(t *testing.T) {
	in := "#separator \\x09\n#fields\ta\tb\n#types\tcount\tcount\n{\"a\":1}\n7\t8\n"
	tests := []struct {
		format Format
		want   []string // data, or "!" for an error record
	}{
		{FormatAuto, []string{`{"a":1}`, `{"a":7,"b":8}`}},
		{FormatJSON, []string{"!", "!", "!", `{"a":1}`, "!"}},
		{FormatTSV, []string{"!", `{"a":7,"b":8}`}},
	}
	for _, tt := range tests {
		t.Run(string(tt.format), func(t *testing.T) {
			recs := readAll(t, NewReader(strings.NewReader(in), "x.log", WithFormat(tt.format)))
			if len(recs) != len(tt.want) {
				t.Fatalf("got %d records, want %d: %+v", len(recs), len(tt.want), recs)
			}
			for i, r := range recs {
				if (tt.want[i] == "!") != (r.Err != "") ||
					tt.want[i] != "!" && string(r.Data) != tt.want[i] {
					t.Errorf("record %d: %s (err %q), want %s", i, r.Data, r.Err, tt.want[i])
				}
			}
		})
	}
}

// A byte order mark at the start of a file (some Windows tools write one)
// is not part of the first record or header line; one anywhere else is
// data and stays.
func TestByteOrderMark(t *testing.T) {
	const bom = "\xEF\xBB\xBF"
	recs := readAll(t, NewReader(strings.NewReader(bom+`{"a":1}`+"\n"+bom+`{"a":2}`+"\n"), "conn.log"))
	if len(recs) != 2 || recs[0].Err != "" || string(recs[0].Data) != `{"a":1}` {
		t.Fatalf("JSON after a BOM: %+v", recs)
	}
	if recs[1].Err == "" {
		t.Errorf("a BOM inside the file was dropped: %+v", recs[1])
	}

	tsv := bom + "#separator \\x09\n#fields\ta\n#types\tcount\n7\n"
	recs = readAll(t, NewReader(strings.NewReader(tsv), "conn.log"))
	if len(recs) != 1 || recs[0].Err != "" || string(recs[0].Data) != `{"a":7}` {
		t.Fatalf("TSV after a BOM: %+v", recs)
	}

	// Resuming by Skip reads the header through the BOM too.
	zr := NewReader(strings.NewReader(tsv+"8\n"), "conn.log")
	if err := zr.Skip(int64(len(tsv))); err != nil {
		t.Fatal(err)
	}
	recs = readAll(t, zr)
	if len(recs) != 1 || string(recs[0].Data) != `{"a":8}` {
		t.Errorf("after Skip: %+v", recs)
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"": FormatAuto, "auto": FormatAuto,
		"json": FormatJSON, "tsv": FormatTSV} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseFormat("csv"); err == nil {
		t.Error("ParseFormat(csv): no error")
	}
}

func TestLongLines(t *testing.T) {
	long := "{\"a\":\"" + strings.Repeat("x", 5000) + "\"}"
	tests := []struct {
		name string
		in   string
		max  int
	}{
		{"middle", "{\"a\":1}\n" + long + "\n{\"a\":2}\n", 100},
		{"last without newline", "{\"a\":1}\n" + long, 100},
		{"limit below kept bytes", "{\"a\":1}\n" + long + "\n", 10},
		{"small buffer", "{\"a\":1}\n" + long + "\n{\"a\":2}\n", 4096},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, rd := range []io.Reader{strings.NewReader(tt.in),
				iotest.OneByteReader(strings.NewReader(tt.in))} {
				r := NewReader(rd, "x.log", WithMaxLineBytes(tt.max))
				recs := readAll(t, r)
				if len(recs) < 2 || recs[0].Err != "" || recs[1].Err == "" {
					t.Fatalf("got %+v", recs)
				}
				if !strings.Contains(recs[1].Err, "line is 5008 bytes, over the limit") {
					t.Errorf("error %q", recs[1].Err)
				}
				if len(recs[1].Data) > 1100 || recs[1].Line != 2 {
					t.Errorf("error record is %d bytes at line %d", len(recs[1].Data),
						recs[1].Line)
				}
				if len(recs) == 3 && string(recs[2].Data) != `{"a":2}` {
					t.Errorf("after the long line: %s", recs[2].Data)
				}
				if got := r.Position().Offset; got != int64(len(tt.in)) {
					t.Errorf("offset %d, want %d", got, len(tt.in))
				}
			}
		})
	}
}

func TestExactlyMaxLine(t *testing.T) {
	line := "{\"a\":\"" + strings.Repeat("x", 92) + "\"}" // 100 bytes
	recs := readAll(t, NewReader(strings.NewReader(line+"\n"+line+"x\n"), "x.log",
		WithMaxLineBytes(100)))
	if len(recs) != 2 || recs[0].Err != "" || recs[1].Err == "" {
		t.Fatalf("got %+v", recs)
	}
}

func gz(t testing.TB, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestGzip(t *testing.T) {
	plain := "#separator \\x09\n#path\tconn\n#fields\ta\n#types\tcount\n1\n2\n"
	multi := append(gz(t, plain), gz(t, "3\n")...)
	zr, err := gzip.NewReader(bytes.NewReader(gz(t, plain)))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   io.Reader
		want int
	}{
		{"magic detected", bytes.NewReader(gz(t, plain)), 2},
		{"one byte at a time", iotest.OneByteReader(bytes.NewReader(gz(t, plain))), 2},
		{"concatenated members", bytes.NewReader(multi), 3},
		{"caller's gzip reader", zr, 2},
		{"plain", strings.NewReader(plain), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs := readAll(t, NewReader(tt.in, "conn.2024-04-19-10-00-00.log.gz"))
			if len(recs) != tt.want {
				t.Fatalf("got %d records, want %d", len(recs), tt.want)
			}
			for _, r := range recs {
				if r.Err != "" || r.Path != "conn" {
					t.Errorf("record %+v", r)
				}
			}
		})
	}
}

func TestGzipCorrupt(t *testing.T) {
	data := gz(t, "{\"a\":1}\n{\"a\":2}\n")
	data = data[:len(data)-6] // cut the trailer: checksum and size
	r := NewReader(bytes.NewReader(data), "dns.log.gz")
	var err error
	for err == nil {
		_, err = r.Next()
	}
	if errors.Is(err, io.EOF) || !strings.Contains(err.Error(), "dns.log.gz") {
		t.Fatalf("got %v, want an error naming the file", err)
	}
	if _, again := r.Next(); again == nil || errors.Is(again, io.EOF) {
		t.Errorf("error not sticky: %v", again)
	}

	bad := NewReader(bytes.NewReader([]byte{0x1f, 0x8b, 0, 0}), "x.gz")
	if _, err := bad.Next(); err == nil || errors.Is(err, io.EOF) {
		t.Errorf("bad gzip header: got %v", err)
	}
}

// growing is a reader over data that grows: it returns io.EOF at the end
// of what has been appended so far.
type growing struct{ buf bytes.Buffer }

func (g *growing) Read(p []byte) (int, error) {
	if g.buf.Len() == 0 {
		return 0, io.EOF
	}
	return g.buf.Read(p)
}

func TestFollow(t *testing.T) {
	src := &growing{}
	r := NewReader(src, "conn.log", WithFollow())
	next := func() (string, error) {
		rec, err := r.Next()
		return string(rec.Data), err
	}

	src.buf.WriteString("{\"a\":1}\n{\"a\":")
	if got, err := next(); got != `{"a":1}` || err != nil {
		t.Fatalf("first: %q %v", got, err)
	}
	if _, err := next(); err != io.EOF {
		t.Fatalf("partial line: got %v, want io.EOF", err)
	}
	if p := r.Position(); p.Offset != 8 || p.Line != 1 {
		t.Errorf("position while holding: %+v", p)
	}
	src.buf.WriteString("2}\n{\"a\"")
	if got, err := next(); got != `{"a":2}` || err != nil {
		t.Fatalf("completed line: %q %v", got, err)
	}
	if _, err := next(); err != io.EOF {
		t.Fatalf("second partial: got %v", err)
	}
	r.Finish()
	rec, err := r.Next()
	if err != nil || rec.Err == "" || rec.Line != 3 {
		t.Fatalf("after Finish: %+v %v", rec, err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
}

func TestResume(t *testing.T) {
	in := "#separator \\x09\n#set_separator\t;\n#path\tdns\n#fields\tq\tn\n" +
		"#types\tset[string]\tcount\n" +
		"a;b\t1\n\nc\t2\n#fields\tz\n#types\tbool\nT\nF\n"
	all := readAll(t, NewReader(strings.NewReader(in), "x.log"))

	for k := 1; k < len(all); k++ {
		r := NewReader(strings.NewReader(in), "x.log")
		for range k {
			if _, err := r.Next(); err != nil {
				t.Fatal(err)
			}
		}
		pos := r.Position()

		// Seekable: start the stream at the offset.
		seeked := NewReader(strings.NewReader(in[pos.Offset:]), "x.log", WithResume(pos))
		// Not seekable: skip from the start.
		skipped := NewReader(strings.NewReader(in), "x.log")
		if err := skipped.Skip(pos.Offset); err != nil {
			t.Fatal(err)
		}
		if got := skipped.Position(); got != pos {
			t.Errorf("after %d records: Skip position %+v, want %+v", k, got, pos)
		}
		for name, rd := range map[string]*Reader{"seek": seeked, "skip": skipped} {
			rest := readAll(t, rd)
			if len(rest) != len(all)-k {
				t.Fatalf("%s after %d: %d records, want %d", name, k, len(rest), len(all)-k)
			}
			for i, rec := range rest {
				w := all[k+i]
				if string(rec.Data) != string(w.Data) || rec.Line != w.Line || rec.Path != w.Path {
					t.Errorf("%s after %d: record %+v, want %+v", name, k, rec, w)
				}
			}
		}
	}
}

func TestSkipPastEnd(t *testing.T) {
	r := NewReader(strings.NewReader("{}\n{}\n"), "x.log")
	if err := r.Skip(100); err != io.EOF {
		t.Fatalf("got %v, want io.EOF", err)
	}
	if p := r.Position(); p.Offset != 6 || p.Line != 2 {
		t.Errorf("position %+v", p)
	}
}

func TestReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	r := NewReader(io.MultiReader(strings.NewReader("{}\n{\"a\""),
		iotest.ErrReader(boom)), "conn.log")
	if rec, err := r.Next(); err != nil || string(rec.Data) != "{}" {
		t.Fatalf("first: %v", err)
	}
	rec, err := r.Next()
	if err != nil || rec.Err == "" {
		t.Fatalf("partial line before the error: %+v %v", rec, err)
	}
	_, err = r.Next()
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "conn.log after line 2") {
		t.Fatalf("got %v", err)
	}
}

func TestPaths(t *testing.T) {
	tests := []struct {
		name, file, hint, in, want string
	}{
		{"from file name", "/logs/conn.2024-04-19-10-00-00.log.gz", "", "{}\n", "conn"},
		{"from hint", "stdin", "dns", "{}\n", "dns"},
		{"header wins", "conn.log", "dns", "#separator \\x09\n#path\thttp\n#fields\ta\n" +
			"#types\tcount\n1\n", "http"},
		{"none", "-", "", "{}\n", ""},
		{"empty hint keeps the name's", "dns.log", "", "{}\n", "dns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs := readAll(t, NewReader(strings.NewReader(tt.in), tt.file, WithPath(tt.hint)))
			if len(recs) != 1 || recs[0].Path != tt.want {
				t.Fatalf("got %+v, want path %q", recs, tt.want)
			}
		})
	}
}

func TestLogType(t *testing.T) {
	tests := map[string]string{
		"conn.log":                          "conn",
		"/var/log/zeek/current/dns.log":     "dns",
		"conn.2024-04-19-10-00-00.log.gz":   "conn",
		"conn.rita-lab.log":                 "conn",
		"conn.log.1":                        "conn",
		"conn.00:00:00-01:00:00.log.gz":     "conn",
		"known_hosts_20240419_10:00:00.log": "known_hosts",
		"dce_rpc.log":                       "dce_rpc",
		"smb_files_2024-04-19.log":          "smb_files",
		`C:\zeek\logs\ssl.log`:              "ssl",
		"stdin":                             "",
		"-":                                 "",
		".hidden":                           "",
		"2024-04-19.log":                    "",
		"":                                  "",
	}
	for in, want := range tests {
		t.Run(in, func(t *testing.T) {
			if got := LogType(in); got != want {
				t.Errorf("LogType(%q) = %q, want %q", in, got, want)
			}
		})
	}
}
