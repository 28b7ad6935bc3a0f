package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

func TestParsePath(t *testing.T) {
	cases := []struct {
		in   string
		segs []string
		meta bool
		err  bool
	}{
		{in: "source.ip", segs: []string{"source", "ip"}},
		{in: `"id.orig_h"`, segs: []string{"id.orig_h"}},
		{in: `zeek."id.orig_h"`, segs: []string{"zeek", "id.orig_h"}},
		{in: `"a\"b".c`, segs: []string{`a"b`, "c"}},
		{in: "@metadata.tenant", segs: []string{"tenant"}, meta: true},
		{in: "", err: true},
		{in: "a..b", err: true},
		{in: "a.", err: true},
		{in: `"open`, err: true},
		{in: `"a"b`, err: true},
		{in: `a"b`, err: true},
		{in: "@metadata", err: true},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			p, err := ParsePath(c.in)
			if c.err {
				if err == nil {
					t.Fatalf("no error for %q", c.in)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(p.Segments(), "|") != strings.Join(c.segs, "|") || p.IsMetadata() != c.meta {
				t.Fatalf("got %q meta=%v", p.Segments(), p.IsMetadata())
			}
		})
	}
}

func TestGetSetDelete(t *testing.T) {
	ev, err := Decode([]byte(`{"id.orig_h":"10.0.0.1","id":{"orig_p":80},"source":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := ev.Get(MustPath(`"id.orig_h"`)); !ok || v != "10.0.0.1" {
		t.Errorf("literal dotted key: %v %v", v, ok)
	}
	if v, ok := ev.Get(MustPath("id.orig_p")); !ok || v != int64(80) {
		t.Errorf("nested: %v %v", v, ok)
	}
	if _, ok := ev.Get(MustPath("id.orig_h")); ok {
		t.Error("nested path must not find the literal dotted key")
	}
	if err := ev.Set(MustPath("source.ip"), "1.2.3.4"); !errors.Is(err, ErrConflict) {
		t.Errorf("setting through a string: %v", err)
	}
	if err := ev.Set(MustPath("destination.ip"), "1.2.3.4"); err != nil {
		t.Fatal(err)
	}
	if _, ok := ev.Delete(MustPath("id.orig_p")); !ok {
		t.Fatal("delete failed")
	}
	if _, ok := ev.Fields()["id"]; ok {
		t.Error("empty parent object left behind")
	}
	ev.SetMeta("tenant", "acme")
	if v, _ := ev.Get(MustPath("@metadata.tenant")); v != "acme" {
		t.Errorf("metadata: %v", v)
	}
	b, _ := ev.Encode(nil)
	if strings.Contains(string(b), "@metadata") {
		t.Errorf("metadata encoded: %s", b)
	}
}

func TestDecodeDropsIncomingMetadata(t *testing.T) {
	ev, err := Decode([]byte(`{"@metadata":{"tenant":"evil"},"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if ev.MetaString("tenant") != "" {
		t.Fatal("a record set its own tenant metadata")
	}
}

func TestExpand(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{"id.orig_h":"a","id.orig_p":1}`, `{"id":{"orig_h":"a","orig_p":1}}`},
		{`{"a":{"b.c":1},"a.d":2}`, `{"a":{"b":{"c":1},"d":2}}`},
		{`{"a.b":{"c":1},"a":{"d":2}}`, `{"a":{"b":{"c":1},"d":2}}`},
		{`{"x":1}`, `{"x":1}`},
	}
	for _, c := range cases {
		ev, err := Decode([]byte(c.in))
		if err != nil {
			t.Fatal(err)
		}
		if err := ev.Expand(); err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		got, _ := ev.Encode(nil)
		if string(got) != c.want {
			t.Errorf("%s: got %s want %s", c.in, got, c.want)
		}
	}
	for _, bad := range []string{`{"a":1,"a.b":2}`, `{"a.b":1,"a.b.c":2}`, `{"a..b":1}`} {
		ev, _ := Decode([]byte(bad))
		if err := ev.Expand(); !errors.Is(err, ErrConflict) {
			t.Errorf("%s: want a conflict error, got %v", bad, err)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{"b":1,"a":[true,false,null],"c":"x"}`, `{"a":[true,false,null],"b":1,"c":"x"}`},
		{`{"ts":1547188415.857497}`, `{"ts":1547188415.857497}`},
		{`{"big":12345678901234567890}`, `{"big":12345678901234567000}`},
		{`{"n":-0.0000001}`, `{"n":-1e-7}`},
		{`{"s":"tab\there \"q\" \u00e9 \ud83d\ude00 \u2028"}`, `{"s":"tab\there \"q\" é 😀 \u2028"}`},
		{"{\"bad\":\"\xff\"}", "{\"bad\":\"\uFFFD\"}"},
		{`{"ctl":"\u0001"}`, `{"ctl":"\u0001"}`},
		{` { "sp" : [ 1 , 2 ] } `, `{"sp":[1,2]}`},
	}
	for _, c := range cases {
		ev, err := Decode([]byte(c.in))
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		got, err := ev.Encode(nil)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.in, got, c.want)
		}
	}
}

