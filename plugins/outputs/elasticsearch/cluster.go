package elasticsearch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	elastic "github.com/elastic/go-elasticsearch/v8"
)

// connection is how to reach and authenticate to one cluster, with its
// secrets read. Two equal connections can share a client.
type connection struct {
	hosts       []string
	cloudID     string
	apiKey      Secret
	username    string
	password    Secret
	token       Secret
	caFile      string
	certificate string
	key         string
	insecure    bool
}

func (c connection) equal(o connection) bool {
	return strings.Join(c.hosts, "\x00") == strings.Join(o.hosts, "\x00") &&
		c.cloudID == o.cloudID && c.apiKey == o.apiKey && c.username == o.username &&
		c.password == o.password && c.token == o.token && c.caFile == o.caFile &&
		c.certificate == o.certificate && c.key == o.key && c.insecure == o.insecure
}

// hostsForLog shows where the connection goes, without credentials.
func (c connection) hostsForLog() string {
	if c.cloudID != "" {
		name, _, _ := strings.Cut(c.cloudID, ":")
		return "cloud_id:" + name
	}
	out := make([]string, len(c.hosts))
	for i, h := range c.hosts {
		if u, err := url.Parse(h); err == nil {
			out[i] = u.Redacted()
		} else {
			out[i] = "(invalid)"
		}
	}
	return "[" + strings.Join(out, " ") + "]"
}

// cluster is one Elasticsearch cluster the output writes to: the shared
// one, or a tenant's dedicated one. Its client is used by Write alone;
// its health by Write and by Health from any goroutine.
type cluster struct {
	// label names the cluster in health and logs: "cluster [hosts]",
	// "shared cluster [hosts]" or "tenant acme cluster [hosts]".
	label string
	// prefix starts the reasons of its events' results when the output
	// has a tenant map, so that the engine's retry reason says which
	// cluster failed even when the output runs in a plugin process.
	prefix    string
	tenant    string // "" for the shared cluster
	namespace string // replaces the tenant in targets; "" keeps it
	conn      connection
	client    *elastic.Client
	log       *slog.Logger

	mu        sync.Mutex
	checked   bool // health was set at least once
	reachable bool
	lastErr   string
	templates bool // index templates are installed
}

// newCluster builds the client of one cluster. kind is "cluster",
// "shared cluster" or "tenant"; it names the cluster in messages.
func (e *Elasticsearch) newCluster(kind, tenant, namespace string, conn connection) (*cluster, error) {
	cfg, err := e.clientConfig(conn)
	if err != nil {
		return nil, err
	}
	c, err := elastic.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch: build client for %s %s: %w", kind,
			conn.hostsForLog(), err)
	}
	cl := &cluster{tenant: tenant, namespace: namespace, conn: conn, client: c,
		label: kind + " " + conn.hostsForLog()}
	log := e.log.With("cluster", conn.hostsForLog())
	if tenant != "" {
		cl.label = fmt.Sprintf("tenant %s cluster %s", tenant, conn.hostsForLog())
		log = log.With("tenant", tenant)
	}
	if e.TenantMap != "" {
		cl.prefix = cl.label + ": "
	}
	cl.log = log
	return cl, nil
}

// pingAll pings the clusters at once, so that a dozen dead clusters do not
// hold a start for minutes.
func pingAll(ctx context.Context, cs []*cluster, timeout time.Duration) {
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.ping(ctx, timeout)
		}()
	}
	wg.Wait()
}

// ping asks the cluster for its version, logs the outcome and sets health.
func (c *cluster) ping(ctx context.Context, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, min(timeout, 10*time.Second))
	defer cancel()

	res, err := c.client.Info(c.client.Info.WithContext(ctx))
	if err != nil {
		err = withTLSAdvice(err)
		c.setHealth(false, "cluster unreachable: "+err.Error())
		c.log.Warn("cluster unreachable at start; writes will be retried", "err", err)
		return
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusForbidden {
		// An API key limited to writing may not read cluster info; the
		// cluster did authenticate it, which is all Start needs to know.
		c.setHealth(true, "")
		c.log.Info("connected", "version", "unknown (the credentials may not read cluster info)")
		return
	}
	if res.IsError() {
		reason := requestReason("cluster info request", res.StatusCode, readSmall(res.Body))
		c.setHealth(true, reason)
		c.log.Warn("cluster answered with an error at start", "status", res.StatusCode,
			"err", reason)
		return
	}
	info := struct {
		ClusterName string `json:"cluster_name"`
		Version     struct {
			Number string `json:"number"`
		} `json:"version"`
	}{}
	_ = decodeJSON(res.Body, &info)
	c.setHealth(true, "")
	c.log.Info("connected", "cluster_name", info.ClusterName, "version", info.Version.Number)
}

// health reports whether the last request got an answer and the last
// request-level error.
func (c *cluster) health() (bool, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reachable, c.lastErr
}

// setHealth records the outcome of a request and logs a change of
// reachability (never once per request).
func (c *cluster) setHealth(reachable bool, lastErr string) {
	lastErr = redact(lastErr)
	c.mu.Lock()
	was, checked := c.reachable, c.checked
	c.reachable, c.lastErr, c.checked = reachable, lastErr, true
	c.mu.Unlock()

	if !checked || was == reachable { // the first outcome is logged by ping
		return
	}
	if reachable {
		c.log.Info("cluster reachable again")
		return
	}
	c.log.Error("cluster unreachable; events wait in the queue", "err", lastErr)
}

func (c *cluster) templatesInstalled() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.templates
}

func (c *cluster) close() error {
	if c == nil || c.client == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.client.Close(ctx); err != nil && !errors.Is(err, elastic.ErrAlreadyClosed) {
		return fmt.Errorf("elasticsearch: close client of %s: %w", c.label, err)
	}
	return nil
}
