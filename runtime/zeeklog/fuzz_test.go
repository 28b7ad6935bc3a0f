package zeeklog

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"
)

// FuzzReader checks that a Reader never panics, that every line that is
// neither blank nor a header gives exactly one record (an over-long line
// always gives one), that converted and error records are valid JSON, and
// that reading one byte at a time gives the same records.
//
//	go test -fuzz FuzzReader ./runtime/zeeklog/
func FuzzReader(f *testing.F) {
	seeds := []string{
		"",
		"{\"a\":1}\n",
		"{\"a\":1}\r\n\n  \n{\"a\":\n[1]\n",
		"#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n" +
			"#path\tconn\n#fields\tts\tid.orig_h\tn\ts\tb\tv\n" +
			"#types\ttime\taddr\tcount\tset[string]\tbool\tvector[interval]\n" +
			"1.5\t10.0.0.1\t3\ta,b\tT\t1.0,2\n-\t-\t-\t(empty)\tF\t-\n1\t2\n" +
			"#close\t2024\n",
		"#separator |\n#fields|a|b\n#types|int|double\n-1|x\n+0|.5\n",
		"1.0\tCx\t10.0.0.1\n",
		"\x1f\x8b\x08\x00",
		"{\"s\":\"\xff\xfe\"}\n#fields\ta\n" + string(bytes.Repeat([]byte("x"), 300)),
	}
	for i, s := range seeds {
		f.Add([]byte(s), uint16(64+i*100), uint8(i%3))
	}
	files, _ := filepath.Glob("testdata/*/*.log")
	for i, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:min(len(b), 4096)], uint16(2000), uint8(i%3))
	}

	f.Fuzz(func(t *testing.T, data []byte, maxLine uint16, mode uint8) {
		max := int(maxLine)%4096 + 1
		format := []Format{FormatAuto, FormatJSON, FormatTSV}[int(mode)%3]
		opts := []Option{WithMaxLineBytes(max), WithFormat(format)}

		recs, err := readFuzz(NewReader(bytes.NewReader(data), "conn.log", opts...))
		slow, slowErr := readFuzz(NewReader(iotest.OneByteReader(bytes.NewReader(data)),
			"conn.log", opts...))
		if (err == nil) != (slowErr == nil) || len(recs) != len(slow) {
			t.Fatalf("one byte at a time: %d records (%v), want %d (%v)", len(slow),
				slowErr, len(recs), err)
		}
		for i := range recs {
			if !bytes.Equal(recs[i].Data, slow[i].Data) || recs[i].Line != slow[i].Line ||
				recs[i].Err != slow[i].Err {
				t.Fatalf("one byte at a time: record %d differs", i)
			}
		}
		if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
			return // gzip: the lines are not those of data
		}
		if err != nil {
			t.Fatalf("read error on plain input: %v", err)
		}

		lines := splitLines(data)
		want := 0
		byLine := map[int64][]byte{}
		for i, l := range lines {
			switch {
			case len(l) > max:
				want++
			case blank(l):
			case l[0] == '#' && format != FormatJSON:
			default:
				want++
				byLine[int64(i+1)] = bytes.TrimSuffix(l, []byte{'\r'})
			}
		}
		if len(recs) != want {
			t.Fatalf("%d records, want %d", len(recs), want)
		}
		last := int64(0)
		for _, r := range recs {
			if r.Line <= last || r.Line > int64(len(lines)) {
				t.Fatalf("line %d after %d of %d", r.Line, last, len(lines))
			}
			last = r.Line
			passed := r.Err == "" && bytes.Equal(r.Data, byLine[r.Line])
			if !passed && !json.Valid(r.Data) {
				t.Fatalf("line %d: invalid JSON %q (err %q)", r.Line, r.Data, r.Err)
			}
		}
	})
}

func readFuzz(r *Reader) ([]Record, error) {
	var out []Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, rec)
	}
}

// splitLines cuts data at '\n'; a last piece without one is a line too.
func splitLines(data []byte) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return append(out, data)
		}
		out = append(out, data[:i])
		data = data[i+1:]
	}
	return out
}
