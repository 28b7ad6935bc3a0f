package elasticsearch

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/mdrsflow/mdrsflow/runtime/flow"
	"github.com/mdrsflow/mdrsflow/sdk"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name, settings, want string
	}{
		{"nothing", "", "set hosts"},
		{"both", "hosts: [\"http://a:9200\"]\ncloud_id: x:eA==\n", "both set"},
		{"no scheme", "hosts: [\"es:9200\"]\n", "hosts[0]: \"es:9200\" is not an http(s) URL"},
		{"credentials in url", "hosts: [\"https://u:pw@es:9200\"]\n",
			`hosts[0]: "https://u:xxxxx@es:9200" carries credentials`},
		{"key and file", "hosts: [\"http://a\"]\napi_key: k\napi_key_file: f\n",
			"api_key and api_key_file are both set"},
		{"user without password", "hosts: [\"http://a\"]\nusername: u\n", "go together"},
		{"password without user", "hosts: [\"http://a\"]\npassword_file: f\n", "go together"},
		{"two schemes", "hosts: [\"http://a\"]\napi_key: k\nservice_token: t\n", "only one of"},
		{"cert without key", "hosts: [\"http://a\"]\ncertificate: c.pem\n", "certificate and key"},
		{"bad op", "hosts: [\"http://a\"]\nop: upsert\n", `op is "upsert"`},
		{"zero timeout", "hosts: [\"http://a\"]\ntimeout: 0s\n", "timeout must be positive"},
		{"huge flush", "hosts: [\"http://a\"]\nflush_bytes: 1GiB\n", "flush_bytes must be"},
		{"zero records", "hosts: [\"http://a\"]\nflush_records: 0\n", "flush_records must be"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := New()
			if err := sdk.DecodeSettingsText([]byte(tc.settings), e); err != nil {
				t.Fatal(err)
			}
			err := e.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct{ name, settings, want string }{
		{"unknown key", "hostz: []\n", `unknown setting "hostz"`},
		{"bad size", "flush_bytes: lots\n", `"lots" is not a size`},
		{"bad duration", "timeout: soon\n", "soon"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := sdk.DecodeSettingsText([]byte(tc.settings), New())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("decode = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want ByteSize
	}{
		{"100", 100}, {"5MiB", 5 * MiB}, {"512 KiB", 512 * KiB}, {"1GiB", GiB},
		{"2MB", 2000000}, {"10KB", 10000}, {"7B", 7},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseByteSize(tc.in)
			if err != nil || got != tc.want {
				t.Errorf("ParseByteSize(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
	if s := (5 * MiB).String(); s != "5MiB" {
		t.Errorf("String() = %q", s)
	}
}

func TestSample(t *testing.T) {
	t.Setenv("MDRSFLOW_ES_URL", "https://localhost:9200")
	t.Setenv("ES_API_KEY", "id:key")
	reg, _ := sdk.Lookup(sdk.KindOutput, "elasticsearch")
	if reg.Summary == "" {
		t.Error("the registration has no Summary")
	}
	e := reg.New()
	if err := sdk.DecodeSettingsText(reg.Sample, e); err != nil {
		t.Fatalf("sample does not decode: %v", err)
	}
	if err := e.(sdk.Validator).Validate(); err != nil {
		t.Fatalf("sample does not validate: %v", err)
	}
	got := New()
	if err := sdk.DecodeSettingsText([]byte(commentedDefaults(t, reg.Sample, got)),
		got); err != nil {
		t.Fatalf("commented defaults do not decode: %v", err)
	}
	if want := settingsOf(New()); !reflect.DeepEqual(settingsOf(got), want) {
		t.Errorf("commented defaults differ from New():\n%s\n%s",
			settingsOf(got).dump(), want.dump())
	}
	checkReadme(t, reg.Sample)
}

// commentedDefaults returns the sample's commented-out settings (lines
// `# key: value` whose key is a setting) as YAML.
func commentedDefaults(t *testing.T, sample []byte, inst any) string {
	t.Helper()
	keys := map[string]bool{}
	typ := reflect.TypeOf(inst).Elem()
	for i := 0; i < typ.NumField(); i++ {
		if k, _, _ := strings.Cut(typ.Field(i).Tag.Get("yaml"), ","); k != "" && k != "-" {
			keys[k] = true
		}
	}
	var out []string
	for _, line := range strings.Split(string(sample), "\n") {
		key, _, ok := strings.Cut(strings.TrimPrefix(line, "# "), ":")
		if strings.HasPrefix(line, "# ") && ok && keys[key] {
			out = append(out, strings.TrimPrefix(line, "# "))
		}
	}
	if len(out) == 0 {
		t.Fatal("sample.yaml shows no commented-out default")
	}
	return strings.Join(out, "\n")
}

// checkReadme checks that README.md shows sample.yaml verbatim, has
// limitations, and that its first flow snippet loads as written.
func checkReadme(t *testing.T, sample []byte) {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```yaml\n"+string(sample)+"```") {
		t.Error("README.md does not hold sample.yaml verbatim in a yaml block")
	}
	if !strings.Contains(string(readme), "\n## Limitations\n") {
		t.Error("README.md has no Limitations section")
	}
	m := regexp.MustCompile("(?s)```yaml\n(outputs:.*?)```").FindStringSubmatch(string(readme))
	if m == nil {
		t.Fatal("README.md has no flow snippet (a yaml block starting with outputs:)")
	}
	if _, err := flow.Parse("README.md", []byte(m[1])); err != nil {
		t.Errorf("README.md's flow snippet does not load: %v", err)
	}
}

// settingsOf copies the settings fields, leaving out runtime state.
func settingsOf(e *Elasticsearch) *Elasticsearch {
	return &Elasticsearch{
		Hosts: e.Hosts, CloudID: e.CloudID, APIKey: e.APIKey, APIKeyFile: e.APIKeyFile,
		Username: e.Username, Password: e.Password, PasswordFile: e.PasswordFile,
		ServiceToken: e.ServiceToken, ServiceTokenFile: e.ServiceTokenFile, CAFile: e.CAFile,
		Certificate: e.Certificate, Key: e.Key, InsecureSkip: e.InsecureSkip,
		Compression: e.Compression, Timeout: e.Timeout, Op: e.Op, Pipeline: e.Pipeline,
		FlushBytes: e.FlushBytes, FlushRecords: e.FlushRecords,
		ManageTemplates: e.ManageTemplates, TenantMap: e.TenantMap,
		TenantMapPoll: e.TenantMapPoll, QuarantineTarget: e.QuarantineTarget,
	}
}

func (e *Elasticsearch) dump() string {
	return fmt.Sprintf("hosts=%v op=%s pipeline=%q timeout=%s flush=%s/%d compression=%v",
		e.Hosts, e.Op, e.Pipeline, e.Timeout, e.FlushBytes, e.FlushRecords, e.Compression)
}

func TestCloudIDInvalid(t *testing.T) {
	e := build(t, "cloud_id: \"name:not base64!\"\napi_key: k\n")
	err := e.Start(context.Background(), sdk.Env{})
	if err == nil || !strings.Contains(err.Error(), "elasticsearch: build client for cluster cloud_id:name: ") ||
		!strings.Contains(err.Error(), "CloudID") {
		t.Errorf("Start() = %v", err)
	}
	if err := e.Close(); err != nil {
		t.Errorf("close after failed start: %v", err)
	}
	if s := e.String(); s != "elasticsearch(hosts=cloud_id:name, auth=api_key, op=create)" {
		t.Errorf("String() = %q", s)
	}
}
