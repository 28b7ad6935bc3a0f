package elasticsearch

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mdrsflow/mdrsflow/plugins/outputs/elasticsearch/estest"
	"github.com/mdrsflow/mdrsflow/sdk"
)

// build makes the output the way the engine does: registry, YAML, Validate.
func build(t testing.TB, settings string) *Elasticsearch {
	t.Helper()
	reg, ok := sdk.Lookup(sdk.KindOutput, "elasticsearch")
	if !ok {
		t.Fatal("elasticsearch output is not registered")
	}
	p := reg.New()
	if err := sdk.DecodeSettingsText([]byte(settings), p); err != nil {
		t.Fatalf("decode settings: %v", err)
	}
	if err := p.(sdk.Validator).Validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	return p.(*Elasticsearch)
}

// start builds and starts the output and closes it when the test ends.
func start(t testing.TB, settings string, log *slog.Logger) *Elasticsearch {
	t.Helper()
	e := build(t, settings)
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	if err := e.Start(context.Background(), sdk.Env{Logger: log}); err != nil {
		t.Fatalf("start: %v", err)
	}
	return e
}

func hostSettings(srv *estest.Server, extra string) string {
	return fmt.Sprintf("hosts: [%q]\n%s", srv.URL, extra)
}

// records returns n records with ids <prefix>-<i> routed to target.
func records(target, prefix string, n int) []sdk.Record {
	recs := make([]sdk.Record, n)
	for i := range recs {
		recs[i] = sdk.Record{
			Data: []byte(fmt.Sprintf(
				`{"@timestamp":"2024-05-01T12:00:00Z","n":%d,"message":"event %d"}`, i, i)),
			ID:     fmt.Sprintf("%s-%d", prefix, i),
			Routes: []sdk.Route{{Output: 0, Target: target}},
		}
	}
	return recs
}

// deliver plays the engine: it writes recs, then writes again the ones
// reported Retry, up to rounds times, and returns the final results and
// the results of the first round.
func deliver(t testing.TB, e *Elasticsearch, recs []sdk.Record, rounds int) (
	final, first []sdk.Result) {
	t.Helper()
	final = make([]sdk.Result, len(recs))
	todo := make([]int, len(recs))
	for i := range todo {
		todo[i] = i
	}
	for round := 0; round < rounds && len(todo) > 0; round++ {
		batch := make([]sdk.Record, len(todo))
		for k, i := range todo {
			batch[k] = recs[i]
		}
		res := e.Write(context.Background(), batch)
		if len(res) != len(batch) {
			t.Fatalf("Write returned %d results for %d records", len(res), len(batch))
		}
		if round == 0 {
			first = res
		}
		var next []int
		for k, i := range todo {
			final[i] = res[k]
			if res[k].Status == sdk.Retry {
				next = append(next, i)
			}
		}
		todo = next
	}
	return final, first
}

// storedOnce checks that the server holds exactly the docs with the given
// ids in index, each once.
func storedOnce(t *testing.T, srv *estest.Server, index string, ids []string) {
	t.Helper()
	got := map[string]int{}
	for _, d := range srv.Docs(index) {
		got[d.ID]++
	}
	for _, id := range ids {
		if got[id] != 1 {
			t.Errorf("doc %q stored %d times, want once", id, got[id])
		}
		delete(got, id)
	}
	for id := range got {
		t.Errorf("doc %q stored but not expected", id)
	}
}

func countStatus(res []sdk.Result, st sdk.Status) int {
	n := 0
	for _, r := range res {
		if r.Status == st {
			n++
		}
	}
	return n
}

func nth(doc estest.Doc) int {
	n, _ := doc.Source["n"].(float64)
	return int(n)
}

