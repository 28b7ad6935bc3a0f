// Package ops serves the sidecar's HTTP endpoints: liveness (/healthz),
// readiness (/readyz), Prometheus metrics (/metrics) and a plain-text
// status page (/).
//
// It listens on loopback by default. On any other address it refuses to
// start without a bearer token, and then requires the token on every
// endpoint (Prometheus sends one with `authorization: {credentials: …}`)
// except the probes when OpenProbes is set, for Kubernetes.
package ops

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mdrsflow/mdrsflow/runtime/dlq"
	"github.com/mdrsflow/mdrsflow/runtime/host"
)

// Config is the HTTP endpoint's settings.
type Config struct {
	// Addr is host:port to listen on; empty disables the endpoints.
	Addr string
	// Token, when set, is required as `Authorization: Bearer <token>`.
	// It is required whenever Addr is not a loopback address.
	Token string
	// OpenProbes leaves /healthz and /readyz open without the token.
	OpenProbes bool
}

// ErrTokenRequired is returned for a non-loopback address without token.
var ErrTokenRequired = errors.New("a bearer token is required to serve on a non-loopback address")

// Flow is what the endpoints need of a running flow.
type Flow interface {
	Name() string
	Ready() (bool, string)
	Stats() *host.Stats
	DeadLetters() dlq.Stats
}

// Server is the running endpoint.
type Server struct {
	srv *http.Server
	ln  net.Listener
}

