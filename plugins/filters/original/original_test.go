package original_test

import (
	"strings"
	"testing"

	"github.com/mdrsflow/mdrsflow/runtime/chain/chaintest"

	_ "github.com/mdrsflow/mdrsflow/plugins/filters/original"
)

func TestOriginalKeepsTheRawLine(t *testing.T) {
	raw := `{"ts": 1.5,  "uid":"C1"}`
	cases := []struct {
		name, flow, in, want string
	}{
		{"default target", "filters:\n  - original: {}\n", raw,
			`{"event":{"original":"{\"ts\": 1.5,  \"uid\":\"C1\"}"},"ts":1.5,"uid":"C1"}`},
		{"if_missing keeps", "filters:\n  - original: {target: msg, if_missing: true}\n", `{"msg":"x"}`,
			`{"msg":"x"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ch := chaintest.Build(t, c.flow)
			got := chaintest.Run(ch, "", c.in)
			if got[0].JSON != c.want {
				t.Fatalf("got  %s\nwant %s", got[0].JSON, c.want)
			}
		})
	}
}

func TestBadTarget(t *testing.T) {
	_, err := chaintest.TryBuild("filters:\n  - original: {target: 'a..b'}\n")
	if err == nil || !strings.Contains(err.Error(), "target") {
		t.Fatalf("bad target accepted: %v", err)
	}
}
