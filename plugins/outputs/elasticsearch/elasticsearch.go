// Package elasticsearch is the output that writes events to Elasticsearch
// through the bulk API, one result per event.
//
// Write turns the records it is given into bulk requests of at most
// flush_records items and flush_bytes bytes, sends them one after another
// with the plain client of github.com/elastic/go-elasticsearch/v8, and
// reads every item of every response:
//
//	item 2xx, or 409 on create ........ Delivered
//	item 429, 408, 5xx ................ Retry   "<type>: <reason> (status N)"
//	item other 4xx .................... Rejected "<type>: <reason>"
//	request failed, 429, 5xx, 401/403 . Retry for every item of the request
//	request 400, 413 (one item) ....... Rejected for every item of the request
//
// The client's own retries are off: a retry inside the client would hide
// which items failed and how often, and the engine owns retries, backoff
// and the dead-letter queue. esutil.BulkIndexer is not used for the same
// reason (it never retries an item, can drop items when a flush fails and
// keeps buffering while the cluster is down).
package elasticsearch

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	elastic "github.com/elastic/go-elasticsearch/v8"

	"github.com/mdrsflow/mdrsflow/sdk"
)

//go:embed sample.yaml
var sample []byte

func init() {
	sdk.Register(sdk.Registration{
		Kind:    sdk.KindOutput,
		Name:    "elasticsearch",
		Summary: "write events to Elasticsearch data streams or indices through the bulk API",
		New:     func() any { return New() },
		Sample:  sample,
	})
}

// The op values.
const (
	OpCreate = "create"
	OpIndex  = "index"
)

// Elasticsearch is the elasticsearch output. Its exported fields are its
// settings; see sample.yaml for what each one means.
type Elasticsearch struct {
	Hosts            []string      `yaml:"hosts"`
	CloudID          string        `yaml:"cloud_id"`
	APIKey           Secret        `yaml:"api_key"`
	APIKeyFile       string        `yaml:"api_key_file"`
	Username         string        `yaml:"username"`
	Password         Secret        `yaml:"password"`
	PasswordFile     string        `yaml:"password_file"`
	ServiceToken     Secret        `yaml:"service_token"`
	ServiceTokenFile string        `yaml:"service_token_file"`
	CAFile           string        `yaml:"ca_file"`
	Certificate      string        `yaml:"certificate"`
	Key              string        `yaml:"key"`
	InsecureSkip     bool          `yaml:"insecure_skip_verify"`
	Compression      bool          `yaml:"compression"`
	Timeout          time.Duration `yaml:"timeout"`
	Op               string        `yaml:"op"`
	Pipeline         string        `yaml:"pipeline"`
	FlushBytes       ByteSize      `yaml:"flush_bytes"`
	FlushRecords     int           `yaml:"flush_records"`

	log    *slog.Logger
	client *elastic.Client
	stats  counters
	rej    rateLine
	retry  rateLine
	buf    []byte // bulk body, reused across Writes (Write is not concurrent)

	mu        sync.Mutex // guards the health fields below
	checked   bool       // health was set at least once
	reachable bool
	lastErr   string
}

// HealthReporter is implemented by outputs that can say whether their
// destination answers. The engine's readiness check calls it from any
// goroutine.
type HealthReporter interface {
	// Health reports whether the last request reached the destination
	// (any HTTP answer counts) and the last request-level error, "" after
	// a request that succeeded.
	Health() (reachable bool, lastError string)
}

// New returns the output with its defaults set.
func New() *Elasticsearch {
	return &Elasticsearch{
		Compression:  true,
		Timeout:      60 * time.Second,
		Op:           OpCreate,
		Pipeline:     "_none",
		FlushBytes:   5 * MiB,
		FlushRecords: 5000,
	}
}

// maxFlushBytes is Elasticsearch's default http.max_content_length.
const maxFlushBytes = 100 * MiB