func TestWriteOutcomes(t *testing.T) {
	const target = "logs-zeek.conn-acme"
	even := func(d estest.Doc) bool { return nth(d)%2 == 0 }
	every5th := func(d estest.Doc) bool { return nth(d)%5 == 0 }

	tests := []struct {
		name     string
		settings string
		n        int
		setup    func(srv *estest.Server, e *Elasticsearch)
		rounds   int
		// firstRetry is how many records the first Write reports Retry.
		firstRetry int
		// rejected holds the n of records that end Rejected, with a reason
		// matching rejectRe.
		rejected []int
		rejectRe string
		// retryRe matches the reason of the first round's Retry results.
		retryRe string
		check   func(t *testing.T, srv *estest.Server, e *Elasticsearch)
	}{{
		name: "all delivered", n: 50, rounds: 1,
	}, {
		name: "replay of stored docs is delivered once", n: 20, rounds: 1,
		setup: func(srv *estest.Server, e *Elasticsearch) {
			res := e.Write(context.Background(), records(target, "doc", 20))
			if countStatus(res, sdk.Delivered) != 20 {
				panic("first write failed")
			}
		},
		check: func(t *testing.T, srv *estest.Server, e *Elasticsearch) {
			if got := e.Stats().Duplicates; got != 20 {
				t.Errorf("duplicates counter = %d, want 20", got)
			}
		},
	}, {
		name: "per-item 429 retried until stored", n: 40, rounds: 4, firstRetry: 20,
		setup:   func(srv *estest.Server, _ *Elasticsearch) { srv.ThrottleItems(2, even) },
		retryRe: `^es_rejected_execution_exception: .*\(status 429\)$`,
	}, {
		name: "mapping errors rejected with reason, the rest stored", n: 20, rounds: 2,
		setup:    func(srv *estest.Server, _ *Elasticsearch) { srv.RejectMapping(every5th) },
		rejected: []int{0, 5, 10, 15},
		rejectRe: `^mapper_parsing_exception: failed to parse field`,
	}, {
		name: "mapping errors and 429s in one request", n: 20, rounds: 4, firstRetry: 8,
		setup: func(srv *estest.Server, _ *Elasticsearch) {
			srv.RejectMapping(every5th)
			srv.ThrottleItems(1, even)
		},
		rejected: []int{0, 5, 10, 15},
		rejectRe: `^mapper_parsing_exception: `,
	}, {
		name: "whole-request 429", n: 10, rounds: 2, firstRetry: 10,
		setup:   func(srv *estest.Server, _ *Elasticsearch) { srv.FailRequests(1, 429) },
		retryRe: `^bulk request answered 429: es_rejected_execution_exception: `,
	}, {
		name: "whole-request 503", n: 10, rounds: 2, firstRetry: 10,
		setup:   func(srv *estest.Server, _ *Elasticsearch) { srv.FailRequests(1, 503) },
		retryRe: `^bulk request answered 503: `,
	}, {
		name: "later requests of a failed Write are not sent", n: 30, rounds: 2,
		settings: "flush_records: 10\n", firstRetry: 30,
		setup:   func(srv *estest.Server, _ *Elasticsearch) { srv.FailRequests(1, 503) },
		retryRe: `answered 503`,
		check: func(t *testing.T, srv *estest.Server, _ *Elasticsearch) {
			// 1 failed + 3 in the second round.
			if got := len(srv.BulkRequests()); got != 4 {
				t.Errorf("bulk requests = %d, want 4", got)
			}
		},
	}, {
		name: "slow answer times out, stored docs count once on replay", n: 10,
		settings: "timeout: 200ms\n", rounds: 2, firstRetry: 10,
		setup:   func(srv *estest.Server, _ *Elasticsearch) { srv.DelayRequests(1, 2*time.Second) },
		retryRe: `no answer within 200ms \(setting timeout\)`,
		check: func(t *testing.T, srv *estest.Server, e *Elasticsearch) {
			if got := e.Stats().Duplicates; got != 10 {
				t.Errorf("duplicates = %d, want 10 (stored during the timed-out request)", got)
			}
		},
	}, {
		name: "connection dropped before storing", n: 10, rounds: 2, firstRetry: 10,
		setup:   func(srv *estest.Server, _ *Elasticsearch) { srv.DropConnections(1, false) },
		retryRe: `^bulk request failed: `,
	}, {
		name: "connection dropped after storing", n: 10, rounds: 2, firstRetry: 10,
		setup:   func(srv *estest.Server, _ *Elasticsearch) { srv.DropConnections(1, true) },
		retryRe: `^bulk request failed: `,
		check: func(t *testing.T, srv *estest.Server, e *Elasticsearch) {
			if got := e.Stats().Duplicates; got != 10 {
				t.Errorf("duplicates = %d, want 10", got)
			}
		},
	}}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := estest.New(t)
			e := start(t, hostSettings(srv, tc.settings), nil)
			if tc.setup != nil {
				tc.setup(srv, e)
			}
			recs := records(target, "doc", tc.n)

			final, first := deliver(t, e, recs, tc.rounds)

			if got := countStatus(first, sdk.Retry); got != tc.firstRetry {
				t.Errorf("first write: %d retry, want %d (%v)", got, tc.firstRetry, first)
			}
			if tc.retryRe != "" {
				re := regexp.MustCompile(tc.retryRe)
				for i, r := range first {
					if r.Status == sdk.Retry && !re.MatchString(r.Reason) {
						t.Errorf("record %d: retry reason %q does not match %s", i, r.Reason, re)
					}
				}
			}
			rejected := map[int]bool{}
			for _, n := range tc.rejected {
				rejected[n] = true
			}
			var ids []string
			for i, r := range final {
				switch {
				case rejected[i]:
					if r.Status != sdk.Rejected {
						t.Errorf("record %d: %v, want rejected", i, r.Status)
					}
					if !regexp.MustCompile(tc.rejectRe).MatchString(r.Reason) {
						t.Errorf("record %d: reason %q does not match %s", i, r.Reason, tc.rejectRe)
					}
				case r.Status != sdk.Delivered:
					t.Errorf("record %d: %v %q, want delivered", i, r.Status, r.Reason)
				default:
					ids = append(ids, recs[i].ID)
				}
			}
			storedOnce(t, srv, target, ids)
			if tc.check != nil {
				tc.check(t, srv, e)
			}
		})
	}
}

