// Package plugintest holds the contract every plugin passes, built-in or
// not: its sample settings parse and validate and tell the truth about
// defaults, its README shows them word for word, has a flow snippet that
// loads and a Limitations section, and Close is safe on a plugin that
// never started.
package plugintest

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/mdrsflow/mdrsflow/runtime/flow"
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

	checkDefaults(t, kind, name, reg)

	readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatalf("%s %s: %v", kind, name, err)
	}
	if !strings.Contains(string(readme), strings.TrimSpace(string(reg.Sample))) {
		t.Errorf("%s %s: README.md does not show sample.yaml word for word", kind, name)
	}
	if !strings.Contains(string(readme), "\n## Limitations") {
		t.Errorf("%s %s: README.md has no Limitations section", kind, name)
	}
	m := snippetRE.FindStringSubmatch(string(readme))
	if m == nil {
		t.Errorf("%s %s: README.md has no flow snippet (a yaml block starting with inputs:, filters: or outputs:)", kind, name)
		return
	}
	if _, err := flow.ParseWithEnv(filepath.Join(dir, "README.md"), []byte(m[1]), exampleEnv); err != nil {
		t.Errorf("%s %s: README.md's flow snippet does not load: %v", kind, name, err)
	}
}

// exampleEnv stands in for the environment a README's snippet expects.
func exampleEnv(name string) (string, bool) {
	if strings.HasSuffix(name, "_URL") {
		return "http://127.0.0.1:9200", true
	}
	return "example", true
}

var snippetRE = regexp.MustCompile("(?s)```yaml\n((?:inputs|filters|outputs):.*?)```")

// checkDefaults decodes the sample's commented-out settings (lines
// `# key: value` whose key is a setting) into a fresh instance and checks
// each equals the constructor's default, so the sample never lies about
// a default.
func checkDefaults(t *testing.T, kind sdk.Kind, name string, reg sdk.Registration) {
	t.Helper()
	def := reflect.ValueOf(reg.New())
	if def.Kind() != reflect.Pointer || def.Elem().Kind() != reflect.Struct {
		return
	}
	typ := def.Elem().Type()
	fields := map[string]int{}
	for i := 0; i < typ.NumField(); i++ {
		if k, _, _ := strings.Cut(typ.Field(i).Tag.Get("yaml"), ","); k != "" && k != "-" {
			fields[k] = i
		}
	}
	for _, line := range strings.Split(string(reg.Sample), "\n") {
		text, ok := strings.CutPrefix(line, "# ")
		if !ok {
			continue
		}
		key, val, ok := strings.Cut(text, ":")
		i, isSetting := fields[key]
		val = strings.TrimSpace(val)
		if !ok || !isSetting || strings.HasPrefix(val, "<") || strings.HasPrefix(val, "(") {
			continue // not a setting, or a described default such as <field>
		}
		got := reg.New()
		if err := sdk.DecodeSettingsText([]byte(text), got); err != nil {
			t.Errorf("%s %s: sample line %q does not decode: %v", kind, name, line, err)
			continue
		}
		gv := reflect.ValueOf(got).Elem().Field(i).Interface()
		dv := def.Elem().Field(i).Interface()
		if !reflect.DeepEqual(gv, dv) && !(isEmpty(gv) && isEmpty(dv)) {
			t.Errorf("%s %s: sample says %q but the default is %v", kind, name, text, dv)
		}
	}
}

// isEmpty reports whether v is a nil or empty slice or map.
func isEmpty(v any) bool {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Map:
		return rv.Len() == 0
	}
	return false
}
