package elasticsearch

// The tenant map: which tenant's events go to which cluster.
//
//	rec.Quarantine set, or no tenant ──────────────► shared cluster, target as routed
//	tenant under tenants: in the map ──────────────► that tenant's cluster
//	                                                 (namespace override applied)
//	tenant in shared_tenants, or that list empty ──► shared cluster
//	any other tenant ──────────────────────────────► shared cluster, quarantine_target,
//	                                                 marked with the reason
//
// Events the router already quarantined never go to a dedicated cluster:
// their tenant is not trusted, and a customer's cluster must hold nothing
// but that customer's events. An event whose tenant is trusted but has no
// place is not refused (the dead-letter queue is for events no cluster
// will take as they are) but set aside where the router sets aside events
// of unknown tenants, so an operator finds all such events in one place.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/mdrsflow/mdrsflow/runtime/event"
	"github.com/mdrsflow/mdrsflow/sdk"
)

// TenantMapFile is the content of the file named by tenant_map.
type TenantMapFile struct {
	// SharedTenants are the tenants whose events go to the shared cluster
	// (the output's own hosts). Empty: every tenant not under Tenants.
	SharedTenants []string `yaml:"shared_tenants"`
	// Tenants maps a tenant id to its dedicated cluster.
	Tenants map[string]TenantCluster `yaml:"tenants"`
}

// TenantCluster is a tenant's dedicated cluster. Credentials are given by
// reference only, so that the map file holds no secret: *_env names an
// environment variable, *_file a file, read whenever the map is loaded.
type TenantCluster struct {
	Hosts            []string `yaml:"hosts"`
	CloudID          string   `yaml:"cloud_id"`
	APIKeyEnv        string   `yaml:"api_key_env"`
	APIKeyFile       string   `yaml:"api_key_file"`
	Username         string   `yaml:"username"`
	PasswordEnv      string   `yaml:"password_env"`
	PasswordFile     string   `yaml:"password_file"`
	ServiceTokenEnv  string   `yaml:"service_token_env"`
	ServiceTokenFile string   `yaml:"service_token_file"`
	CAFile           string   `yaml:"ca_file"`
	Certificate      string   `yaml:"certificate"`
	Key              string   `yaml:"key"`
	InsecureSkip     bool     `yaml:"insecure_skip_verify"`
	// Namespace replaces the tenant id as the data stream namespace on
	// that cluster: logs-zeek.dns-acme becomes logs-zeek.dns-<namespace>,
	// and data_stream.namespace follows. Empty keeps the tenant id.
	Namespace string `yaml:"namespace"`
}

// tenantMap is a loaded, checked tenant map with its secrets read.
type tenantMap struct {
	Tenants map[string]tenantEntry
	Shared  map[string]bool // nil: every tenant not in Tenants
	stamp   fileStamp
}

type tenantEntry struct {
	conn      connection
	namespace string
}

// fileStamp tells whether a file changed since it was read.
type fileStamp struct {
	mtime time.Time
	size  int64
}

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{fi.ModTime(), fi.Size()}, nil
}