// The decoder copies the record once and hands out slices of that copy,
// so an input that reuses its read buffer cannot change decoded events.
func TestDecodeDoesNotShareTheInputBuffer(t *testing.T) {
	buf := []byte(`{"k":"value","é":"ünï","nested":{"x":"y"},"arr":["a"]}`)
	ev, err := Decode(buf)
	if err != nil {
		t.Fatal(err)
	}
	for i := range buf {
		buf[i] = 'z'
	}
	got, err := ev.Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"arr":["a"],"k":"value","nested":{"x":"y"},"é":"ünï"}`; string(got) != want {
		t.Errorf("after the input buffer was overwritten:\n got %s\nwant %s", got, want)
	}
}

func TestEncodeSortsLargeObjects(t *testing.T) {
	ev := New()
	want := []byte{'{'}
	for i := 0; i < 40; i++ {
		k := fmt.Sprintf("k%02d", i)
		if err := ev.Set(MustPath(k), int64(i)); err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			want = append(want, ',')
		}
		want = fmt.Appendf(want, "%q:%d", k, i)
	}
	want = append(want, '}')
	got, err := ev.Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, bad := range []string{``, `[]`, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":tru}`, `{"a":1} x`,
		`{"a":"\q"}`, `{"a":"` + "\n" + `"}`, strings.Repeat(`{"a":`, 300) + "1" + strings.Repeat("}", 300)} {
		if _, err := Decode([]byte(bad)); !errors.Is(err, ErrSyntax) {
			t.Errorf("%q: want a syntax error, got %v", bad, err)
		}
	}
}

func TestEncodeFloatsLikeEncodingJSON(t *testing.T) {
	for _, f := range []float64{0, 1, -1, 0.5, 1e20, 1e21, 1e-6, 1e-7, 123456.789, 5e-324, math.MaxFloat64} {
		want, _ := json.Marshal(f)
		got, _ := AppendValue(nil, f)
		if string(got) != string(want) {
			t.Errorf("%v: got %s want %s", f, got, want)
		}
	}
	got, _ := AppendValue(nil, math.NaN())
	if string(got) != "null" {
		t.Errorf("NaN: %s", got)
	}
}

// FuzzDecode checks that any input either fails cleanly or decodes into
// something that encodes to valid JSON that decodes to the same bytes.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"id.orig_h":"x","n":[1,2.5,"s",null,{"b":false}]}`,
		`{"s":"\ud800"}`, "{\"x\":\"\xc3\"}", `{"e":1e400}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := Decode(data)
		if err != nil {
			return
		}
		out, err := ev.Encode(nil)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		if !json.Valid(out) {
			t.Fatalf("invalid JSON out: %s", out)
		}
		ev2, err := Decode(out)
		if err != nil {
			t.Fatalf("re-decode of %s: %v", out, err)
		}
		out2, _ := ev2.Encode(nil)
		if string(out) != string(out2) {
			t.Fatalf("not stable:\n%s\n%s", out, out2)
		}
	})
}

func BenchmarkDecodeEncode(b *testing.B) {
	line := []byte(`{"_path":"conn","_system_name":"sensor-acme","ts":"2018-03-24T17:15:21.789543Z","uid":"CqKst53mF3det3eDV9","id.orig_h":"10.47.1.100","id.orig_p":41772,"id.resp_h":"10.0.0.100","id.resp_p":53,"proto":"udp","service":"dns","duration":0.00087,"orig_bytes":34,"resp_bytes":98,"conn_state":"SF","local_orig":true,"local_resp":true,"missed_bytes":0,"history":"Dd","orig_pkts":1,"orig_ip_bytes":62,"resp_pkts":1,"resp_ip_bytes":126,"community_id":"1:abc"}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	var buf []byte
	for i := 0; i < b.N; i++ {
		ev, err := Decode(line)
		if err != nil {
			b.Fatal(err)
		}
		buf, _ = ev.Encode(buf[:0])
	}
}

// Which conflict Expand reports does not depend on map order: objects are
// expanded in key order, so "a" is always met before "b".
func TestExpandReportsTheSameConflictEveryTime(t *testing.T) {
	for range 50 {
		ev, err := Decode([]byte(`{"b":{"x":1,"x.y":2},"a":{"x":1,"x.y":2},"c":{"d":{"x":1,"x.y":2}}}`))
		if err != nil {
			t.Fatal(err)
		}
		err = ev.Expand()
		if err == nil || !strings.Contains(err.Error(), `"a.x.y"`) {
			t.Fatalf("got %v; want the conflict at a.x.y, the first in key order", err)
		}
	}
}
