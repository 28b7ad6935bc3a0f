package elasticsearch

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mdrsflow/mdrsflow/plugins/outputs/elasticsearch/estest"
	"github.com/mdrsflow/mdrsflow/runtime/flow"
	"github.com/mdrsflow/mdrsflow/sdk"
)

// tenantRecord is one event of tenant to target logs-zeek.dns-<tenant>,
// with data_stream.namespace set as the tenant filter sets it.
func tenantRecord(tenant, id string) sdk.Record {
	return sdk.Record{
		Data: []byte(fmt.Sprintf(`{"@timestamp":"2024-05-01T12:00:00Z","organization":{"id":%q},`+
			`"data_stream":{"type":"logs","dataset":"zeek.dns","namespace":%q}}`, tenant, tenant)),
		ID: id, Tenant: tenant,
		Routes: []sdk.Route{{Target: "logs-zeek.dns-" + tenant}},
	}
}

func writeMap(t *testing.T, path, text string) {
	t.Helper()
	writeFile(t, path, text)
}

// TestTenantMapRoutes sends one Write with events of four kinds of tenant
// through an output with a tenant map and checks what each fake cluster
// stored.
func TestTenantMapRoutes(t *testing.T) {
	shared, dedicated := estest.New(t), estest.New(t)
	dedicated.RequireAuthorization("APIKey acmekey")
	t.Setenv("ACME_ES_KEY", "acmekey")
	mapFile := filepath.Join(t.TempDir(), "tenants.yaml")
	writeMap(t, mapFile, fmt.Sprintf(`
shared_tenants: [globex]
tenants:
  acme:
    hosts: [%q]
    api_key_env: ACME_ES_KEY
    namespace: prod
`, dedicated.URL))
	var logs syncBuffer
	e := start(t, hostSettings(shared, fmt.Sprintf("tenant_map: %q\n", mapFile)),
		slog.New(slog.NewJSONHandler(&logs, nil)))

	quarantined := sdk.Record{Data: []byte(`{"message":"no tenant"}`), ID: "q1",
		Quarantine: "no tenant: the event has no sensor name",
		Routes:     []sdk.Route{{Target: "quarantine-mdrsflow-default"}}}
	recs := []sdk.Record{
		tenantRecord("acme", "a1"),
		tenantRecord("globex", "g1"),
		tenantRecord("initech", "i1"), // neither in the map nor shared
		quarantined,
		tenantRecord("acme", "a2"),
	}

	res := e.Write(context.Background(), recs)

	for i, r := range res {
		if r.Status != sdk.Delivered {
			t.Errorf("record %d: %v %q", i, r.Status, r.Reason)
		}
	}
	if got := dedicated.Indices(); fmt.Sprint(got) != "[logs-zeek.dns-prod]" {
		t.Errorf("dedicated cluster indices %v, want [logs-zeek.dns-prod]", got)
	}
	for _, d := range dedicated.Docs("logs-zeek.dns-prod") {
		ns := d.Source["data_stream"].(map[string]any)["namespace"]
		org := d.Source["organization"].(map[string]any)["id"]
		if ns != "prod" || org != "acme" {
			t.Errorf("dedicated doc %s: namespace %v organization %v, want prod acme", d.ID, ns, org)
		}
	}
	storedOnce(t, dedicated, "logs-zeek.dns-prod", []string{"a1", "a2"})
	storedOnce(t, shared, "logs-zeek.dns-globex", []string{"g1"})
	if got := shared.Indices(); fmt.Sprint(got) !=
		"[logs-zeek.dns-globex quarantine-mdrsflow-default]" {
		t.Errorf("shared cluster indices %v", got)
	}
	q := shared.Docs("quarantine-mdrsflow-default")
	if len(q) != 2 {
		t.Fatalf("quarantine holds %d docs, want 2 (the router's and initech's)", len(q))
	}
	for _, d := range q {
		if d.ID != "i1" {
			continue
		}
		msg := d.Source["error"].(map[string]any)["message"].(string)
		if !strings.Contains(msg, `tenant "initech" has no cluster`) ||
			!strings.Contains(fmt.Sprint(d.Source["tags"]), quarantineTag) {
			t.Errorf("initech's quarantined doc does not say why: %s", d.Raw)
		}
	}
	if !strings.HasPrefix(res[2].Reason, "quarantined: ") {
		t.Errorf("initech's result reason %q", res[2].Reason)
	}
	if got := e.Stats().Quarantined; got != 1 {
		t.Errorf("quarantined counter %d, want 1", got)
	}
	if !strings.Contains(logs.String(), `"msg":"events quarantined: their tenant has no cluster`) ||
		!strings.Contains(logs.String(), `"tenants":"initech"`) {
		t.Errorf("no quarantine log line:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "acmekey") {
		t.Error("the dedicated cluster's key is in the logs")
	}
}

// A dedicated cluster that is down holds back its tenant's events only,
// names itself in the results and in Health, and recovers.
func TestTenantMapClusterDown(t *testing.T) {
	shared, dedicated := estest.New(t), estest.New(t)
	mapFile := filepath.Join(t.TempDir(), "tenants.yaml")
	writeMap(t, mapFile, fmt.Sprintf("tenants:\n  acme: {hosts: [%q]}\n", dedicated.URL))
	e := start(t, hostSettings(shared, fmt.Sprintf("tenant_map: %q\ntimeout: 2s\n", mapFile)), nil)
	dedicated.FailRequests(1, 503)

	res := e.Write(context.Background(),
		[]sdk.Record{tenantRecord("acme", "a1"), tenantRecord("globex", "g1")})

	want := "tenant acme cluster [" + dedicated.URL + "]: bulk request answered 503: "
	if res[0].Status != sdk.Retry || !strings.HasPrefix(res[0].Reason, want) {
		t.Errorf("acme: %v %q, want retry starting %q", res[0].Status, res[0].Reason, want)
	}
	if res[1].Status != sdk.Delivered {
		t.Errorf("globex: %v %q", res[1].Status, res[1].Reason)
	}
	if ok, last := e.Health(); !ok || !strings.HasPrefix(last, want) {
		t.Errorf("health %v %q, want reachable with %q", ok, last, want)
	}

	res = e.Write(context.Background(), recsOf(tenantRecord("acme", "a1")))
	if res[0].Status != sdk.Delivered {
		t.Errorf("acme after recovery: %v %q", res[0].Status, res[0].Reason)
	}
	if ok, last := e.Health(); !ok || last != "" {
		t.Errorf("health after recovery %v %q", ok, last)
	}
	storedOnce(t, dedicated, "logs-zeek.dns-acme", []string{"a1"})
}

func recsOf(r ...sdk.Record) []sdk.Record { return r }

// The map is read again when it changes: a tenant moves to a dedicated
// cluster, a bad edit keeps the previous map in force and shows in Health.
func TestTenantMapReload(t *testing.T) {
	shared, dedicated := estest.New(t), estest.New(t)
	mapFile := filepath.Join(t.TempDir(), "tenants.yaml")
	writeMap(t, mapFile, "shared_tenants: [acme]\n")
	var logs syncBuffer
	e := start(t, hostSettings(shared, fmt.Sprintf("tenant_map: %q\ntenant_map_poll: 20ms\n",
		mapFile)), slog.New(slog.NewJSONHandler(&logs, nil)))

	e.Write(context.Background(), recsOf(tenantRecord("acme", "a1")))
	storedOnce(t, shared, "logs-zeek.dns-acme", []string{"a1"})

	touch := func(text string) {
		writeMap(t, mapFile, text)
		// Make sure the poller sees a change even on a coarse clock.
		later := time.Now().Add(time.Duration(len(text)) * time.Second)
		if err := os.Chtimes(mapFile, later, later); err != nil {
			t.Fatal(err)
		}
	}
	touch(fmt.Sprintf("tenants:\n  acme: {hosts: [%q]}\n", dedicated.URL))
	waitFor(t, func() bool { return strings.Contains(logs.String(), "tenant map reloaded") })

	e.Write(context.Background(), recsOf(tenantRecord("acme", "a2")))
	storedOnce(t, dedicated, "logs-zeek.dns-acme", []string{"a2"})

	touch("tenants:\n  acme: {hosts: [not a url]}\n")
	waitFor(t, func() bool { _, last := e.Health(); return last != "" })
	_, last := e.Health()
	if !strings.Contains(last, "not reloaded, the previous one stays in force") ||
		!strings.Contains(last, `tenant "acme"`) {
		t.Errorf("health %q", last)
	}
	if res := e.Write(context.Background(), recsOf(tenantRecord("acme", "a3"))); res[0].Status !=
		sdk.Delivered {
		t.Errorf("a3: %v %q", res[0].Status, res[0].Reason)
	}
	storedOnce(t, dedicated, "logs-zeek.dns-acme", []string{"a2", "a3"})
	if n := strings.Count(logs.String(), "tenant map not reloaded"); n != 1 {
		t.Errorf("logged the failed reload %d times, want once", n)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTenantMapErrors(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	writeFile(t, keyFile, "k")
	tests := []struct {
		name, text, want string
	}{
		{"unknown key", "tenants:\n  acme: {hosts: [\"http://a:9200\"], api_key: secret}\n",
			`unknown setting "api_key"`},
		{"no hosts", "tenants:\n  acme: {namespace: x}\n", `tenant "acme": set hosts`},
		{"bad tenant id", "tenants:\n  Acme-1: {hosts: [\"http://a:9200\"]}\n",
			`tenant "Acme-1": not a tenant id`},
		{"bad namespace", "tenants:\n  acme: {hosts: [\"http://a:9200\"], namespace: a-b}\n",
			`namespace "a-b"`},
		{"both dedicated and shared",
			"shared_tenants: [acme]\ntenants:\n  acme: {hosts: [\"http://a:9200\"]}\n",
			"is in shared_tenants and has a cluster of its own"},
		{"env not set", "tenants:\n  acme: {hosts: [\"http://a:9200\"], api_key_env: NOPE_X}\n",
			"api_key_env names NOPE_X, which is not set or empty"},
		{"env and file", fmt.Sprintf("tenants:\n  acme: {hosts: [\"http://a:9200\"], "+
			"api_key_env: X, api_key_file: %q}\n", keyFile),
			"api_key_env and api_key_file are both set"},
		{"missing file", "tenants:\n  acme: {hosts: [\"http://a:9200\"], " +
			"password_file: /nonexistent/pw, username: u}\n", "read password_file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, "m.yaml")
			writeFile(t, p, tc.text)
			_, err := loadTenantMap(p, func(string) (string, bool) { return "", false })
			if err == nil || !strings.Contains(err.Error(), tc.want) ||
				!strings.Contains(err.Error(), "tenant_map "+p) {
				t.Errorf("error %v, want one naming the file and %q", err, tc.want)
			}
		})
	}

	e := build(t, "hosts: [\"http://127.0.0.1:1\"]\ntenant_map: /nonexistent/map.yaml\n")
	err := e.Start(context.Background(), sdk.Env{})
	if err == nil || !strings.Contains(err.Error(), "tenant_map /nonexistent/map.yaml") {
		t.Errorf("Start with a missing map: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Errorf("close after failed start: %v", err)
	}
}

// The output's quarantine target must be where the flow quarantines, so
// an operator finds every set-aside event in one place.
func TestQuarantineTargetMatchesFlow(t *testing.T) {
	if DefaultQuarantineTarget != flow.DefaultQuarantine {
		t.Errorf("DefaultQuarantineTarget %q, flow.DefaultQuarantine %q",
			DefaultQuarantineTarget, flow.DefaultQuarantine)
	}
}

func TestManageTemplates(t *testing.T) {
	srv := estest.New(t)
	var logs syncBuffer
	e := start(t, hostSettings(srv, "manage_templates: true\n"),
		slog.New(slog.NewJSONHandler(&logs, nil)))

	srv.FailTemplates(403)
	res := e.Write(context.Background(), records("logs-zeek.dns-acme", "d", 2))
	for _, r := range res {
		if r.Status != sdk.Retry || !strings.Contains(r.Reason, "manage_index_templates") {
			t.Errorf("with templates refused: %v %q", r.Status, r.Reason)
		}
	}
	if srv.Count() != 0 {
		t.Errorf("events stored before the templates: %d", srv.Count())
	}

	srv.FailTemplates(0)
	res = e.Write(context.Background(), records("logs-zeek.dns-acme", "d", 2))
	if countStatus(res, sdk.Delivered) != 2 {
		t.Fatalf("after templates: %v", res)
	}
	idx := srv.IndexTemplates()
	for _, name := range []string{"mdrsflow-logs-zeek", "mdrsflow-logs-corelight",
		"mdrsflow-zeek-corelight"} {
		var body struct {
			Patterns   []string        `json:"index_patterns"`
			DataStream json.RawMessage `json:"data_stream"`
		}
		if err := json.Unmarshal(idx[name], &body); err != nil || body.DataStream == nil {
			t.Errorf("index template %s: %s (%v)", name, idx[name], err)
		}
	}
	if n := len(srv.ComponentTemplates()); n < 4 {
		t.Errorf("%d component templates", n)
	}
	// Installed once per cluster and start.
	before := len(srv.Requests())
	e.Write(context.Background(), records("logs-zeek.dns-acme", "x", 1))
	if got := len(srv.Requests()) - before; got != 1 {
		t.Errorf("%d requests for the third write, want 1 (no templates again)", got)
	}
	if strings.Count(logs.String(), "index templates installed") != 1 {
		t.Errorf("logs:\n%s", logs.String())
	}
}
