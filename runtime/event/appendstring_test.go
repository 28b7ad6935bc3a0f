package event

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"unicode/utf8"
)

// appendStringRef is AppendString one byte at a time, as it was before
// the eight-byte fast path: the reference the fast path must match.
func appendStringRef(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// interesting are the bytes around every boundary the fast path tests.
var interesting = []byte{0, 1, 0x1f, 0x20, 0x21, '"', '\\', '/', 'a', 0x7e, 0x7f, 0x80, 0xc3, 0xa9, 0xe2, 0x80, 0xa8, 0xff}

func checkAppendString(t *testing.T, s string) {
	t.Helper()
	got := AppendString([]byte("x"), s)
	want := appendStringRef([]byte("x"), s)
	if !bytes.Equal(got, want) {
		t.Fatalf("AppendString(%q) = %s, want %s", s, got, want)
	}
	var back string
	if err := json.Unmarshal(got[1:], &back); err != nil {
		t.Fatalf("AppendString(%q) = %s: not a JSON string: %v", s, got, err)
	}
	if utf8.ValidString(s) && back != s {
		t.Fatalf("AppendString(%q) reads back as %q", s, back)
	}
}

func TestAppendStringMatchesTheByteLoop(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			if r.IntN(4) == 0 {
				b[i] = interesting[r.IntN(len(interesting))]
			} else {
				b[i] = byte(' ' + r.IntN(95))
			}
		}
		checkAppendString(t, string(b))
	}
	for _, s := range []string{"", "12345678", "1234567\"", "\"1234567", "abcdefgh\\", "abcdefg\n", "é1234567",
		"10.47.1.100", "CqKst53mF3det3eDV9", "a\u2028bcdefghi", "\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f"} {
		checkAppendString(t, s)
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("plain ascii text")
	f.Add("tab\there \"quoted\" back\\slash")
	f.Add("\xff\xfe invalid \u2029")
	f.Fuzz(func(t *testing.T, s string) { checkAppendString(t, s) })
}

func BenchmarkAppendString(b *testing.B) {
	vals := []string{"10.47.1.100", "CqKst53mF3det3eDV9", "conn", "2018-03-24T17:15:21.789543Z",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36", "logs-corelight.conn-default", "SF"}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = buf[:0]
		for _, v := range vals {
			buf = AppendString(buf, v)
		}
	}
}