// Validate checks the settings without touching files or the network.
func (e *Elasticsearch) Validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("elasticsearch: "+format, a...))
	}

	switch {
	case len(e.Hosts) == 0 && e.CloudID == "":
		bad("set hosts (for example [\"https://es.example.com:9200\"]) or cloud_id")
	case len(e.Hosts) > 0 && e.CloudID != "":
		bad("hosts and cloud_id are both set; keep one of them")
	}
	for i, h := range e.Hosts {
		if err := checkHost(h); err != nil {
			bad("hosts[%d]: %w", i, err)
		}
	}

	pairs := []struct {
		name  string
		value Secret
		file  string
	}{
		{"api_key", e.APIKey, e.APIKeyFile},
		{"password", e.Password, e.PasswordFile},
		{"service_token", e.ServiceToken, e.ServiceTokenFile},
	}
	for _, p := range pairs {
		if p.value != "" && p.file != "" {
			bad("%s and %s_file are both set; keep one of them", p.name, p.name)
		}
	}
	hasPassword := e.Password != "" || e.PasswordFile != ""
	if (e.Username != "") != hasPassword {
		bad("username and password (or password_file) go together; set both or neither")
	}
	schemes := 0
	for _, on := range []bool{
		e.APIKey != "" || e.APIKeyFile != "",
		e.Username != "",
		e.ServiceToken != "" || e.ServiceTokenFile != "",
	} {
		if on {
			schemes++
		}
	}
	if schemes > 1 {
		bad("set only one of api_key, username/password and service_token")
	}

	if (e.Certificate == "") != (e.Key == "") {
		bad("certificate and key go together; set both or neither")
	}
	if e.Timeout <= 0 {
		bad("timeout must be positive, for example 60s")
	}
	if e.Op != OpCreate && e.Op != OpIndex {
		bad("op is %q; use %q (data streams) or %q (classic indices)", e.Op, OpCreate, OpIndex)
	}
	if e.FlushBytes <= 0 || e.FlushBytes > maxFlushBytes {
		bad("flush_bytes must be between 1 and 100MiB (Elasticsearch's default request limit)")
	}
	if e.FlushRecords <= 0 {
		bad("flush_records must be positive, for example 5000")
	}
	return errors.Join(errs...)
}

// checkHost accepts an http or https URL with a host and no credentials.
// Its errors show the URL without any password in it.
func checkHost(h string) error {
	u, err := url.Parse(h)
	if err != nil {
		return fmt.Errorf("not a URL; write it as https://host:9200")
	}
	if u.User != nil {
		return fmt.Errorf("%q carries credentials; move them to username/password or api_key",
			u.Redacted())
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL; write it as https://host:9200", u.Redacted())
	}
	return nil
}

// Start reads the secret files, builds the client and asks the cluster who
// it is. A cluster that does not answer is not an error: the output starts,
// reports itself unreachable and Write returns Retry until the cluster is
// back, so a sidecar can start while Elasticsearch is down.
func (e *Elasticsearch) Start(ctx context.Context, env sdk.Env) error {
	e.log = env.Logger
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	e.rej = rateLine{every: 30 * time.Second}
	e.retry = rateLine{every: 30 * time.Second}

	cfg, err := e.clientConfig()
	if err != nil {
		return err
	}
	if e.InsecureSkip {
		e.log.Warn("tls certificate verification is off; anyone on the path can read "+
			"and change what is sent", "setting", "insecure_skip_verify")
	}
	c, err := elastic.NewClient(cfg)
	if err != nil {
		return fmt.Errorf("elasticsearch: build client: %w", err)
	}
	e.client = c

	e.ping(ctx)
	return nil
}

// ping asks the cluster for its version, logs the outcome and sets health.
func (e *Elasticsearch) ping(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, min(e.Timeout, 10*time.Second))
	defer cancel()

	res, err := e.client.Info(e.client.Info.WithContext(ctx))
	if err != nil {
		e.setHealth(false, "cluster unreachable: "+err.Error())
		e.log.Warn("cluster unreachable at start; writes will be retried",
			"hosts", e.hostsForLog(), "err", err)
		return
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusForbidden {
		// An API key limited to writing may not read cluster info; the
		// cluster did authenticate it, which is all Start needs to know.
		e.setHealth(true, "")
		e.log.Info("connected", "hosts", e.hostsForLog(),
			"version", "unknown (the credentials may not read cluster info)")
		return
	}
	if res.IsError() {
		reason := requestReason("cluster info request", res.StatusCode, readSmall(res.Body))
		e.setHealth(true, reason)
		e.log.Warn("cluster answered with an error at start", "hosts", e.hostsForLog(),
			"status", res.StatusCode, "err", reason)
		return
	}
	info := struct {
		ClusterName string `json:"cluster_name"`
		Version     struct {
			Number string `json:"number"`
		} `json:"version"`
	}{}
	_ = decodeJSON(res.Body, &info)
	e.setHealth(true, "")
	e.log.Info("connected", "hosts", e.hostsForLog(), "cluster", info.ClusterName,
		"version", info.Version.Number)
}

