package ops

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/mdrsflow/mdrsflow/runtime/dlq"
	"github.com/mdrsflow/mdrsflow/runtime/host"
)

type fakeFlow struct {
	ready bool
	stats *host.Stats
}

func (f *fakeFlow) Name() string           { return "site" }
func (f *fakeFlow) Ready() (bool, string)  { return f.ready, "starting" }
func (f *fakeFlow) Stats() *host.Stats     { return f.stats }
func (f *fakeFlow) DeadLetters() dlq.Stats { return dlq.Stats{Written: 2} }

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestNonLoopbackNeedsToken(t *testing.T) {
	_, err := Start(Config{Addr: "0.0.0.0:0"}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if !errors.Is(err, ErrTokenRequired) {
		t.Fatalf("got %v, want ErrTokenRequired", err)
	}
}

// An address that is not host:port is named as such, not as a missing
// token.
func TestBadAddressSaysSo(t *testing.T) {
	_, err := Start(Config{Addr: "nonsense"}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || errors.Is(err, ErrTokenRequired) || !strings.Contains(err.Error(), "is not an address") {
		t.Fatalf("got %v", err)
	}
}

func TestEndpoints(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	f := &fakeFlow{stats: host.NewStatsForTest()}
	cases := []struct {
		name       string
		cfg        Config
		path, tok  string
		wantStatus int
		wantBody   string
	}{
		{"loopback open", Config{Addr: "127.0.0.1:0"}, "/healthz", "", 200, "ok"},
		{"not ready", Config{Addr: "127.0.0.1:0"}, "/readyz", "", 503, "starting"},
		{"metrics", Config{Addr: "127.0.0.1:0"}, "/metrics", "", 200, "mdrsflow_events_in_total"},
		{"dead letters", Config{Addr: "127.0.0.1:0"}, "/metrics", "", 200, "mdrsflow_dead_letters_written_total{flow=\"site\"} 2"},
		{"dead letters", Config{Addr: "127.0.0.1:0"}, "/metrics", "", 200, "mdrsflow_dead_letters_written_total{flow=\"site\"} 2"},
		{"token missing", Config{Addr: "127.0.0.1:0", Token: "s3cret"}, "/metrics", "", 401, "Bearer"},
		{"token wrong", Config{Addr: "127.0.0.1:0", Token: "s3cret"}, "/metrics", "nope", 401, ""},
		{"token right", Config{Addr: "127.0.0.1:0", Token: "s3cret"}, "/metrics", "s3cret", 200, "mdrsflow_flow_ready"},
		{"open probes", Config{Addr: "127.0.0.1:0", Token: "s3cret", OpenProbes: true}, "/healthz", "", 200, "ok"},
		{"open probes keep metrics closed", Config{Addr: "127.0.0.1:0", Token: "s3cret", OpenProbes: true}, "/metrics", "", 401, ""},
		{"status page", Config{Addr: "127.0.0.1:0"}, "/", "", 200, "flow site"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := Start(c.cfg, []Flow{f}, quiet)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Shutdown(context.Background())
			status, body := get(t, "http://"+s.Addr()+c.path, c.tok)
			if status != c.wantStatus || !strings.Contains(body, c.wantBody) {
				t.Fatalf("status %d body %q", status, body)
			}
			if c.cfg.Token != "" && strings.Contains(body, c.cfg.Token) {
				t.Fatal("the token appears in a response")
			}
		})
	}
}

// A token a client cannot put in an Authorization header is refused at
// start rather than locking everyone out.
func TestTokenWithWhiteSpaceRefused(t *testing.T) {
	for _, tok := range []string{"two words", "tab\there", "new\nline"} {
		srv, err := Start(Config{Addr: "127.0.0.1:0", Token: tok}, nil, slog.New(slog.DiscardHandler))
		if err == nil {
			srv.Shutdown(context.Background())
			t.Errorf("token %q accepted", tok)
			continue
		}
		if !strings.Contains(err.Error(), "white space or a control character") {
			t.Errorf("token %q: %v", tok, err)
		}
	}
}
