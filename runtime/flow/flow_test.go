package flow_test

import (
	"strings"
	"testing"

	_ "github.com/mdrsflow/mdrsflow/plugins/all"
	"github.com/mdrsflow/mdrsflow/runtime/flow"
)

func noEnv(string) (string, bool) { return "", false }

// Two inputs or two outputs with one id would share read positions,
// counts and dead letters; the flow is refused with both lines named.
func TestDuplicateIDsRefused(t *testing.T) {
	cases := map[string]string{
		"outputs": `
inputs:
  - stdin: {}
outputs:
  - stdout: {}
    id: out
  - file: {path: x}
    id: out
`,
		"inputs, explicit id meets a default one": `
inputs:
  - stdin: {}
  - stdin: {}
    id: "stdin#1"
outputs:
  - stdout: {}
`,
	}
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := flow.ParseWithEnv("dup.yaml", []byte(src), noEnv)
			if err == nil {
				t.Fatal("a flow with a duplicate id was accepted")
			}
			msg := err.Error()
			if !strings.Contains(msg, "already used by the entry on line") || !strings.Contains(msg, "dup.yaml:") {
				t.Errorf("the error does not name the place and the other entry: %v", err)
			}
		})
	}
}

// The same default id in two sections is fine: an input and an output are
// kept apart by kind.
func TestIDsAreUniquePerSection(t *testing.T) {
	src := `
inputs:
  - file: {paths: [in.log]}
outputs:
  - file: {path: out}
`
	f, err := flow.ParseWithEnv("ok.yaml", []byte(src), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if f.Inputs[0].ID != "file#1" || f.Outputs[0].ID != "file#1" {
		t.Errorf("ids: input %q, output %q", f.Inputs[0].ID, f.Outputs[0].ID)
	}
}

// Quarantined events cannot be trusted, so none of their fields may pick
// the index they go to: a placeholder in a quarantine template is refused,
// in the flow's routing and on an output.
func TestQuarantineTemplateMustBeFixed(t *testing.T) {
	for name, src := range map[string]string{
		"flow routing": `
routing:
  quarantine: "quarantine-{tenant}"
inputs:
  - stdin: {}
outputs:
  - stdout: {}
`,
		"output": `
inputs:
  - stdin: {}
outputs:
  - stdout: {}
    quarantine: "q-{data_stream.dataset}"
`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := flow.ParseWithEnv("q.yaml", []byte(src), noEnv)
			if err == nil || !strings.Contains(err.Error(), "cannot be trusted") {
				t.Errorf("accepted or unexplained: %v", err)
			}
		})
	}
	if _, err := flow.ParseWithEnv("q.yaml", []byte("routing:\n  quarantine: quarantine-default\n"+
		"inputs:\n  - stdin: {}\noutputs:\n  - stdout: {}\n"), noEnv); err != nil {
		t.Errorf("a fixed quarantine target was refused: %v", err)
	}
}

// A filter is named the same in a load error as in a run (its place in
// the chain), and a mistake in the second entry points at filters[1].
func TestFilterNamesInErrorsMatchTheRun(t *testing.T) {
	head := `
inputs:
  - stdin: {}
filters:
  - tenant: {static: acme}
  - drop: {}
`
	tail := `
outputs:
  - stdout: {}
`
	f, err := flow.ParseWithEnv("ok.yaml", []byte(head+tail), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Filters[1].ID; got != "drop#2" {
		t.Fatalf("the run names the drop %q, want drop#2", got)
	}
	for src, want := range map[string]string{
		head + "    if: 'nosuch('\n" + tail: "drop#2: if:",
		head + "    iff: 'true'\n" + tail:   `filters[1] names two plugins, "drop" and "iff"`,
	} {
		_, err := flow.ParseWithEnv("bad.yaml", []byte(src), noEnv)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want it to contain %q", err, want)
		}
	}
}

// A flow test file given where a flow is expected says what it is and
// which command runs it.
func TestTestFileGivenAsAFlow(t *testing.T) {
	_, err := flow.ParseWithEnv("site_test.yaml", []byte("flow: site.yaml\ncases:\n  - name: x\n"), noEnv)
	if err == nil || !strings.Contains(err.Error(), "looks like a flow test file") ||
		!strings.Contains(err.Error(), "mdrsflow test site_test.yaml") {
		t.Fatalf("got %v", err)
	}
}
