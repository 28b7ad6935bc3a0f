package host_test

// The whole path to Elasticsearch: flow file → host (in this process) →
// tenant filter → elasticsearch output → a fake cluster (estest) that
// throttles items, refuses mappings, fails whole requests, drops
// connections and answers late. Judged by what the fake stored, what the
// dead-letter queue holds, and when the input was acknowledged.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mdrsflow/mdrsflow/plugins/outputs/elasticsearch/estest"
	"github.com/mdrsflow/mdrsflow/runtime/dlq"
	"github.com/mdrsflow/mdrsflow/runtime/flow"
	"github.com/mdrsflow/mdrsflow/runtime/host"
	"github.com/mdrsflow/mdrsflow/sdk"

	_ "github.com/mdrsflow/mdrsflow/plugins/filters/set"
	_ "github.com/mdrsflow/mdrsflow/plugins/filters/tenant"
	_ "github.com/mdrsflow/mdrsflow/plugins/outputs/elasticsearch"
)

func init() {
	sdk.Register(sdk.Registration{Kind: sdk.KindInput, Name: "esgen",
		New: func() any { return &esGen{Batch: 100} }})
}

// esGen emits Count records {"n":i,…} in batches of Batch. At each Ack it
// calls the check registered under its Name, so a test can look at the
// cluster at the moment the batch is acknowledged.
type esGen struct {
	Name  string `yaml:"name"`
	Count int    `yaml:"count"`
	Batch int    `yaml:"batch"`
}

// genHooks are the test's side of an esGen, by name.
var genHooks sync.Map // name → *genHook

type genHook struct {
	mu      sync.Mutex
	batches map[uint64][]int // batch id → the n of its records
	acks    map[uint64]int
	onAck   func(ns []int) error
	errs    []error
}

func hookFor(name string) *genHook {
	h := &genHook{batches: map[uint64][]int{}, acks: map[uint64]int{}}
	genHooks.Store(name, h)
	return h
}

func (g *esGen) Run(ctx context.Context, emit sdk.Emit) error {
	v, _ := genHooks.Load(g.Name)
	h := v.(*genHook)
	id := uint64(0)
	for i := 0; i < g.Count; {
		id++
		b := sdk.Batch{ID: id}
		var ns []int
		for j := 0; j < g.Batch && i < g.Count; j, i = j+1, i+1 {
			b.Records = append(b.Records, sdk.Record{Source: fmt.Sprintf("gen:%d", i),
				Data: []byte(fmt.Sprintf(`{"@timestamp":"2024-05-01T12:00:00Z","n":%d,`+
					`"data_stream":{"type":"logs","dataset":"test"},"message":"event %d"}`, i, i))})
			ns = append(ns, i)
		}
		h.mu.Lock()
		h.batches[id] = ns
		h.mu.Unlock()
		if err := emit(ctx, b); err != nil {
			return nil
		}
	}
	return nil
}

func (g *esGen) Ack(id uint64) {
	v, _ := genHooks.Load(g.Name)
	h := v.(*genHook)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.acks[id]++
	if h.onAck != nil {
		if err := h.onAck(h.batches[id]); err != nil {
			h.errs = append(h.errs, fmt.Errorf("batch %d acknowledged too early: %w", id, err))
		}
	}
}

// storedNs returns how often each n is stored in index.
func storedNs(srv *estest.Server, index string) map[int]int {
	out := map[int]int{}
	for _, d := range srv.Docs(index) {
		if n, ok := d.Source["n"].(float64); ok {
			out[int(n)]++
		}
	}
	return out
}

// deadNs returns the n of each dead letter in dir, with its reason.
func deadNs(t testing.TB, dir string) map[int][]string {
	t.Helper()
	out := map[int][]string{}
	files, err := dlq.Files(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if line == "" {
				continue
			}
			var l dlq.Letter
			if err := json.Unmarshal([]byte(line), &l); err != nil {
				t.Fatalf("dead letter %q: %v", line, err)
			}
			var ev struct{ N int }
			_ = json.Unmarshal(l.Event, &ev)
			out[ev.N] = append(out[ev.N], l.Reason)
		}
	}
	return out
}

const esTarget = "logs-test-acme"

