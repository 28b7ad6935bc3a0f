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
//
// The output's own connection settings name the shared cluster. A tenant
// map (tenantmap.go) sends chosen tenants to dedicated clusters instead,
// and an event whose tenant has no place is written to the quarantine
// target of the shared cluster. With manage_templates, the index templates
// of flows/templates are installed into each cluster before the first
// event is written to it (templates.go).
package elasticsearch

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

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
	ManageTemplates  bool          `yaml:"manage_templates"`
	TenantMap        string        `yaml:"tenant_map"`
	TenantMapPoll    time.Duration `yaml:"tenant_map_poll"`
	QuarantineTarget string        `yaml:"quarantine_target"`

	log   *slog.Logger
	stats counters
	rej   rateLine
	retry rateLine
	quar  rateLine
	buf   []byte // bulk body, reused across Writes (Write is not concurrent)

	mu      sync.Mutex // guards the fields below
	routes  *routing   // nil until Start has built the shared cluster
	retired []*cluster // clusters a reload replaced; closed by the next Write
	mapErr  string     // why the last reload of the tenant map failed
	stop    chan struct{}
	stopped chan struct{}
}

// HealthReporter is implemented by outputs that can say whether their
// destination answers. The engine's readiness check calls it from any
// goroutine.
type HealthReporter interface {
	// Health reports whether the last request to each destination got an
	// answer (any HTTP answer counts), and the last request-level errors,
	// each naming its destination; "" when every last request succeeded.
	// Runner.Ready in runtime/host reads it through the same method set.
	Health() (reachable bool, lastError string)
}

