package ops

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/mdrsflow/mdrsflow/runtime/host"
)

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:9600": true, "127.5.5.5:1": true, "[::1]:0": true, "localhost:9600": true,
		"[::ffff:127.0.0.1]:0": true,
		"0.0.0.0:9600":         false, ":9600": false, "[::]:0": false, "10.0.0.1:9600": false,
		"example.com:9600": false, "LOCALHOST:1": false, "localhost.example.com:1": false,
		"127.0.0.1": false, "localhost": false, "": false,
	} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

// TestOffLoopbackRefusedWithoutToken checks every way of naming a
// non-loopback address, and that the error says what to set.
func TestOffLoopbackRefusedWithoutToken(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "10.255.255.1:9600", "example.com:9600"} {
		s, err := Start(Config{Addr: addr, OpenProbes: true}, nil, quiet)
		if err == nil {
			_ = s.Shutdown(context.Background())
			t.Errorf("%s: served without a token", addr)
			continue
		}
		if !errors.Is(err, ErrTokenRequired) ||
			!strings.Contains(err.Error(), "set MDRSFLOW_HTTP_TOKEN or --http-token-file, or listen on 127.0.0.1") {
			t.Errorf("%s: %v", addr, err)
		}
	}
}

// TestTokenGuard checks what the guard lets through once a token is set:
// only `Authorization: Bearer <token>`, on every path including unknown
// ones, and never the token in a response.
func TestTokenGuard(t *testing.T) {
	const token = "guard-token-93b1"
	var logs bytes.Buffer
	f := &fakeFlow{ready: true, stats: host.NewStatsForTest()}
	s, err := Start(Config{Addr: "127.0.0.1:0", Token: token}, []Flow{f},
		slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	if !strings.Contains(logs.String(), "token_required=true") {
		t.Errorf("the start does not say a token is required: %s", logs.String())
	}

	base := "http://" + s.Addr()
	for _, tc := range []struct {
		name, path string
		header     map[string]string
		want       int
	}{
		{"bearer", "/metrics", map[string]string{"Authorization": "Bearer " + token}, 200},
		{"bearer on the status page", "/", map[string]string{"Authorization": "Bearer " + token}, 200},
		{"no header", "/metrics", nil, 401},
		{"unknown path without token", "/debug/pprof/", nil, 401},
		{"unknown path with token", "/debug/pprof/", map[string]string{"Authorization": "Bearer " + token}, 404},
		{"token in the query", "/metrics?token=" + token, nil, 401},
		{"token in the query, access_token", "/metrics?access_token=" + token, nil, 401},
		{"basic auth", "/metrics", map[string]string{"Authorization": "Basic " + token}, 401},
		{"token without scheme", "/metrics", map[string]string{"Authorization": token}, 401},
		{"token prefix", "/metrics", map[string]string{"Authorization": "Bearer " + token[:len(token)-1]}, 401},
		{"token with more", "/metrics", map[string]string{"Authorization": "Bearer " + token + "x"}, 401},
		{"probes closed by default", "/healthz", nil, 401},
		{"readiness closed by default", "/readyz", nil, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, base+tc.path, nil)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.want {
				t.Errorf("status %d, want %d: %s", res.StatusCode, tc.want, body)
			}
			if tc.want == 401 && res.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if strings.Contains(string(body), token) {
				t.Error("the token appears in the response")
			}
		})
	}
}
