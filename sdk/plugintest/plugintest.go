// Package plugintest holds the contract every plugin passes, built-in or
// not: its sample settings parse and validate, its README shows them word
// for word, and Close is safe on a plugin that never started.
package plugintest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mdrsflow/mdrsflow/sdk"
)

// Contract checks the registered plugin kind/name whose package folder is
// dir (holding README.md).
func Contract(t *testing.T, kind sdk.Kind, name, dir string) {
	t.Helper()
	reg, ok := sdk.Lookup(kind, name)
	if !ok {
		t.Fatalf("%s plugin %q is not registered", kind, name)
	}
	if strings.TrimSpace(reg.Summary) == "" {
		t.Errorf("%s %s: no Summary for `mdrsflow plugins`", kind, name)
	}
	if len(reg.Sample) == 0 {
		t.Fatalf("%s %s: no sample settings (sample.yaml)", kind, name)
	}

	inst := reg.New()
	switch kind {
	case sdk.KindInput:
		if _, ok := inst.(sdk.Input); !ok {
			t.Fatalf("%s %s: New returns %T, not an sdk.Input", kind, name, inst)
		}
	case sdk.KindFilter:
		if _, ok := inst.(sdk.Filter); !ok {
			t.Fatalf("%s %s: New returns %T, not an sdk.Filter", kind, name, inst)
		}
	case sdk.KindOutput:
		if _, ok := inst.(sdk.Output); !ok {
			t.Fatalf("%s %s: New returns %T, not an sdk.Output", kind, name, inst)
		}
	}
	if c, ok := inst.(sdk.Closer); ok {
		if err := c.Close(); err != nil {
			t.Errorf("%s %s: Close before Start: %v", kind, name, err)
		}
	}

	inst = reg.New()
	if err := sdk.DecodeSettingsText(reg.Sample, inst); err != nil {
		t.Fatalf("%s %s: sample.yaml does not decode: %v", kind, name, err)
	}
	if v, ok := inst.(sdk.Validator); ok {
		if err := v.Validate(); err != nil {
			t.Errorf("%s %s: sample.yaml does not validate: %v", kind, name, err)
		}
	}

	readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatalf("%s %s: %v", kind, name, err)
	}
	if !strings.Contains(string(readme), strings.TrimSpace(string(reg.Sample))) {
		t.Errorf("%s %s: README.md does not show sample.yaml word for word", kind, name)
	}
}