func TestWriteRecords(t *testing.T) {
	tests := []struct {
		name   string
		rec    sdk.Record
		status sdk.Status
		reason string
		stored string // the source the server holds, "" for none
	}{{
		name:   "no route",
		rec:    sdk.Record{Data: []byte(`{"a":1}`), ID: "x"},
		status: sdk.Rejected, reason: "no target: the record has no route to this output",
	}, {
		name: "empty target",
		rec: sdk.Record{Data: []byte(`{"a":1}`), ID: "x",
			Routes: []sdk.Route{{Target: ""}}},
		status: sdk.Rejected, reason: "no target: the record has no route to this output",
	}, {
		name:   "empty event",
		rec:    sdk.Record{Data: []byte(" "), ID: "x", Routes: []sdk.Route{{Target: "t"}}},
		status: sdk.Rejected, reason: "event is empty",
	}, {
		name: "event over several lines is compacted",
		rec: sdk.Record{Data: []byte("{\n  \"a\": 1,\n  \"b\": \"x\\ny\"\n}"), ID: "x",
			Routes: []sdk.Route{{Target: "t"}}},
		status: sdk.Delivered, stored: `{"a":1,"b":"x\ny"}`,
	}, {
		name: "broken event over several lines",
		rec: sdk.Record{Data: []byte("{\n\"a\": "), ID: "x",
			Routes: []sdk.Route{{Target: "t"}}},
		status: sdk.Rejected, reason: "event is not valid JSON: unexpected end of JSON input",
	}, {
		name: "ids and targets are escaped",
		rec: sdk.Record{Data: []byte(`{"a":1}`), ID: "x\"\\é",
			Routes: []sdk.Route{{Target: "t"}}},
		status: sdk.Delivered, stored: `{"a":1}`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := estest.New(t)
			e := start(t, hostSettings(srv, ""), nil)

			res := e.Write(context.Background(), []sdk.Record{tc.rec})

			if res[0].Status != tc.status || (tc.reason != "" && res[0].Reason != tc.reason) {
				t.Errorf("got %v %q, want %v %q", res[0].Status, res[0].Reason, tc.status, tc.reason)
			}
			docs := srv.Docs("t")
			if tc.stored == "" {
				if srv.Count() != 0 {
					t.Errorf("server stored %d docs, want none", srv.Count())
				}
				return
			}
			if len(docs) != 1 || string(docs[0].Raw) != tc.stored || docs[0].ID != tc.rec.ID {
				t.Errorf("stored %+v, want id %q source %s", docs, tc.rec.ID, tc.stored)
			}
		})
	}
}

