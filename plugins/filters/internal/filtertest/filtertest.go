// Package filtertest runs table-driven filter tests through the real flow
// parser, registry and chain (runtime/chain/chaintest), and checks that a
// plugin's sample.yaml and README agree with the plugin.
package filtertest

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/mdrsflow/mdrsflow/runtime/chain/chaintest"
	"github.com/mdrsflow/mdrsflow/sdk"
)

// Case is one event through one flow.
type Case struct {
	Name string
	// Flow is the flow text, at least `filters:`.
	Flow string
	// In is the event as JSON.
	In string
	// Want is the exact JSON written for the event. It is not checked when
	// empty and Err is set (a failed document carries a time stamp).
	Want string
	// Err, when set, must appear in the failure reason (Result.Error);
	// when empty, the event must not fail.
	Err string
	// Quarantine, when set, must appear in the quarantine reason; when
	// empty, the event must not be quarantined.
	Quarantine string
	// Tenant is the tenant the chain must report for the record.
	Tenant string
	// Dropped says the event must be dropped.
	Dropped bool
}

// Run runs each case as a subtest.
func Run(t *testing.T, cases []Case) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			c := chaintest.Build(t, tc.Flow)
			got := chaintest.Run(c, "", tc.In)[0]
			if got.Dropped != tc.Dropped {
				t.Fatalf("dropped = %v, want %v (output %s, error %q)", got.Dropped, tc.Dropped, got.JSON, got.Error)
			}
			if tc.Dropped {
				return
			}
			switch {
			case tc.Err == "" && got.Error != "":
				t.Fatalf("unexpected failure: %s\noutput: %s", got.Error, got.JSON)
			case tc.Err != "" && !strings.Contains(got.Error, tc.Err):
				t.Fatalf("failure reason %q does not contain %q\noutput: %s", got.Error, tc.Err, got.JSON)
			}
			switch {
			case tc.Quarantine == "" && got.Quarantine != "":
				t.Fatalf("unexpected quarantine: %s", got.Quarantine)
			case tc.Quarantine != "" && !strings.Contains(got.Quarantine, tc.Quarantine):
				t.Fatalf("quarantine reason %q does not contain %q", got.Quarantine, tc.Quarantine)
			}
			if got.Tenant != tc.Tenant {
				t.Errorf("tenant = %q, want %q", got.Tenant, tc.Tenant)
			}
			if tc.Want != "" || tc.Err == "" {
				if got.JSON != tc.Want {
					t.Errorf("output\n got: %s\nwant: %s", got.JSON, tc.Want)
				}
			}
		})
	}
}

// BadConfig is a flow that must fail to load: {name, flow, part of the
// error}.
type BadConfig [3]string

// RunBadConfigs checks that each flow is refused with the expected error.
func RunBadConfigs(t *testing.T, cases []BadConfig) {
	t.Helper()
	for _, tc := range cases {
		name, flow, want := tc[0], tc[1], tc[2]
		t.Run(name, func(t *testing.T) {
			c, err := chaintest.TryBuild(flow)
			if err == nil {
				_ = c.Close()
				t.Fatalf("flow loaded; want an error containing %q", want)
			}
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("error %q does not contain %q", err, want)
			}
		})
	}
}

var yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// CheckDocs checks the plugin's documentation, run from the plugin's
// package directory: sample.yaml decodes and validates as the plugin's
// settings and is the registration's Sample, README.md shows sample.yaml
// verbatim, and README.md's first flow snippet (a yaml block with
// `filters:`) loads as written.
func CheckDocs(t *testing.T, name string) {
	t.Helper()
	reg, ok := sdk.Lookup(sdk.KindFilter, name)
	if !ok {
		t.Fatalf("filter %q is not registered", name)
	}
	sample, err := os.ReadFile("sample.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if string(reg.Sample) != string(sample) {
		t.Error("the registration's Sample is not sample.yaml")
	}
	if reg.Summary == "" {
		t.Error("the registration has no Summary")
	}
	inst := reg.New()
	if err := sdk.DecodeSettingsText(sample, inst); err != nil {
		t.Fatalf("sample.yaml does not decode: %v", err)
	}
	if v, ok := inst.(sdk.Validator); ok {
		if err := v.Validate(); err != nil {
			t.Fatalf("sample.yaml does not validate: %v", err)
		}
	}

	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```yaml\n"+string(sample)+"```") {
		t.Error("README.md does not show sample.yaml verbatim in a yaml block")
	}
	if !strings.Contains(string(readme), "Limitation") {
		t.Error("README.md has no limitations section")
	}
	var snippet string
	for _, m := range yamlBlock.FindAllStringSubmatch(string(readme), -1) {
		if strings.Contains(m[1], "filters:") {
			snippet = m[1]
			break
		}
	}
	if snippet == "" {
		t.Fatal("README.md has no flow snippet (a yaml block with filters:)")
	}
	c, err := chaintest.TryBuild(snippet)
	if err != nil {
		t.Fatalf("README.md's flow snippet does not load: %v", err)
	}
	_ = c.Close()
}