// loadTenantMap reads and checks a tenant map. Its errors start with the
// file's path and name the line or the tenant at fault; they never hold a
// secret.
func loadTenantMap(path string, env func(string) (string, bool)) (*tenantMap, error) {
	prefix := "elasticsearch: tenant_map " + path
	stamp, err := stampOf(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", prefix, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", prefix, err)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		// More likely a file caught halfway through a write than a wish.
		return nil, fmt.Errorf("%s: the file is empty; to send every tenant to the "+
			"shared cluster, write `tenants: {}`", prefix)
	}
	var f TenantMapFile
	if err := sdk.DecodeSettingsText(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", prefix, err)
	}

	m := &tenantMap{Tenants: map[string]tenantEntry{}, stamp: stamp}
	var errs []error
	if len(f.SharedTenants) > 0 {
		m.Shared = map[string]bool{}
	}
	for i, t := range f.SharedTenants {
		if !validID(t) {
			errs = append(errs, fmt.Errorf("%s: shared_tenants[%d]: %q is not a tenant id: %s",
				prefix, i, t, idRule))
		}
		m.Shared[t] = true
	}
	for _, t := range sortedTenants(f.Tenants) {
		tc := f.Tenants[t]
		at := fmt.Sprintf("%s: tenant %q", prefix, t)
		bad := func(format string, a ...any) {
			errs = append(errs, fmt.Errorf(at+": "+format, a...))
		}
		if !validID(t) {
			bad("not a tenant id: %s", idRule)
		}
		if m.Shared[t] {
			bad("is in shared_tenants and has a cluster of its own; keep one of the two")
		}
		if tc.Namespace != "" && !validID(tc.Namespace) {
			bad("namespace %q: %s", tc.Namespace, idRule)
		}
		checkConnection(connSettings{
			hosts: tc.Hosts, cloudID: tc.CloudID, username: tc.Username,
			certificate: tc.Certificate, key: tc.Key,
			secrets: []secretSetting{
				{"api_key", tc.APIKeyEnv != "", tc.APIKeyFile, "api_key_env"},
				{"password", tc.PasswordEnv != "", tc.PasswordFile, "password_env"},
				{"service_token", tc.ServiceTokenEnv != "", tc.ServiceTokenFile, "service_token_env"},
			},
		}, bad)
		conn := connection{hosts: tc.Hosts, cloudID: tc.CloudID, username: tc.Username,
			caFile: tc.CAFile, certificate: tc.Certificate, key: tc.Key, insecure: tc.InsecureSkip}
		for _, s := range []struct {
			name, env, file string
			dst             *Secret
		}{
			{"api_key", tc.APIKeyEnv, tc.APIKeyFile, &conn.apiKey},
			{"password", tc.PasswordEnv, tc.PasswordFile, &conn.password},
			{"service_token", tc.ServiceTokenEnv, tc.ServiceTokenFile, &conn.token},
		} {
			v, err := secretRef(s.name, s.env, s.file, env)
			if err != nil {
				bad("%w", err)
			}
			*s.dst = Secret(v)
		}
		m.Tenants[t] = tenantEntry{conn: conn, namespace: tc.Namespace}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}

// secretRef reads a credential given by environment variable or file.
func secretRef(name, envName, file string, env func(string) (string, bool)) (string, error) {
	if envName != "" {
		v, ok := env(envName)
		if !ok || strings.TrimSpace(v) == "" {
			return "", fmt.Errorf("%s_env names %s, which is not set or empty", name, envName)
		}
		registerSecret(strings.TrimSpace(v))
		return strings.TrimSpace(v), nil
	}
	if file == "" {
		return "", nil
	}
	v, err := secret(name, "", file)
	if err != nil {
		return "", errors.New(strings.TrimPrefix(err.Error(), "elasticsearch: "))
	}
	return v, nil
}

// idRule says what validID accepts; tenant ids are checked the same way
// by the tenant filter.
const idRule = "use lowercase letters, digits and _, starting with a letter or digit, " +
	"at most 100 bytes"