func TestWriteMixedTargetsAndNoIDs(t *testing.T) {
	srv := estest.New(t)
	e := start(t, hostSettings(srv, ""), nil)
	recs := append(records("a", "x", 3), records("b", "y", 2)...)
	recs[0].ID = ""

	res := e.Write(context.Background(), recs)

	if got := countStatus(res, sdk.Delivered); got != 5 {
		t.Fatalf("delivered %d of 5: %v", got, res)
	}
	if len(srv.Docs("a")) != 3 || len(srv.Docs("b")) != 2 {
		t.Errorf("indices %v: a=%d b=%d", srv.Indices(), len(srv.Docs("a")), len(srv.Docs("b")))
	}
	if id := srv.Docs("a")[0].ID; !strings.HasPrefix(id, "estest-") {
		t.Errorf("record without id stored as %q, want a generated id", id)
	}
}

func TestOpIndexOverwrites(t *testing.T) {
	srv := estest.New(t)
	e := start(t, hostSettings(srv, "op: index\n"), nil)
	recs := records("idx", "d", 3)

	for round := 0; round < 2; round++ {
		if res := e.Write(context.Background(), recs); countStatus(res, sdk.Delivered) != 3 {
			t.Fatalf("round %d: %v", round, res)
		}
	}

	for _, d := range srv.Docs("idx") {
		if d.Version != 2 {
			t.Errorf("doc %s version %d, want 2", d.ID, d.Version)
		}
	}
	if !strings.HasPrefix(string(srv.BulkRequests()[0].Header.Get("Content-Type")),
		"application/x-ndjson") {
		t.Errorf("content type %q", srv.BulkRequests()[0].Header.Get("Content-Type"))
	}
}

func TestCompression(t *testing.T) {
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprint("compression=", on), func(t *testing.T) {
			srv := estest.New(t)
			e := start(t, hostSettings(srv, fmt.Sprintf("compression: %v\n", on)), nil)

			res := e.Write(context.Background(), records("t", "d", 100))

			if countStatus(res, sdk.Delivered) != 100 {
				t.Fatalf("results %v", res)
			}
			reqs := srv.BulkRequests()
			if len(reqs) != 1 || reqs[0].Gzip != on {
				t.Errorf("requests %+v, want one with gzip=%v", reqs, on)
			}
			storedOnce(t, srv, "t", ids("d", 100))
		})
	}
}

func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return out
}

func TestSplitting(t *testing.T) {
	big := sdk.Record{Data: []byte(`{"m":"` + strings.Repeat("x", 3000) + `"}`), ID: "big",
		Routes: []sdk.Route{{Target: "t"}}}
	tests := []struct {
		name     string
		settings string
		recs     []sdk.Record
		items    []int // items per bulk request
		maxBytes int
	}{{
		name: "by records", settings: "flush_records: 10\n",
		recs: records("t", "d", 25), items: []int{10, 10, 5},
	}, {
		name: "by bytes", settings: "flush_bytes: 1KiB\n",
		// each item is about 110 bytes
		recs: records("t", "d", 20), items: []int{9, 9, 2}, maxBytes: 1024,
	}, {
		name: "a record over flush_bytes goes alone", settings: "flush_bytes: 1KiB\n",
		recs:  append(append(records("t", "d", 2), big), records("t", "e", 2)...),
		items: []int{2, 1, 2},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := estest.New(t)
			e := start(t, hostSettings(srv, tc.settings), nil)

			res := e.Write(context.Background(), tc.recs)

			if got := countStatus(res, sdk.Delivered); got != len(tc.recs) {
				t.Fatalf("delivered %d of %d: %v", got, len(tc.recs), res)
			}
			var items []int
			for _, r := range srv.BulkRequests() {
				items = append(items, r.Items)
				if tc.maxBytes > 0 && r.Bytes > tc.maxBytes {
					t.Errorf("request of %d bytes, limit %d", r.Bytes, tc.maxBytes)
				}
			}
			if fmt.Sprint(items) != fmt.Sprint(tc.items) {
				t.Errorf("items per request %v, want %v", items, tc.items)
			}
			if srv.Count() != len(tc.recs) {
				t.Errorf("stored %d, want %d", srv.Count(), len(tc.recs))
			}
		})
	}
}

