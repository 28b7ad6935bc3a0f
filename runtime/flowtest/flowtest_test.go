package flowtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The mistakes a flow author makes with a test file are named as such:
// a flow given instead of a test, a test without cases, a flow under test
// that is not there.
func TestLoadNamesMistakes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	flowFile := write("site.yaml", "name: site\nfilters:\n  - drop: {}\n")
	if _, err := Load(flowFile); err == nil || !strings.Contains(err.Error(), "is a flow, not a test file") {
		t.Errorf("a flow given as a test: %v", err)
	}
	empty := write("empty_test.yaml", "flow: site.yaml\ncases: []\n")
	if _, err := Load(empty); err == nil || !strings.Contains(err.Error(), "no cases") {
		t.Errorf("a test without cases: %v", err)
	}
	missing := write("missing_test.yaml", "flow: nosuch.yaml\ncases:\n  - name: a\n    input: {}\n")
	f, err := Load(missing)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Spec(); err == nil || !strings.Contains(err.Error(), missing) ||
		!strings.Contains(err.Error(), "flow: nosuch.yaml") {
		t.Errorf("a missing flow under test does not name the test file: %v", err)
	}
}
