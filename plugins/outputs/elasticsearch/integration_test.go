package elasticsearch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"testing"
	"time"

	elastic "github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/mdrsflow/mdrsflow/sdk"
)

// integrationSettings returns settings for the cluster named by
// MDRSFLOW_ES_URL, with credentials from MDRSFLOW_ES_API_KEY or
// MDRSFLOW_ES_USERNAME and MDRSFLOW_ES_PASSWORD and a CA from
// MDRSFLOW_ES_CA_FILE. It skips the test when there is no cluster.
func integrationSettings(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test skipped under -short")
	}
	u := os.Getenv("MDRSFLOW_ES_URL")
	if u == "" {
		t.Skip("set MDRSFLOW_ES_URL to run against a real cluster")
	}
	s := fmt.Sprintf("hosts: [%q]\n", u)
	if v := os.Getenv("MDRSFLOW_ES_API_KEY"); v != "" {
		s += fmt.Sprintf("api_key: %q\n", v)
	}
	if v := os.Getenv("MDRSFLOW_ES_USERNAME"); v != "" {
		s += fmt.Sprintf("username: %q\npassword: %q\n", v, os.Getenv("MDRSFLOW_ES_PASSWORD"))
	}
	if v := os.Getenv("MDRSFLOW_ES_CA_FILE"); v != "" {
		s += fmt.Sprintf("ca_file: %q\n", v)
	}
	return s
}

func randomSuffix(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func TestIntegrationDataStream(t *testing.T) {
	settings := integrationSettings(t)
	e := start(t, settings, nil)
	if ok, last := e.Health(); !ok || last != "" {
		t.Fatalf("cluster not healthy at start: %v %q", ok, last)
	}
	stream := "logs-mdrsflow.test-" + randomSuffix(t)
	t.Cleanup(func() { deleteTarget(t, e, stream, true) })

	now := time.Now().UTC().Format(time.RFC3339Nano)
	recs := make([]sdk.Record, 5)
	for i := range recs {
		recs[i] = sdk.Record{
			Data: []byte(fmt.Sprintf(`{"@timestamp":%q,"message":"integration %d",`+
				`"event":{"dataset":"mdrsflow.test"}}`, now, i)),
			ID:     fmt.Sprintf("it-%d", i),
			Routes: []sdk.Route{{Target: stream}},
		}
	}
	bad := sdk.Record{Data: []byte(`{"@timestamp":"not a date","message":"bad"}`),
		ID: "it-bad", Routes: []sdk.Route{{Target: stream}}}

	res := e.Write(context.Background(), append(recs, bad))

	for i, r := range res[:len(recs)] {
		if r.Status != sdk.Delivered {
			t.Errorf("record %d: %v %q", i, r.Status, r.Reason)
		}
	}
	// document_parsing_exception on 8.x, mapper_parsing_exception before.
	if r := res[len(recs)]; r.Status != sdk.Rejected ||
		!regexp.MustCompile(`^[a-z_]+_exception: `).MatchString(r.Reason) {
		t.Errorf("bad record: %v %q, want rejected with the cluster's reason", r.Status, r.Reason)
	}

	res = e.Write(context.Background(), recs)
	for i, r := range res {
		if r.Status != sdk.Delivered || r.Reason != duplicateReason {
			t.Errorf("replay of record %d: %v %q, want delivered as duplicate", i, r.Status, r.Reason)
		}
	}

	got := storedIDs(t, e, stream)
	if want := "[it-0 it-1 it-2 it-3 it-4]"; fmt.Sprint(got) != want {
		t.Errorf("stored ids %v, want %s", got, want)
	}
}

func TestIntegrationIndexOp(t *testing.T) {
	settings := integrationSettings(t)
	e := start(t, settings+"op: index\npipeline: \"\"\n", nil)
	index := "mdrsflow-test-" + randomSuffix(t)
	t.Cleanup(func() { deleteTarget(t, e, index, false) })
	recs := records(index, "ix", 3)

	for round := 0; round < 2; round++ {
		for i, r := range e.Write(context.Background(), recs) {
			if r.Status != sdk.Delivered {
				t.Errorf("round %d record %d: %v %q", round, i, r.Status, r.Reason)
			}
		}
	}

	if got := storedIDs(t, e, index); fmt.Sprint(got) != "[ix-0 ix-1 ix-2]" {
		t.Errorf("stored ids %v", got)
	}
}

// storedIDs refreshes target and returns the ids of its documents, sorted.
func storedIDs(t *testing.T, e *Elasticsearch, target string) []string {
	t.Helper()
	c := e.sharedClient()
	ctx := context.Background()
	if res, err := c.Indices.Refresh(c.Indices.Refresh.WithIndex(target),
		c.Indices.Refresh.WithContext(ctx)); err != nil {
		t.Fatalf("refresh %s: %v", target, err)
	} else {
		res.Body.Close()
	}
	res, err := c.Search(c.Search.WithIndex(target), c.Search.WithSize(100),
		c.Search.WithContext(ctx))
	if err != nil {
		t.Fatalf("search %s: %v", target, err)
	}
	defer res.Body.Close()
	if res.IsError() {
		t.Fatalf("search %s: %s", target, res.String())
	}
	var body struct {
		Hits struct {
			Hits []struct {
				ID string `json:"_id"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatalf("search %s: %v", target, err)
	}
	var ids []string
	for _, h := range body.Hits.Hits {
		ids = append(ids, h.ID)
	}
	sort.Strings(ids)
	return ids
}

// sharedClient is the client of the shared cluster, nil before Start.
func (e *Elasticsearch) sharedClient() *elastic.Client {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.routes == nil {
		return nil
	}
	return e.routes.shared.client
}

func deleteTarget(t *testing.T, e *Elasticsearch, name string, dataStream bool) {
	c := e.sharedClient()
	if c == nil {
		return
	}
	var res *esapi.Response
	var err error
	if dataStream {
		res, err = c.Indices.DeleteDataStream([]string{name})
	} else {
		res, err = c.Indices.Delete([]string{name})
	}
	if err != nil {
		t.Logf("delete %s: %v", name, err)
		return
	}
	res.Body.Close()
}