// New returns the output with its defaults set.
func New() *Elasticsearch {
	return &Elasticsearch{
		Compression:      true,
		Timeout:          60 * time.Second,
		Op:               OpCreate,
		Pipeline:         "_none",
		FlushBytes:       5 * MiB,
		FlushRecords:     5000,
		TenantMapPoll:    10 * time.Second,
		QuarantineTarget: DefaultQuarantineTarget,
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

	checkConnection(connSettings{
		hosts: e.Hosts, cloudID: e.CloudID, username: e.Username,
		certificate: e.Certificate, key: e.Key,
		secrets: []secretSetting{
			{"api_key", e.APIKey != "", e.APIKeyFile, ""},
			{"password", e.Password != "", e.PasswordFile, ""},
			{"service_token", e.ServiceToken != "", e.ServiceTokenFile, ""},
		},
	}, bad)
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
	if e.TenantMap != "" && e.TenantMapPoll <= 0 {
		bad("tenant_map_poll must be positive, for example 10s")
	}
	if err := checkIndexName(e.QuarantineTarget); err != nil {
		bad("quarantine_target %q: %w", e.QuarantineTarget, err)
	}
	return errors.Join(errs...)
}

// DefaultQuarantineTarget is where events go whose tenant the tenant map
// gives no cluster; it is the flow's default quarantine target too.
const DefaultQuarantineTarget = "quarantine-mdrsflow-default"

// checkIndexName accepts what Elasticsearch accepts as an index or data
// stream name that an output writes to.
func checkIndexName(s string) error {
	switch {
	case s == "":
		return errors.New("must not be empty")
	case len(s) > 255:
		return errors.New("longer than 255 bytes")
	case s[0] == '-' || s[0] == '_' || s[0] == '+' || s[0] == '.':
		return fmt.Errorf("must not start with %q", s[0])
	case strings.ContainsAny(s, `\/*?"<>| ,#:{}`) || strings.ToLower(s) != s:
		return errors.New("use lowercase letters, digits, '-', '_' and '.' only")
	}
	return nil
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

// Start reads the secret files and the tenant map, builds a client per
// cluster and asks each cluster who it is. A cluster that does not answer
// is not an error: the output starts, reports it unreachable and Write
// returns Retry for its events until it is back, so a sidecar can start
// while Elasticsearch is down. A tenant map that cannot be read is an
// error: without it, events could go to the wrong cluster.
func (e *Elasticsearch) Start(ctx context.Context, env sdk.Env) error {
	e.log = env.Logger
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	e.rej = rateLine{every: 30 * time.Second}
	e.retry = rateLine{every: 30 * time.Second}
	e.quar = rateLine{every: 30 * time.Second}

	conn, err := e.connection()
	if err != nil {
		return err
	}
	if e.InsecureSkip {
		e.log.Warn("tls certificate verification is off; anyone on the path can read "+
			"and change what is sent", "setting", "insecure_skip_verify")
	}
	label := "cluster"
	if e.TenantMap != "" {
		label = "shared cluster"
	}
	shared, err := e.newCluster(label, "", "", conn)
	if err != nil {
		return err
	}
	rt := &routing{shared: shared}
	if e.TenantMap != "" {
		m, err := loadTenantMap(e.TenantMap, os.LookupEnv)
		if err != nil {
			return errors.Join(err, shared.close())
		}
		if rt, err = e.buildRouting(m, shared, nil); err != nil {
			return errors.Join(err, shared.close())
		}
		e.log.Info("tenant map loaded", "path", e.TenantMap, "dedicated", len(m.Tenants),
			"shared_tenants", sharedText(m))
	}
	e.mu.Lock()
	e.routes = rt
	e.mu.Unlock()

	pingAll(ctx, rt.clusters(), e.Timeout)
	if e.TenantMap != "" {
		e.stop, e.stopped = make(chan struct{}), make(chan struct{})
		go e.watchTenantMap(rt.mapStat)
	}
	return nil
}

// Close stops watching the tenant map and releases the clients. It is
// called after the last Write has returned, and is safe after a failed
// Start and more than once.
func (e *Elasticsearch) Close() error {
	if e.stop != nil {
		close(e.stop)
		<-e.stopped
		e.stop = nil
	}
	e.mu.Lock()
	rt, retired := e.routes, e.retired
	e.routes, e.retired = nil, nil
	e.mu.Unlock()

	var errs []error
	if rt != nil {
		for _, c := range rt.clusters() {
			errs = append(errs, c.close())
		}
	}
	for _, c := range retired {
		errs = append(errs, c.close())
	}
	return errors.Join(errs...)
}

// Health reports whether every cluster answered its last request, and
// the last request-level error of each cluster that has one, naming the
// cluster ("tenant acme cluster [https://es-acme:9200]: bulk request
// failed: …"); "" when all is well. A tenant map that could not be
// reloaded is reported too. It is safe to call from any goroutine.
func (e *Elasticsearch) Health() (reachable bool, lastError string) {
	e.mu.Lock()
	rt, mapErr := e.routes, e.mapErr
	e.mu.Unlock()
	if rt == nil {
		return false, "elasticsearch output is not started"
	}
	reachable = true
	var msgs []string
	for _, c := range rt.clusters() {
		ok, last := c.health()
		reachable = reachable && ok
		if last != "" {
			msgs = append(msgs, c.label+": "+last)
		}
	}
	if mapErr != "" {
		msgs = append(msgs, mapErr)
	}
	return reachable, strings.Join(msgs, "; ")
}

// Stats returns the output's counters since Start.
func (e *Elasticsearch) Stats() Stats { return e.stats.snapshot() }

// String describes the output without any secret, for logs and errors.
func (e *Elasticsearch) String() string {
	c := connection{hosts: e.Hosts, cloudID: e.CloudID}
	return fmt.Sprintf("elasticsearch(hosts=%s, auth=%s, op=%s)", c.hostsForLog(),
		e.authKind(), e.Op)
}

// GoString keeps %#v from printing the secrets.
func (e *Elasticsearch) GoString() string { return e.String() }

// LogValue keeps slog from printing the secrets.
func (e *Elasticsearch) LogValue() slog.Value { return slog.StringValue(e.String()) }

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