// statusProxy answers requests to /_bulk with status when decide says so
// and passes the rest to the fake server.
func statusProxy(t *testing.T, srv *estest.Server, decide func(r *http.Request) int) string {
	u, _ := url.Parse(srv.URL)
	rp := httputil.NewSingleHostReverseProxy(u)
	p := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if code := decide(r); code != 0 && strings.HasSuffix(r.URL.Path, "/_bulk") {
			w.Header().Set("X-Elastic-Product", "Elasticsearch")
			w.WriteHeader(code)
			fmt.Fprintf(w, `{"error":{"type":"proxy_exception","reason":"status %d"},"status":%d}`,
				code, code)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p.URL
}

func TestRequestStatuses(t *testing.T) {
	tests := []struct {
		code   int
		status sdk.Status
		reason string
	}{
		{400, sdk.Rejected, "bulk request answered 400: proxy_exception: status 400"},
		{401, sdk.Retry, "bulk request answered 401: proxy_exception: status 401; " +
			"check api_key, username/password or service_token"},
		{403, sdk.Retry, "bulk request answered 403: proxy_exception: status 403; " +
			"the credentials need the create_doc (or index) privilege on the target"},
		{404, sdk.Retry, "bulk request answered 404: proxy_exception: status 404"},
		{502, sdk.Retry, "bulk request answered 502: proxy_exception: status 502"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			srv := estest.New(t)
			url := statusProxy(t, srv, func(*http.Request) int { return tc.code })
			e := start(t, fmt.Sprintf("hosts: [%q]\n", url), nil)

			res := e.Write(context.Background(), records("t", "d", 3))

			for i, r := range res {
				if r.Status != tc.status || r.Reason != tc.reason {
					t.Errorf("record %d: %v %q, want %v %q", i, r.Status, r.Reason,
						tc.status, tc.reason)
				}
			}
			if reachable, last := e.Health(); !reachable ||
				last != "cluster ["+url+"]: "+tc.reason {
				t.Errorf("health %v %q", reachable, last)
			}
		})
	}
}

func TestTooLargeSplits(t *testing.T) {
	srv := estest.New(t)
	const limit = 1500
	url := statusProxy(t, srv, func(r *http.Request) int {
		if r.ContentLength > limit {
			return http.StatusRequestEntityTooLarge
		}
		return 0
	})
	e := start(t, fmt.Sprintf("hosts: [%q]\ncompression: false\n", url), nil)
	recs := records("t", "d", 40) // about 110 bytes each
	big := sdk.Record{Data: []byte(`{"m":"` + strings.Repeat("x", 2000) + `"}`), ID: "big",
		Routes: []sdk.Route{{Target: "t"}}}
	recs = append(recs[:20], append([]sdk.Record{big}, recs[20:]...)...)

	res := e.Write(context.Background(), recs)

	for i, r := range res {
		want := sdk.Delivered
		if recs[i].ID == "big" {
			want = sdk.Rejected
			if !strings.Contains(r.Reason, "413") || !strings.Contains(r.Reason, "flush_bytes") {
				t.Errorf("big record reason %q", r.Reason)
			}
		}
		if r.Status != want {
			t.Errorf("record %s: %v %q, want %v", recs[i].ID, r.Status, r.Reason, want)
		}
	}
	storedOnce(t, srv, "t", ids("d", 40))
}