func validID(id string) bool {
	if id == "" || len(id) > 100 || id[0] == '_' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func sortedTenants[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for t := range m {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

func sharedText(m *tenantMap) string {
	if m.Shared == nil {
		return "every tenant not in the map"
	}
	return strings.Join(sortedTenants(m.Shared), ",")
}

// ---------------------------------------------------------------------------

// routing is where events go at one moment: the shared cluster and the
// tenant map in force. A reload builds a new one; Write uses one per call.
type routing struct {
	shared   *cluster
	tenants  map[string]*cluster
	sharedOK map[string]bool
	mapped   bool
	mapStat  fileStamp
}

// clusters returns the shared cluster, then the tenants' by tenant id.
func (r *routing) clusters() []*cluster {
	out := []*cluster{r.shared}
	for _, t := range sortedTenants(r.tenants) {
		out = append(out, r.tenants[t])
	}
	return out
}

// buildRouting makes the routing of a loaded map. A tenant whose
// connection is unchanged from old keeps its cluster (client, health,
// installed templates); the others get new ones.
func (e *Elasticsearch) buildRouting(m *tenantMap, shared *cluster, old *routing) (*routing, error) {
	rt := &routing{shared: shared, tenants: map[string]*cluster{}, sharedOK: m.Shared,
		mapped: true, mapStat: m.stamp}
	var made []*cluster
	for _, t := range sortedTenants(m.Tenants) {
		te := m.Tenants[t]
		if old != nil {
			if c := old.tenants[t]; c != nil && c.conn.equal(te.conn) && c.namespace == te.namespace {
				rt.tenants[t] = c
				continue
			}
		}
		c, err := e.newCluster("tenant", t, te.namespace, te.conn)
		if err != nil {
			for _, c := range made {
				_ = c.close()
			}
			return nil, fmt.Errorf("elasticsearch: tenant_map %s: tenant %q: %w", e.TenantMap,
				t, err)
		}
		made = append(made, c)
		rt.tenants[t] = c
	}
	return rt, nil
}

// place decides the cluster and target of a record, and the data to send:
// the record's own, or a copy changed for a namespace override or marked
// as quarantined. quarantine is the reason when the output set the record
// aside.
func (r *routing) place(rec *sdk.Record, quarantineTarget string) (c *cluster, target string,
	data []byte, quarantine string) {
	target, data = rec.Routes[0].Target, rec.Data
	if !r.mapped || rec.Quarantine != "" || rec.Tenant == "" {
		return r.shared, target, data, ""
	}
	if c := r.tenants[rec.Tenant]; c != nil {
		if c.namespace != "" {
			target, data = withNamespace(target, data, rec.Tenant, c.namespace)
		}
		return c, target, data, ""
	}
	if r.sharedOK == nil || r.sharedOK[rec.Tenant] {
		return r.shared, target, data, ""
	}
	reason := fmt.Sprintf("tenant %q has no cluster: the tenant map names no cluster for it "+
		"and its shared_tenants does not list it", rec.Tenant)
	return r.shared, quarantineTarget, markQuarantined(data, reason), reason
}

var (
	pathNamespace = event.MustPath("data_stream.namespace")
	pathErrorMsg  = event.MustPath("error.message")
	pathTags      = event.MustPath("tags")
	pathOriginal  = event.MustPath("event.original")
	pathTimestamp = event.MustPath("@timestamp")
)

// withNamespace moves a target that ends in -<tenant> to -<ns>, and the
// document's data_stream.namespace with it. A target of another shape is
// left as it is: the override is for data stream names.
func withNamespace(target string, data []byte, tenant, ns string) (string, []byte) {
	base, ok := strings.CutSuffix(target, "-"+tenant)
	if !ok {
		return target, data
	}
	ev, err := event.Decode(data)
	if err != nil {
		return base + "-" + ns, data
	}
	if v, _ := ev.Get(pathNamespace); v == tenant {
		_ = ev.Set(pathNamespace, ns)
		if b, err := ev.Encode(nil); err == nil {
			data = b
		}
	}
	return base + "-" + ns, data
}

// quarantineTag marks documents the output set aside.
const quarantineTag = "_mdrsflow_quarantine"

// markQuarantined returns a copy of data that says why it was set aside:
// error.message holds the reason (before any earlier message) and tags
// gain _mdrsflow_quarantine.
func markQuarantined(data []byte, reason string) []byte {
	ev, err := event.Decode(data)
	if err != nil {
		ev = event.New()
		_ = ev.Set(pathOriginal, string(data))
		_ = ev.Set(pathTimestamp, time.Now().UTC().Format(time.RFC3339Nano))
	}
	msg := reason
	if old, ok := ev.Get(pathErrorMsg); ok {
		msg = fmt.Sprintf("%s; before: %v", reason, old)
	}
	if ev.Set(pathErrorMsg, msg) != nil {
		f := ev.Fields()
		f["_error"], f["error"] = f["error"], map[string]any{"message": msg}
	}
	switch t := ev.Fields()["tags"].(type) {
	case []any:
		ev.Fields()["tags"] = append(t, quarantineTag)
	case string:
		ev.Fields()["tags"] = []any{t, quarantineTag}
	default:
		_ = ev.Set(pathTags, []any{quarantineTag})
	}
	b, err := ev.Encode(nil)
	if err != nil {
		return data
	}
	return b
}

// ---------------------------------------------------------------------------

// current returns the routing for one Write and closes the clients that
// reloads have replaced since the last Write. Only Write calls it, never
// concurrently, so no Write is still using what it closes.
func (e *Elasticsearch) current() *routing {
	e.mu.Lock()
	rt, retired := e.routes, e.retired
	e.retired = nil
	e.mu.Unlock()
	for _, c := range retired {
		if err := c.close(); err != nil {
			e.log.Warn("closing the client of a cluster the tenant map no longer names failed",
				"err", err)
		}
	}
	return rt
}

// watchTenantMap polls the tenant map's modification time and size every
// tenant_map_poll and reloads it once it has changed and then stayed the
// same for one more poll, so that a file being written in place is not
// read halfway. A map that cannot be loaded leaves the previous one in
// force, with an Error line and a note in Health until a good one
// replaces it.
func (e *Elasticsearch) watchTenantMap(loaded fileStamp) {
	defer close(e.stopped)
	t := time.NewTicker(e.TenantMapPoll)
	defer t.Stop()
	lastProblem := ""
	var pending fileStamp // a change seen at the last poll, not loaded yet
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
		}
		stamp, err := stampOf(e.TenantMap)
		if err == nil {
			if stamp == loaded {
				pending = fileStamp{}
				continue
			}
			if stamp != pending {
				pending = stamp // wait until the file holds still
				continue
			}
			loaded, pending = stamp, fileStamp{}
			err = e.reloadTenantMap()
		}
		problem := ""
		if err != nil {
			problem = fmt.Sprintf("tenant map %s not reloaded, the previous one stays in force: %v",
				e.TenantMap, strings.TrimPrefix(err.Error(), "elasticsearch: "))
		}
		e.mu.Lock()
		e.mapErr = problem
		e.mu.Unlock()
		if problem != "" && problem != lastProblem {
			e.log.Error("tenant map not reloaded; the previous one stays in force",
				"path", e.TenantMap, "err", err)
		}
		lastProblem = problem
	}
}

// reloadTenantMap loads the map and puts it in force.
func (e *Elasticsearch) reloadTenantMap() error {
	m, err := loadTenantMap(e.TenantMap, os.LookupEnv)
	if err != nil {
		return err
	}
	e.mu.Lock()
	old := e.routes
	e.mu.Unlock()
	if old == nil {
		return nil // closing
	}
	rt, err := e.buildRouting(m, old.shared, old)
	if err != nil {
		return err
	}
	var fresh []*cluster
	for t, c := range rt.tenants {
		if old.tenants[t] != c {
			fresh = append(fresh, c)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-e.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	pingAll(ctx, fresh, e.Timeout)
	cancel()

	var added, removed, changed []string
	e.mu.Lock()
	for t, c := range old.tenants {
		switch nc := rt.tenants[t]; {
		case nc == nil:
			removed = append(removed, t)
			e.retired = append(e.retired, c)
		case nc != c:
			changed = append(changed, t)
			e.retired = append(e.retired, c)
		}
	}
	for t := range rt.tenants {
		if old.tenants[t] == nil {
			added = append(added, t)
		}
	}
	e.routes = rt
	e.mu.Unlock()
	sort.Strings(added)
	sort.Strings(removed)
	sort.Strings(changed)
	e.log.Info("tenant map reloaded", "path", e.TenantMap, "dedicated", len(rt.tenants),
		"shared_tenants", sharedText(m), "added", strings.Join(added, ","),
		"removed", strings.Join(removed, ","), "changed", strings.Join(changed, ","))
	return nil
}
