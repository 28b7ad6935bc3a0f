package zeeklog

import (
	"encoding/json"
	"io"
	"strings"
	"testing"
)

// tsvLog builds a TSV log with one column per name:type pair and one data
// line.
func tsvLog(cols []string, line string) string {
	var names, types []string
	for _, c := range cols {
		n, t, _ := strings.Cut(c, ":")
		names = append(names, n)
		types = append(types, t)
	}
	return "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n" +
		"#unset_field\t-\n#path\ttest\n#open\t2024-04-19-10-00-00\n" +
		"#fields\t" + strings.Join(names, "\t") + "\n" +
		"#types\t" + strings.Join(types, "\t") + "\n" + line + "\n"
}

func TestConvertTypes(t *testing.T) {
	tests := []struct {
		name string
		col  string // name:type
		val  string // the column as Zeek wrote it
		want string // the JSON object, or "" when the line must fail
	}{
		{"string", "s:string", "hello world", `{"s":"hello world"}`},
		{"string empty", "s:string", "(empty)", `{"s":""}`},
		{"string unset", "s:string", "-", `{}`},
		{"string quote", "s:string", `say "hi"`, `{"s":"say \"hi\""}`},
		{"string doubled backslash", "s:string", `\\\\srv\\ADMIN$`, `{"s":"\\\\srv\\ADMIN$"}`},
		{"string hex escape kept", "s:string", `\x00\x01`, `{"s":"\\x00\\x01"}`},
		{"string escaped separator kept", "s:string", `a\x09b`, `{"s":"a\\x09b"}`},
		{"string escaped unset kept", "s:string", `\x2d`, `{"s":"\\x2d"}`},
		{"string utf8", "s:string", "héllo ☃", `{"s":"héllo ☃"}`},
		{"string invalid utf8", "s:string", "a\xffb", `{"s":"a\\xffb"}`},
		{"addr", "a:addr", "fe80::1", `{"a":"fe80::1"}`},
		{"subnet", "n:subnet", "10.0.0.0/8", `{"n":"10.0.0.0/8"}`},
		{"enum", "e:enum", "Notice::ACTION_LOG", `{"e":"Notice::ACTION_LOG"}`},
		{"pattern", "p:pattern", `/^?(a|b)$?/`, `{"p":"/^?(a|b)$?/"}`},
		{"func", "f:func", "foo", `{"f":"foo"}`},
		{"bool true", "b:bool", "T", `{"b":true}`},
		{"bool false", "b:bool", "F", `{"b":false}`},
		{"bool bad", "b:bool", "true", ""},
		{"bool empty", "b:bool", "(empty)", ""},
		{"count", "c:count", "18446744073709551615", `{"c":18446744073709551615}`},
		{"count leading zeros", "c:count", "007", `{"c":7}`},
		{"count zero", "c:count", "0", `{"c":0}`},
		{"count negative", "c:count", "-1", ""},
		{"count fraction", "c:count", "1.5", ""},
		{"counter", "c:counter", "3", `{"c":3}`},
		{"int negative", "i:int", "-42", `{"i":-42}`},
		{"int plus", "i:int", "+42", `{"i":42}`},
		{"int minus zero", "i:int", "-0", `{"i":0}`},
		{"int bad", "i:int", "4x", ""},
		{"port", "p:port", "3128", `{"p":3128}`},
		{"time digits kept", "t:time", "1672843056.913119", `{"t":1672843056.913119}`},
		{"time zeros kept", "t:time", "1672843056.900000", `{"t":1672843056.900000}`},
		{"interval", "d:interval", "0.000000", `{"d":0.000000}`},
		{"interval negative", "d:interval", "-0.085938", `{"d":-0.085938}`},
		{"double exponent", "d:double", "1.5e-07", `{"d":1.5e-07}`},
		{"double not json", "d:double", ".5", `{"d":0.5}`},
		{"double nan", "d:double", "nan", ""},
		{"double inf", "d:double", "inf", ""},
		{"double junk", "d:double", "abc", ""},
		{"set string", "s:set[string]", "a,b", `{"s":["a","b"]}`},
		{"set empty", "s:set[string]", "(empty)", `{"s":[]}`},
		{"set unset", "s:set[string]", "-", `{}`},
		{"set escaped comma kept", "s:set[string]", `a\x2cb,c`, `{"s":["a\\x2cb","c"]}`},
		{"set enum", "s:set[enum]", "Notice::ACTION_LOG", `{"s":["Notice::ACTION_LOG"]}`},
		{"set addr", "s:set[addr]", "10.0.0.1,::1", `{"s":["10.0.0.1","::1"]}`},
		{"set count", "s:set[count]", "1,2,03", `{"s":[1,2,3]}`},
		{"set port", "s:set[port]", "80,443", `{"s":[80,443]}`},
		{"set bool", "s:set[bool]", "T,F", `{"s":[true,false]}`},
		{"set count bad", "s:set[count]", "1,x", ""},
		{"vector string", "v:vector[string]", "x,(empty),y", `{"v":["x","","y"]}`},
		{"vector interval", "v:vector[interval]", "1.500000,2", `{"v":[1.500000,2]}`},
		{"vector addr", "v:vector[addr]", "10.47.8.208", `{"v":["10.47.8.208"]}`},
		{"vector empty", "v:vector[string]", "(empty)", `{"v":[]}`},
		{"table", "t:table[string]", "a,b", `{"t":["a","b"]}`},
		{"dotted name", "id.orig_h:addr", "10.0.0.1", `{"id.orig_h":"10.0.0.1"}`},
		{"unknown type as string", "x:opaque of x509", "abc", `{"x":"abc"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tsvLog([]string{tt.col}, tt.val)
			recs := readAll(t, NewReader(strings.NewReader(in), "test.log"))
			if len(recs) != 1 {
				t.Fatalf("got %d records, want 1", len(recs))
			}
			r := recs[0]
			if tt.want == "" {
				if r.Err == "" {
					t.Fatalf("no error; data %s", r.Data)
				}
				checkFailed(t, r, tt.val)
				return
			}
			if r.Err != "" {
				t.Fatalf("error %q", r.Err)
			}
			if string(r.Data) != tt.want {
				t.Errorf("got  %s\nwant %s", r.Data, tt.want)
			}
			if !json.Valid(r.Data) {
				t.Errorf("not valid JSON: %s", r.Data)
			}
		})
	}
}

func TestConvertLine(t *testing.T) {
	cols := []string{"ts:time", "uid:string", "id.orig_h:addr", "id.orig_p:port",
		"proto:enum", "service:string", "local_orig:bool", "tunnel_parents:set[string]"}
	tests := []struct {
		name, line, want, err string
	}{
		{
			name: "all set",
			line: "1672843056.913119\tCXHB1X\t10.136.0.18\t55548\ttcp\thttp,ssl\tT\tCa,Cb",
			want: `{"ts":1672843056.913119,"uid":"CXHB1X","id.orig_h":"10.136.0.18",` +
				`"id.orig_p":55548,"proto":"tcp","service":"http,ssl","local_orig":true,` +
				`"tunnel_parents":["Ca","Cb"]}`,
		},
		{
			name: "first and last unset",
			line: "-\tCXHB1X\t10.136.0.18\t55548\ttcp\t-\tF\t-",
			want: `{"uid":"CXHB1X","id.orig_h":"10.136.0.18","id.orig_p":55548,` +
				`"proto":"tcp","local_orig":false}`,
		},
		{
			name: "all unset",
			line: "-\t-\t-\t-\t-\t-\t-\t-",
			want: `{}`,
		},
		{
			name: "too few columns",
			line: "1672843056.913119\tCXHB1X\t10.136.0.18\t55",
			err:  "line has 4 columns but the #fields header (line 7) names 8",
		},
		{
			name: "too many columns",
			line: "1\t2\t3\t4\t5\t6\tT\t8\t9",
			err:  "line has 9 columns",
		},
		{
			name: "bad value names the field",
			line: "1672843056.913119\tCXHB1X\t10.136.0.18\thttp\ttcp\t-\tT\t-",
			err:  `field "id.orig_p" (port): "http" is not a whole number`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs := readAll(t, NewReader(strings.NewReader(tsvLog(cols, tt.line)), "x.log"))
			if len(recs) != 1 {
				t.Fatalf("got %d records, want 1", len(recs))
			}
			r := recs[0]
			if r.Line != 9 || r.Path != "test" {
				t.Errorf("line %d path %q, want 9 and test", r.Line, r.Path)
			}
			if tt.err != "" {
				if !strings.Contains(r.Err, tt.err) {
					t.Fatalf("error %q, want it to contain %q", r.Err, tt.err)
				}
				checkFailed(t, r, tt.line)
				return
			}
			if r.Err != "" || string(r.Data) != tt.want {
				t.Errorf("got  %s (err %q)\nwant %s", r.Data, r.Err, tt.want)
			}
		})
	}
}

func TestHeaderTypesMismatch(t *testing.T) {
	in := "#separator \\x09\n#fields\ta\tb\n#types\tstring\n1\t2\n"
	recs := readAll(t, NewReader(strings.NewReader(in), "x.log"))
	if len(recs) != 1 || !strings.Contains(recs[0].Err, "#types lists 1") {
		t.Fatalf("got %+v", recs)
	}
}

func TestOtherSeparators(t *testing.T) {
	in := "#separator |\n#set_separator|;\n#empty_field|EMPTY\n#unset_field|NONE\n" +
		"#path|dns\n#fields|q|answers|ttl\n#types|string|vector[string]|count\n" +
		"a\\x7cb|x;y|NONE\nEMPTY|EMPTY|5\n"
	recs := readAll(t, NewReader(strings.NewReader(in), ""))
	want := []string{`{"q":"a\\x7cb","answers":["x","y"]}`, `{"q":"","answers":[],"ttl":5}`}
	if len(recs) != len(want) {
		t.Fatalf("got %d records", len(recs))
	}
	for i, r := range recs {
		if r.Err != "" || string(r.Data) != want[i] || r.Path != "dns" {
			t.Errorf("record %d: %s (path %q, err %q), want %s", i, r.Data, r.Path, r.Err, want[i])
		}
	}
}

// readAll reads records until io.EOF, failing on any other error.
func readAll(t testing.TB, r *Reader) []Record {
	t.Helper()
	var out []Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		out = append(out, rec)
	}
}

// checkFailed checks that r is an error record holding original.
func checkFailed(t *testing.T, r Record, original string) {
	t.Helper()
	var v struct {
		Event struct {
			Original string `json:"original"`
		} `json:"event"`
	}
	if err := json.Unmarshal(r.Data, &v); err != nil {
		t.Fatalf("error record is not JSON: %v: %s", err, r.Data)
	}
	if v.Event.Original != original {
		t.Errorf("event.original = %q, want %q", v.Event.Original, original)
	}
}