// Close releases the client. It is called after the last Write has
// returned, and is safe after a failed Start and more than once.
func (e *Elasticsearch) Close() error {
	if e.client == nil {
		return nil
	}
	c := e.client
	e.client = nil
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Close(ctx); err != nil && !errors.Is(err, elastic.ErrAlreadyClosed) {
		return fmt.Errorf("elasticsearch: close client: %w", err)
	}
	return nil
}

// Health reports whether the cluster answered the last request and the
// last request-level error. It is safe to call from any goroutine.
func (e *Elasticsearch) Health() (reachable bool, lastError string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.reachable, e.lastErr
}

// setHealth records the outcome of a request and logs a change of
// reachability (never once per request).
func (e *Elasticsearch) setHealth(reachable bool, lastErr string) {
	e.mu.Lock()
	was, checked := e.reachable, e.checked
	e.reachable, e.lastErr, e.checked = reachable, lastErr, true
	e.mu.Unlock()

	if !checked || was == reachable { // the first outcome is logged by ping
		return
	}
	if reachable {
		e.log.Info("cluster reachable again", "hosts", e.hostsForLog())
		return
	}
	e.log.Error("cluster unreachable; events wait in the queue", "hosts", e.hostsForLog(),
		"err", lastErr)
}

// Stats returns the output's counters since Start.
func (e *Elasticsearch) Stats() Stats { return e.stats.snapshot() }

// String describes the output without any secret, for logs and errors.
func (e *Elasticsearch) String() string {
	return fmt.Sprintf("elasticsearch(hosts=%s, auth=%s, op=%s)", e.hostsForLog(),
		e.authKind(), e.Op)
}

// GoString keeps %#v from printing the secrets.
func (e *Elasticsearch) GoString() string { return e.String() }

// LogValue keeps slog from printing the secrets.
func (e *Elasticsearch) LogValue() slog.Value { return slog.StringValue(e.String()) }

func (e *Elasticsearch) hostsForLog() string {
	if e.CloudID != "" {
		name, _, _ := strings.Cut(e.CloudID, ":")
		return "cloud_id:" + name
	}
	out := make([]string, len(e.Hosts))
	for i, h := range e.Hosts {
		if u, err := url.Parse(h); err == nil {
			out[i] = u.Redacted()
		} else {
			out[i] = "(invalid)"
		}
	}
	return "[" + strings.Join(out, " ") + "]"
}

func (e *Elasticsearch) authKind() string {
	switch {
	case e.APIKey != "" || e.APIKeyFile != "":
		return "api_key"
	case e.Username != "":
		return "basic"
	case e.ServiceToken != "" || e.ServiceTokenFile != "":
		return "service_token"
	}
	return "none"
}

// Secret is a setting that must not be shown: fmt and slog print it as
// "[redacted]" (or "" when it is empty), even inside a printed struct.
type Secret string

// String hides the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString hides the value from %#v.
func (s Secret) GoString() string { return s.String() }

// LogValue hides the value from slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Interface guards.
var (
	_ sdk.Output     = (*Elasticsearch)(nil)
	_ sdk.Validator  = (*Elasticsearch)(nil)
	_ sdk.Starter    = (*Elasticsearch)(nil)
	_ sdk.Closer     = (*Elasticsearch)(nil)
	_ HealthReporter = (*Elasticsearch)(nil)
	_ fmt.Stringer   = (*Elasticsearch)(nil)
	_ fmt.GoStringer = (*Elasticsearch)(nil)
	_ slog.LogValuer = (*Elasticsearch)(nil)
)