func esFlow(t testing.TB, dir, name, url string, count, batch int, extra string) string {
	t.Helper()
	p := filepath.Join(dir, name+".yaml")
	text := fmt.Sprintf(`
name: %s
inputs:
  - esgen: {name: %s, count: %d, batch: %d}
filters:
  - tenant: {static: acme}
outputs:
  - elasticsearch:
      hosts: [%q]
%s`, name, name, count, batch, url, extra)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestElasticsearchEveryEventOnce runs 3,000 events through a cluster
// that fails in every way estest knows. Every event must be stored
// exactly once, or be in the dead-letter queue with the cluster's reason
// (and not stored); every batch must be acknowledged once, and only when
// each of its events is stored or dead-lettered.
func TestElasticsearchEveryEventOnce(t *testing.T) {
	const n = 3000
	srv := estest.New(t)
	dir := t.TempDir()
	mapping := func(d estest.Doc) bool { v, _ := d.Source["n"].(float64); return int(v)%97 == 5 }
	srv.RejectMapping(mapping)
	srv.ThrottleItems(3, func(d estest.Doc) bool { v, _ := d.Source["n"].(float64); return int(v)%7 == 0 })
	srv.FailRequests(2, http.StatusServiceUnavailable) // the first two requests
	srv.DropConnections(2, true)                       // then two answers lost after storing
	srv.DelayRequests(2, 2*time.Second)                // then two answers late (timeout 500ms)

	name := "esonce"
	h := hookFor(name)
	dlqDir := host.DeadLetterDir(filepath.Join(dir, "data"), name)
	h.onAck = func(ns []int) error {
		stored := storedNs(srv, esTarget)
		dead := deadNs(t, dlqDir)
		for _, k := range ns {
			if stored[k] == 0 && len(dead[k]) == 0 {
				return fmt.Errorf("event %d is neither stored nor dead-lettered", k)
			}
		}
		return nil
	}
	f := writeFlowFile(t, esFlow(t, dir, name, srv.URL, n, 100,
		"      timeout: 500ms\n      flush_records: 250\n"))
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&syncWriter{w: &logs}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	r, err := host.New(f, host.Options{InProcess: true, DataDir: filepath.Join(dir, "data"),
		Logger: logger, RetryBase: 10 * time.Millisecond, RetryMax: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}

	stored := storedNs(srv, esTarget)
	dead := deadNs(t, dlqDir)
	rejected := 0
	for k := 0; k < n; k++ {
		switch {
		case k%97 == 5:
			rejected++
			if stored[k] != 0 || len(dead[k]) != 1 ||
				!strings.HasPrefix(dead[k][0], "mapper_parsing_exception: ") {
				t.Errorf("event %d: stored %d times, dead letters %q; want one dead letter "+
					"with the mapping error", k, stored[k], dead[k])
			}
		case stored[k] != 1 || len(dead[k]) != 0:
			t.Errorf("event %d stored %d times, dead-lettered %d times; want stored once",
				k, stored[k], len(dead[k]))
		}
	}
	if got := srv.Count(); got != n-rejected {
		t.Errorf("cluster holds %d documents, want %d", got, n-rejected)
	}
	h.mu.Lock()
	for _, e := range h.errs {
		t.Error(e)
	}
	for id := range h.batches {
		if h.acks[id] != 1 {
			t.Errorf("batch %d acknowledged %d times", id, h.acks[id])
		}
	}
	h.mu.Unlock()
	tot := r.Stats().Totals()
	if tot.In != n || tot.Out != uint64(n-rejected) || tot.Rejected != uint64(rejected) ||
		tot.Retries == 0 {
		t.Errorf("totals %+v, want in %d, out %d, dead-lettered %d, some retries", tot, n,
			n-rejected, rejected)
	}
	if st := r.DeadLetters(); st.Written != uint64(rejected) || st.Discarded != 0 {
		t.Errorf("dead-letter stats %+v", st)
	}
	// The operator hears of it once (the run is shorter than a minute),
	// with the output, the target and the cluster's reason.
	var refusals []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && strings.HasPrefix(fmt.Sprint(m["msg"]), "output refused events for good") {
			refusals = append(refusals, m)
		}
	}
	if len(refusals) != 1 || refusals[0]["target"] != esTarget ||
		!strings.HasPrefix(fmt.Sprint(refusals[0]["example"]), "mapper_parsing_exception") {
		t.Errorf("warnings of refused events: %v\n%s", refusals, logs.String())
	}
	var faults = map[int]int{}
	for _, q := range srv.BulkRequests() {
		faults[q.Status]++
	}
	if faults[503] != 2 || faults[0] != 2 {
		t.Errorf("bulk answers by status %v: the faults did not all happen", faults)
	}
}

func writeFlowFile(t testing.TB, path string) *flow.Flow {
	t.Helper()
	f, err := flow.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// While the cluster is down, readiness names the output, the cluster and
// the error; events wait and nothing is acknowledged.
func TestElasticsearchReadiness(t *testing.T) {
	srv := estest.New(t)
	srv.Close()
	dir := t.TempDir()
	name := "esready"
	h := hookFor(name)
	f := writeFlowFile(t, esFlow(t, dir, name, srv.URL, 50, 10, "      timeout: 1s\n"))
	r, err := host.New(f, host.Options{InProcess: true, DataDir: filepath.Join(dir, "data"),
		Logger: quietLogger(), DrainTimeout: 200 * time.Millisecond,
		RetryBase: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	want := "output elasticsearch#1: cluster [" + srv.URL + "]: "
	deadline := time.Now().Add(20 * time.Second)
	var why string
	for {
		var ok bool
		ok, why = r.Ready()
		if !ok && strings.Contains(why, want) && strings.Contains(why, "connection refused") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readiness never named the cluster: %q", why)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	// The cluster is down: the stop cannot deliver what is in flight.
	if err := <-done; err != nil && !errors.Is(err, host.ErrDrainTimeout) {
		t.Fatal(err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.acks) != 0 {
		t.Errorf("batches acknowledged while the cluster was down: %v", h.acks)
	}
}

// ---------------------------------------------------------------------------
// Benchmarks.

// BenchmarkElasticsearchDelivery measures events per second from the
// input through the tenant filter and the output into the fake cluster.
//
//	go test ./runtime/host -run '^$' -bench Elasticsearch -benchtime 3x
func BenchmarkElasticsearchDelivery(b *testing.B) {
	const n = 50000
	total := 0
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		srv := estest.New(b)
		dir := b.TempDir()
		name := fmt.Sprintf("esbench%d", i)
		hookFor(name)
		f := writeFlowFile(b, esFlow(b, dir, name, srv.URL, n, 500,
			"      flush_records: 5000\n      compression: false\n"))
		r, err := host.New(f, host.Options{InProcess: true, DataDir: filepath.Join(dir, "data"),
			Logger: quietLogger()})
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		if srv.Count() != n {
			b.Fatalf("stored %d of %d", srv.Count(), n)
		}
		srv.Reset()
		total += n
	}
	b.ReportMetric(float64(total)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkElasticsearchClusterDown feeds a flow whose cluster answers
// every request with 503 for a while, then recovers, and samples the
// heap in use (runtime.MemStats.HeapInuse, garbage not yet collected
// included) every 10 ms, above what was in use before the run: the queue
// bounds what waits in memory, however long the outage and however much
// the input has to give. The overall peak includes the fake cluster's
// copy of every stored document, which lives in this process too.
func BenchmarkElasticsearchClusterDown(b *testing.B) {
	for _, outage := range []time.Duration{time.Second, 4 * time.Second} {
		b.Run(fmt.Sprintf("outage=%s", outage), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				peakDown, peakAll, live := clusterDownOnce(b, fmt.Sprintf("esdown%d%d", outage, i),
					outage)
				b.ReportMetric(float64(live)/(1<<20), "MiB-live-heap-end-of-outage")
				b.ReportMetric(float64(peakDown)/(1<<20), "MiB-peak-heap-while-down")
				b.ReportMetric(float64(peakAll)/(1<<20), "MiB-peak-heap-overall")
			}
		})
	}
}

func clusterDownOnce(b *testing.B, name string, outage time.Duration) (peakDown, peakAll,
	live uint64) {
	const n = 200000
	srv := estest.New(b)
	srv.FailRequests(1<<30, http.StatusServiceUnavailable)
	dir := b.TempDir()
	hookFor(name)
	f := writeFlowFile(b, esFlow(b, dir, name, srv.URL, n, 500, "      flush_records: 5000\n"))
	r, err := host.New(f, host.Options{InProcess: true, DataDir: filepath.Join(dir, "data"),
		Logger: quietLogger(), RetryBase: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)

	stop := make(chan struct{})
	var mu sync.Mutex
	down := true
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			mu.Lock()
			if ms.HeapInuse > peakAll {
				peakAll = ms.HeapInuse
			}
			if down && ms.HeapInuse > peakDown {
				peakDown = ms.HeapInuse
			}
			mu.Unlock()
		}
	}()
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	time.Sleep(outage)
	runtime.GC() // what is still reachable while the cluster is down
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	live = ms.HeapInuse - min(ms.HeapInuse, base.HeapInuse)
	mu.Lock()
	down = false
	mu.Unlock()
	srv.FailRequests(0, 0)
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	close(stop)
	<-sampled
	if srv.Count() != n {
		b.Fatalf("stored %d of %d", srv.Count(), n)
	}
	srv.Reset()
	return peakDown - min(peakDown, base.HeapInuse), peakAll - min(peakAll, base.HeapInuse), live
}

// ---------------------------------------------------------------------------
// Against a real cluster.

// TestIntegrationElasticsearchFlow runs the path against the cluster at
// MDRSFLOW_ES_URL (credentials as in the output's integration tests) with
// manage_templates on: events land once in a logs-zeek.* data stream that
// takes the shipped templates, an event the mapping refuses lands in the
// dead-letter queue with the cluster's reason, and a second run over the
// same input stores nothing twice.
func TestIntegrationElasticsearchFlow(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test skipped under -short")
	}
	url := os.Getenv("MDRSFLOW_ES_URL")
	if url == "" {
		t.Skip("set MDRSFLOW_ES_URL to run against a real cluster")
	}
	auth := ""
	if v := os.Getenv("MDRSFLOW_ES_API_KEY"); v != "" {
		auth += fmt.Sprintf("      api_key: %q\n", v)
	}
	if v := os.Getenv("MDRSFLOW_ES_USERNAME"); v != "" {
		auth += fmt.Sprintf("      username: %q\n      password: %q\n", v,
			os.Getenv("MDRSFLOW_ES_PASSWORD"))
	}
	if v := os.Getenv("MDRSFLOW_ES_CA_FILE"); v != "" {
		auth += fmt.Sprintf("      ca_file: %q\n", v)
	}
	tenant := fmt.Sprintf("it%d", time.Now().UnixNano()%1e9)
	stream := "logs-zeek.mdrsflowtest-" + tenant
	const n = 200
	dir := t.TempDir()
	flowFile := filepath.Join(dir, "it.yaml")
	text := fmt.Sprintf(`
name: it
inputs:
  - esgen: {name: it, count: %d, batch: 50}
filters:
  - tenant: {static: %s}
  - set: {fields: {data_stream.dataset: zeek.mdrsflowtest}}
  - set: {fields: {source: "not an object"}}
    if: 'n %% 50 == 7'
outputs:
  - elasticsearch:
      hosts: [%q]
      manage_templates: true
%s`, n, tenant, url, auth)
	if err := os.WriteFile(flowFile, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteStream(t, url, stream) })

	for round := 1; round <= 2; round++ {
		hookFor("it")
		data := filepath.Join(dir, fmt.Sprintf("data%d", round))
		r, err := host.New(writeFlowFile(t, flowFile), host.Options{InProcess: true,
			DataDir: data, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		err = r.Run(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		dead := deadNs(t, host.DeadLetterDir(data, "it"))
		if len(dead) != n/50 {
			t.Errorf("round %d: %d dead letters, want %d", round, len(dead), n/50)
		}
		for k, reasons := range dead {
			if k%50 != 7 || !strings.Contains(reasons[0], "_exception: ") {
				t.Errorf("round %d: event %d dead-lettered: %q", round, k, reasons)
			}
		}
		if got := countDocs(t, url, stream); got != n-n/50 {
			t.Errorf("round %d: %s holds %d documents, want %d", round, stream, got, n-n/50)
		}
	}
}

// esRequest sends one request to the real cluster with the test's
// credentials.
func esRequest(t *testing.T, method, url string) (*http.Response, error) {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return nil, err
	}
	if v := os.Getenv("MDRSFLOW_ES_API_KEY"); v != "" {
		req.Header.Set("Authorization", "ApiKey "+v)
	}
	if v := os.Getenv("MDRSFLOW_ES_USERNAME"); v != "" {
		req.SetBasicAuth(v, os.Getenv("MDRSFLOW_ES_PASSWORD"))
	}
	return http.DefaultClient.Do(req)
}

func countDocs(t *testing.T, base, stream string) int {
	t.Helper()
	if res, err := esRequest(t, http.MethodPost, base+"/"+stream+"/_refresh"); err == nil {
		res.Body.Close()
	}
	res, err := esRequest(t, http.MethodGet, base+"/"+stream+"/_count")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct{ Count int }
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Count
}

func deleteStream(t *testing.T, base, stream string) {
	res, err := esRequest(t, http.MethodDelete, base+"/_data_stream/"+stream)
	if err != nil {
		t.Logf("delete %s: %v", stream, err)
		return
	}
	res.Body.Close()
}
