package elasticsearch

import (
	"context"
	"strings"
	"testing"

	"github.com/mdrsflow/mdrsflow/sdk"
	"github.com/mdrsflow/mdrsflow/sdk/plugintest"
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

// TestSample holds the plugin to the contract every plugin passes.
func TestSample(t *testing.T) {
	t.Setenv("ES_API_KEY", "id:key")
	plugintest.Contract(t, sdk.KindOutput, "elasticsearch", ".")
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
