package elasticsearch

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mdrsflow/mdrsflow/sdk"
)

// A cluster, or a proxy in front of it, that echoes the credentials in
// its error text does not get them into a result reason (and so into the
// dead-letter queue or a log line) or the health report.
func TestEchoedCredentialsAreRedacted(t *testing.T) {
	const key = "TOPSECRETKEY42xyz"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		w.Header().Set("Content-Type", "application/json")
		echo := r.Header.Get("Authorization")
		if r.URL.Path == "/" {
			w.Write([]byte(`{"version":{"number":"8.19.0"}}`))
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":{"type":"security_exception","reason":"bad credentials: ` + echo + ` / ` +
			base64.StdEncoding.EncodeToString([]byte(key)) + `"},"status":401}`))
	}))
	defer srv.Close()

	e := New()
	if err := sdk.DecodeSettingsText([]byte("hosts: ["+srv.URL+"]\napi_key: "+key+"\n"), e); err != nil {
		t.Fatal(err)
	}
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background(), sdk.Env{}); err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	res := e.Write(context.Background(), []sdk.Record{{Data: []byte(`{"a":1}`), ID: "x",
		Routes: []sdk.Route{{Target: "logs-a-b"}}}})
	_, health := e.Health()
	for _, text := range []string{res[0].Reason, health} {
		if strings.Contains(text, key) || strings.Contains(text, base64.StdEncoding.EncodeToString([]byte(key))) {
			t.Fatalf("credential in %q", text)
		}
	}
	if !strings.Contains(res[0].Reason, "[redacted]") {
		t.Errorf("the echo was not there to redact: %q", res[0].Reason)
	}
}
