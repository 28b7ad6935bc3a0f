package expr

import (
	"strings"
	"testing"

	"github.com/expr-lang/expr"

	"github.com/mdrsflow/mdrsflow/runtime/event"
)

func TestEval(t *testing.T) {
	ev, err := event.Decode([]byte(`{"proto":"tcp","id.orig_h":"10.0.0.1","source":{"bytes":10},"destination":{"bytes":5}}`))
	if err != nil {
		t.Fatal(err)
	}
	ev.SetMeta("tenant", "acme")
	cases := []struct {
		name, src string
		want      any
	}{
		{"field", `proto`, "tcp"},
		{"dotted key", `$env["id.orig_h"]`, "10.0.0.1"},
		{"nested sum", `source.bytes + destination.bytes`, int64(15)},
		{"missing is nil", `missing == nil`, true},
		{"safe walk", `network?.bytes == nil`, true},
		{"meta", `meta("tenant")`, "acme"},
		{"meta missing", `meta("nope") == nil`, true},
		{"lower", `lower("ABC")`, "abc"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Compile(c.src)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Eval(ev)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Fatalf("got %#v (%T), want %#v", got, got, c.want)
			}
		})
	}
}

func TestUnknownFunctionIsACompileError(t *testing.T) {
	for _, src := range []string{`nosuchfunc(query)`, `lower(x) == "a" && lenn(y) > 0`} {
		if _, err := CompileBool(src); err == nil || !strings.Contains(err.Error(), "unknown function") {
			t.Errorf("%s: %v", src, err)
		}
	}
	for _, src := range []string{`len(x) > 0`, `meta("a") == env("B")`, `hasPrefix(lower(s), "x")`} {
		if _, err := CompileBool(src); err != nil {
			t.Errorf("%s: %v", src, err)
		}
	}
}

func TestCompileBoolRejectsNonBool(t *testing.T) {
	if _, err := CompileBool(`1 + `); err == nil {
		t.Fatal("syntax error not reported")
	}
}

// TestNativeMatchesVM runs expressions both ways over events of every
// shape and checks that the native subset answers exactly as expr does,
// and that it really covers the common condition forms.
func TestNativeMatchesVM(t *testing.T) {
	events := []string{
		`{}`,
		`{"proto":"tcp","n":3,"f":2.5,"b":true,"s":"x","big":9007199254740993}`,
		`{"network":{"transport":"icmp"},"source":{"bytes":10},"destination":{"bytes":5}}`,
		`{"network":"flat","source":null,"list":["a",1,true]}`,
		`{"id.orig_h":"10.0.0.1","n":"3"}`,
	}
	exprs := []struct {
		src        string
		wantNative bool
	}{
		{`meta("mapping") == "dns"`, true},
		{`meta("mapping") in ["a", "dns"]`, true},
		{`proto == "tcp"`, true},
		{`proto != "tcp" && n > 2`, true},
		{`network?.transport in ["icmp", "icmp6", "ipv6-icmp"]`, true},
		{`network?.transport == nil`, true},
		{`source?.bytes ?? 0`, true},
		{`n == 3.0`, true},
		{`n >= 3 || f < 1`, true},
		{`big == 9007199254740992`, true},
		{`!b`, true},
		{`not (proto == "udp")`, true},
		{`$env["id.orig_h"] == "10.0.0.1"`, true},
		{`b ? s : proto`, true},
		{`n == "3"`, true},
		{`network.transport == "icmp"`, true},
		{`list[0] == "a"`, false},
		{`lower(proto) == "tcp"`, false},
		{`len(s) > 0`, true},
		{`len(list)`, true},
		{`type(s) == "string" ? len(s) : nil`, true},
		{`type(n)`, true},
		{`type(f) + "/" + type(list) + "/" + type(network) + "/" + type(nope)`, true},
		{`"corelight." + meta("mapping")`, true},
		{`n + 1`, true},
		{`f + n`, true},
		{`trimPrefix(trimSuffix(string(s), "_red"), "bro_")`, true},
		{`string(n)`, true},
		{`s contains "x" && proto startsWith "t" && !(proto endsWith "x")`, true},
		{`hasPrefix(proto, "tc") || hasSuffix(s, "q")`, true},
		{`network?.transport == "icmp" && type(source?.ip) == "string" && source.ip contains ":" ? "icmp6" : network?.transport`, true},
	}
	for _, e := range exprs {
		p, err := Compile(e.src)
		if err != nil {
			t.Fatalf("%s: %v", e.src, err)
		}
		if (p.native != nil) != e.wantNative {
			t.Errorf("%s: native=%v, want %v", e.src, p.native != nil, e.wantNative)
		}
		for _, js := range events {
			ev, err := event.Decode([]byte(js))
			if err != nil {
				t.Fatal(err)
			}
			ev.SetMeta("mapping", "dns")
			vmVal, vmErr := expr.Run(p.prog, ev.Fields())
			if p.native == nil {
				continue
			}
			nv, ok := p.native(ev.Fields())
			if !ok {
				continue // deferred to the VM: same answer by construction
			}
			if nv == chainNil {
				t.Fatalf("%s on %s: chain marker leaked", e.src, js)
			}
			if vmErr != nil {
				t.Errorf("%s on %s: native gave %v, VM failed: %v", e.src, js, nv, vmErr)
				continue
			}
			if !sameValue(normalize(vmVal), normalize(nv)) {
				t.Errorf("%s on %s: native %#v, VM %#v", e.src, js, nv, vmVal)
			}
		}
	}
}

func sameValue(a, b any) bool {
	fa, okA := toFloat(a)
	fb, okB := toFloat(b)
	if okA && okB {
		return fa == fb
	}
	return a == b
}

func BenchmarkCondition(b *testing.B) {
	ev, _ := event.Decode([]byte(`{"proto":"tcp","network":{"transport":"udp"}}`))
	ev.SetMeta("mapping", "conn")
	p, _ := CompileBool(`meta("mapping") == "dns"`)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := p.EvalBool(ev); err != nil {
			b.Fatal(err)
		}
	}
}
