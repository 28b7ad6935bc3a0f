package elasticsearch

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mdrsflow/mdrsflow/plugins/outputs/elasticsearch/estest"
	"github.com/mdrsflow/mdrsflow/sdk"
)

func TestAuthHeaders(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	keyFile := filepath.Join(dir, "key")
	writeFile(t, pwFile, "hunter2\n")
	writeFile(t, keyFile, "  a2V5aWQ6a2V5c2VjcmV0  \n")
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("elastic:hunter2"))

	tests := []struct {
		name, settings, header string
	}{
		{"basic", "username: elastic\npassword: hunter2\n", basic},
		{"basic from file", fmt.Sprintf("username: elastic\npassword_file: %q\n", pwFile), basic},
		{"api key encoded", "api_key: a2V5aWQ6a2V5c2VjcmV0\n", "APIKey a2V5aWQ6a2V5c2VjcmV0"},
		{"api key as id:key", "api_key: keyid:keysecret\n", "APIKey a2V5aWQ6a2V5c2VjcmV0"},
		{"api key from file", fmt.Sprintf("api_key_file: %q\n", keyFile),
			"APIKey a2V5aWQ6a2V5c2VjcmV0"},
		{"service token", "service_token: tok123\n", "Bearer tok123"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := estest.New(t)
			srv.RequireAuthorization(tc.header)
			e := start(t, hostSettings(srv, tc.settings), nil)

			res := e.Write(context.Background(), records("t", "d", 2))

			if countStatus(res, sdk.Delivered) != 2 {
				t.Errorf("results %v", res)
			}
			for _, r := range srv.Requests() {
				if got := r.Header.Get("Authorization"); got != tc.header {
					t.Errorf("%s %s: Authorization %q, want %q", r.Method, r.Path, got, tc.header)
				}
			}
		})
	}
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestSecretsNeverLeak(t *testing.T) {
	const secret = "Sup3rS3cretValue"
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	writeFile(t, pwFile, secret)
	srv := estest.New(t)
	srv.RequireAuthorization("not what the output sends")
	down := estest.New(t)
	down.Close()

	tests := []struct {
		name, settings string
	}{
		{"api key, 401", hostSettings(srv, "api_key: "+secret+"\n")},
		{"api key id:key, 401", hostSettings(srv, "api_key: id:"+secret+"\n")},
		{"password, 401", hostSettings(srv, "username: u\npassword: "+secret+"\n")},
		{"password file, 401", hostSettings(srv, fmt.Sprintf("username: u\npassword_file: %q\n",
			pwFile))},
		{"service token, cluster down", hostSettings(down, "service_token: "+secret+"\n")},
		{"api key, cluster down", hostSettings(down, "api_key: "+secret+"\n")},
		{"password, bad ca file", hostSettings(srv, fmt.Sprintf(
			"username: u\npassword: %s\nca_file: %q\n", secret, pwFile))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs syncBuffer
			log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			e := build(t, tc.settings)
			log.Info("settings", "output", e, "api_key", e.APIKey, "password", e.Password)
			var texts []string
			err := e.Start(context.Background(), sdk.Env{Logger: log})
			if err != nil {
				texts = append(texts, err.Error())
			}
			for _, r := range e.Write(context.Background(), records("t", "d", 2)) {
				if r.Status == sdk.Delivered {
					t.Errorf("write delivered; the case should fail")
				}
				texts = append(texts, r.Reason)
			}
			_, last := e.Health()
			texts = append(texts, last, e.String(), fmt.Sprintf("%v %+v %#v %s", e, e, e, e),
				fmt.Sprintf("%v %+v", reflect.ValueOf(e).Elem(), reflect.ValueOf(e).Elem()),
				logs.String())
			if err := e.Close(); err != nil {
				texts = append(texts, err.Error())
			}
			for _, s := range texts {
				if strings.Contains(s, secret) ||
					strings.Contains(s, base64.StdEncoding.EncodeToString([]byte("id:"+secret))) {
					t.Errorf("secret in %q", s)
				}
			}
		})
	}
}