func TestPipelineParameter(t *testing.T) {
	tests := []struct {
		settings string
		want     []string
	}{
		{"", []string{"_none"}},
		{"pipeline: \"\"\n", nil},
		{"pipeline: zeek-fixups\n", []string{"zeek-fixups"}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q", tc.settings), func(t *testing.T) {
			srv := estest.New(t)
			e := start(t, hostSettings(srv, tc.settings), nil)

			e.Write(context.Background(), records("t", "d", 1))

			got := srv.BulkRequests()[0].Query["pipeline"]
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("pipeline parameter %v, want %v", got, tc.want)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestHealth(t *testing.T) {
	srv := estest.New(t)
	var logs syncBuffer
	e := start(t, hostSettings(srv, "timeout: 2s\n"), slog.New(slog.NewJSONHandler(&logs, nil)))
	if ok, last := e.Health(); !ok || last != "" {
		t.Fatalf("after start: %v %q", ok, last)
	}

	srv.Close()
	res := e.Write(context.Background(), records("t", "d", 2))

	if countStatus(res, sdk.Retry) != 2 {
		t.Errorf("results %v, want retry", res)
	}
	ok, last := e.Health()
	if ok || !strings.HasPrefix(last, "cluster ["+srv.URL+"]: bulk request failed: ") {
		t.Errorf("after server stop: %v %q", ok, last)
	}
	for msg, want := range map[string]int{
		`"msg":"connected"`:                       1,
		`"msg":"cluster unreachable; events wait`: 1,
		`"msg":"cluster reachable again"`:         0,
	} {
		if got := strings.Count(logs.String(), msg); got != want {
			t.Errorf("logs hold %s %d times, want %d:\n%s", msg, got, want, logs.String())
		}
	}
}

func TestHealthRecovers(t *testing.T) {
	srv := estest.New(t)
	var logs syncBuffer
	e := start(t, hostSettings(srv, ""), slog.New(slog.NewJSONHandler(&logs, nil)))
	srv.DropConnections(1, false)

	e.Write(context.Background(), records("t", "d", 1))
	if ok, _ := e.Health(); ok {
		t.Error("reachable after a dropped connection")
	}
	e.Write(context.Background(), records("t", "d", 1))
	if ok, last := e.Health(); !ok || last != "" {
		t.Errorf("after recovery: %v %q", ok, last)
	}

	if !strings.Contains(logs.String(), `"msg":"cluster reachable again"`) {
		t.Errorf("logs:\n%s", logs.String())
	}
	storedOnce(t, srv, "t", ids("d", 1))
}

func TestStartWithClusterDown(t *testing.T) {
	srv := estest.New(t)
	srv.Close()
	var logs syncBuffer
	e := start(t, hostSettings(srv, ""), slog.New(slog.NewJSONHandler(&logs, nil)))

	if ok, last := e.Health(); ok || last == "" {
		t.Errorf("health %v %q, want unreachable with a reason", ok, last)
	}
	if !strings.Contains(logs.String(), "cluster unreachable at start") {
		t.Errorf("logs:\n%s", logs.String())
	}
}

func TestNotStarted(t *testing.T) {
	e := New()
	res := e.Write(context.Background(), records("t", "d", 2))
	if countStatus(res, sdk.Retry) != 2 {
		t.Errorf("results %v", res)
	}
	if err := e.Close(); err != nil {
		t.Errorf("close without start: %v", err)
	}
}

func TestCancelledWrite(t *testing.T) {
	srv := estest.New(t)
	e := start(t, hostSettings(srv, ""), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	res := e.Write(ctx, records("t", "d", 2))

	for _, r := range res {
		if r.Status != sdk.Retry || !strings.Contains(r.Reason, "cancel") {
			t.Errorf("result %v %q", r.Status, r.Reason)
		}
	}
	if srv.Count() != 0 {
		t.Errorf("stored %d", srv.Count())
	}
}

func BenchmarkBulkWrite(b *testing.B) {
	srv := estest.New(b)
	e := start(b, hostSettings(srv, ""), nil)
	const batch = 1000
	recs := make([]sdk.Record, batch)
	payload := `{"@timestamp":"2024-05-01T12:00:00.123Z","event":{"dataset":"zeek.connection"},` +
		`"source":{"ip":"10.1.2.3","port":51234},"destination":{"ip":"192.0.2.7","port":443},` +
		`"network":{"transport":"tcp","bytes":18234},"zeek":{"session_id":"CpXe2k3Wq8"}}`

	b.ReportAllocs()
	n := 0
	for ; b.Loop(); n++ {
		for i := range recs {
			recs[i] = sdk.Record{Data: []byte(payload), ID: fmt.Sprintf("%d-%d", n, i),
				Routes: []sdk.Route{{Target: "logs-zeek.connection-bench"}}}
		}
		for _, r := range e.Write(context.Background(), recs) {
			if r.Status != sdk.Delivered {
				b.Fatalf("%v %s", r.Status, r.Reason)
			}
		}
	}
	b.ReportMetric(float64(n*batch)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkWriteClusterDown shows what a Write costs while the cluster
// refuses connections: every record comes back Retry and the output keeps
// nothing between Writes, so its memory stays flat however long the outage.
func BenchmarkWriteClusterDown(b *testing.B) {
	srv := estest.New(b)
	srv.Close()
	e := start(b, hostSettings(srv, ""), nil)
	recs := records("logs-zeek.connection-bench", "d", 1000)

	b.ReportAllocs()
	for b.Loop() {
		if res := e.Write(context.Background(), recs); res[0].Status != sdk.Retry {
			b.Fatalf("%v %s", res[0].Status, res[0].Reason)
		}
	}
}