// IsLoopback reports whether addr's host is a loopback address or
// "localhost".
func IsLoopback(addr string) bool {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// Start listens and serves in the background until Shutdown.
func Start(cfg Config, flows []Flow, logger *slog.Logger) (*Server, error) {
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		return nil, fmt.Errorf("http endpoint %q is not an address: %v; write host:port, "+
			"e.g. 127.0.0.1:9600 (or :9600 for every interface, with a token)", cfg.Addr, err)
	}
	if !IsLoopback(cfg.Addr) && cfg.Token == "" {
		return nil, fmt.Errorf("http endpoint %s: %w; set MDRSFLOW_HTTP_TOKEN or --http-token-file, "+
			"or listen on 127.0.0.1", cfg.Addr, ErrTokenRequired)
	}
	if strings.IndexFunc(cfg.Token, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return nil, fmt.Errorf("http endpoint %s: the bearer token holds white space or a control character, "+
			"which a client cannot send in an Authorization header; use letters and digits (e.g. `openssl rand -hex 32`)", cfg.Addr)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(&collector{flows: flows})

	mux := http.NewServeMux()
	guard := func(h http.Handler, open bool) http.Handler {
		if cfg.Token == "" || open {
			return h
		}
		want := []byte("Bearer " + cfg.Token)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got := []byte(r.Header.Get("Authorization"))
			if subtle.ConstantTimeCompare(got, want) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="mdrsflow"`)
				http.Error(w, "unauthorized: send Authorization: Bearer <token>", http.StatusUnauthorized)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	mux.Handle("/healthz", guard(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	}), cfg.OpenProbes))
	mux.Handle("/readyz", guard(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		var bad []string
		for _, f := range flows {
			if ok, why := f.Ready(); !ok {
				bad = append(bad, fmt.Sprintf("flow %s: %s", f.Name(), why))
			}
		}
		if len(bad) > 0 {
			http.Error(w, strings.Join(bad, "\n"), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	}), cfg.OpenProbes))
	mux.Handle("/metrics", guard(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), false))
	mux.Handle("/", guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		for _, f := range flows {
			ok, why := f.Ready()
			state := "ready"
			if !ok {
				state = "not ready: " + why
			}
			fmt.Fprintf(w, "flow %s (%s)\n", f.Name(), state)
			f.Stats().Print(w)
			fmt.Fprintln(w)
		}
	}), false))

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("http endpoint: %w; another mdrsflow (or another program) may be "+
			"listening there: give this one its own address with --http or MDRSFLOW_HTTP, or --http \"\" "+
			"to turn the endpoint off", err)
	}
	s := &Server{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, ln: ln}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("http endpoint stopped", "addr", cfg.Addr, "err", err)
		}
	}()
	logger.Info("http endpoint listening", "addr", ln.Addr().String(),
		"token_required", cfg.Token != "", "open_probes", cfg.OpenProbes && cfg.Token != "")
	return s, nil
}

// Addr is the address actually listened on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Shutdown stops the server.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// collector reads the flows' counters at scrape time.
type collector struct{ flows []Flow }

var (
	descIn = prometheus.NewDesc("mdrsflow_events_in_total",
		"Events read by the flow's inputs.", []string{"flow"}, nil)
	descDropped = prometheus.NewDesc("mdrsflow_events_dropped_total",
		"Events dropped on purpose by a filter.", []string{"flow"}, nil)
	descOut = prometheus.NewDesc("mdrsflow_events_out_total",
		"Events settled by an output, by target, tenant and outcome (delivered, failed, quarantined, dead_lettered).",
		[]string{"flow", "output", "target", "tenant", "outcome"}, nil)
	descRetries = prometheus.NewDesc("mdrsflow_record_retries_total",
		"Records an output asked to retry.", []string{"flow"}, nil)
	descRestarts = prometheus.NewDesc("mdrsflow_plugin_restarts_total",
		"Plugin processes restarted after dying.", []string{"flow"}, nil)
	descReady = prometheus.NewDesc("mdrsflow_flow_ready",
		"1 when the flow is running and its outputs deliver.", []string{"flow"}, nil)
	descDLQWritten = prometheus.NewDesc("mdrsflow_dead_letters_written_total",
		"Events an output refused for good, written to the dead-letter queue.", []string{"flow"}, nil)
	descDLQDiscarded = prometheus.NewDesc("mdrsflow_dead_letters_discarded_total",
		"Dead letters deleted because the queue reached its size bound: events lost; alert on it.", []string{"flow"}, nil)
	descDLQBytes = prometheus.NewDesc("mdrsflow_dead_letters_bytes",
		"Size of the dead-letter queue on disk.", []string{"flow"}, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descIn, descDropped, descOut, descRetries, descRestarts, descReady,
		descDLQWritten, descDLQDiscarded, descDLQBytes} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	for _, f := range c.flows {
		st := f.Stats()
		t := st.Totals()
		name := f.Name()
		ch <- prometheus.MustNewConstMetric(descIn, prometheus.CounterValue, float64(t.In), name)
		ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(t.Dropped), name)
		ch <- prometheus.MustNewConstMetric(descRetries, prometheus.CounterValue, float64(t.Retries), name)
		ch <- prometheus.MustNewConstMetric(descRestarts, prometheus.CounterValue, float64(t.PluginRestarts), name)
		ready := 0.0
		if ok, _ := f.Ready(); ok {
			ready = 1
		}
		ch <- prometheus.MustNewConstMetric(descReady, prometheus.GaugeValue, ready, name)
		dl := f.DeadLetters()
		ch <- prometheus.MustNewConstMetric(descDLQWritten, prometheus.CounterValue, float64(dl.Written), name)
		ch <- prometheus.MustNewConstMetric(descDLQDiscarded, prometheus.CounterValue, float64(dl.Discarded), name)
		ch <- prometheus.MustNewConstMetric(descDLQBytes, prometheus.GaugeValue, float64(dl.Bytes), name)
		for _, l := range st.Targets() {
			for _, o := range []struct {
				outcome string
				n       uint64
			}{{"delivered", l.Out}, {"failed", l.Failed}, {"quarantined", l.Quarantined}, {"dead_lettered", l.Rejected}} {
				if o.n == 0 {
					continue
				}
				ch <- prometheus.MustNewConstMetric(descOut, prometheus.CounterValue, float64(o.n),
					name, l.Output, l.Target, l.Tenant, o.outcome)
			}
		}
	}
}
