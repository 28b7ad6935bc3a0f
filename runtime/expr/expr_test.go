package expr

import (
	"testing"

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

func TestCompileBoolRejectsNonBool(t *testing.T) {
	if _, err := CompileBool(`1 + `); err == nil {
		t.Fatal("syntax error not reported")
	}
}
