package estest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

type bulkAnswer struct {
	Errors bool                        `json:"errors"`
	Items  []map[string]map[string]any `json:"items"`
}

func post(t *testing.T, s *Server, path, body string, gz bool) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader = strings.NewReader(body)
	if gz {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write([]byte(body))
		_ = zw.Close()
		rd = &b
	}
	req, _ := http.NewRequest(http.MethodPost, s.URL+path, rd)
	req.Header.Set("Content-Type", "application/x-ndjson")
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b
}

// statuses returns the status of each item of a bulk answer.
func statuses(t *testing.T, body []byte) []int {
	t.Helper()
	var a bulkAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("answer %s: %v", body, err)
	}
	var out []int
	for _, it := range a.Items {
		for _, r := range it {
			out = append(out, int(r["status"].(float64)))
		}
	}
	return out
}

func TestBulk(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(s *Server)
		path   string
		body   string
		gzip   bool
		code   int
		items  []int
		stored map[string]int
	}{{
		name: "create, conflict, index, delete",
		path: "/_bulk",
		body: `{"create":{"_index":"a","_id":"1"}}` + "\n" + `{"x":1}` + "\n" +
			`{"create":{"_index":"a","_id":"1"}}` + "\n" + `{"x":2}` + "\n" +
			`{"index":{"_index":"b","_id":"1"}}` + "\n" + `{"x":3}` + "\n" +
			`{"index":{"_index":"b","_id":"1"}}` + "\n" + `{"x":4}` + "\n" +
			`{"create":{"_index":"b","_id":"2"}}` + "\n" + `{"x":5}` + "\n" +
			`{"delete":{"_index":"b","_id":"2"}}` + "\n",
		code: 200, items: []int{201, 409, 201, 200, 201, 200},
		stored: map[string]int{"a": 1, "b": 1},
	}, {
		name: "gzip body and index from the path",
		path: "/c/_bulk", gzip: true,
		body: `{"create":{}}` + "\n" + `{"x":1}` + "\n" + `{"create":{}}` + "\n" + `{"x":1}` + "\n",
		code: 200, items: []int{201, 201}, stored: map[string]int{"c": 2},
	}, {
		name: "malformed action fails the request",
		path: "/_bulk", body: `"oops"` + "\n", code: 400,
	}, {
		name: "missing index fails the request",
		path: "/_bulk", body: `{"create":{}}` + "\n" + `{"x":1}` + "\n", code: 400,
	}, {
		name: "source that is not an object fails its item",
		path: "/_bulk", body: `{"create":{"_index":"a"}}` + "\n" + `[1]` + "\n",
		code: 200, items: []int{400},
	}, {
		name: "throttle by source when there is no id",
		setup: func(s *Server) {
			s.ThrottleItems(1, func(d Doc) bool { return d.Source["x"] == 1.0 })
		},
		path: "/_bulk", body: `{"create":{"_index":"a"}}` + "\n" + `{"x":1}` + "\n" +
			`{"create":{"_index":"a"}}` + "\n" + `{"x":2}` + "\n",
		code: 200, items: []int{429, 201}, stored: map[string]int{"a": 1},
	}, {
		name:  "whole request fault",
		setup: func(s *Server) { s.FailRequests(1, 503) },
		path:  "/_bulk", body: `{"create":{"_index":"a"}}` + "\n" + `{"x":1}` + "\n",
		code: 503,
	}, {
		name:  "authorization required",
		setup: func(s *Server) { s.RequireAuthorization("Bearer t") },
		path:  "/_bulk", body: `{"create":{"_index":"a"}}` + "\n" + `{"x":1}` + "\n",
		code: 401,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(t)
			if tc.setup != nil {
				tc.setup(s)
			}

			code, hdr, body := post(t, s, tc.path, tc.body, tc.gzip)

			if code != tc.code {
				t.Fatalf("status %d, want %d: %s", code, tc.code, body)
			}
			if hdr.Get("X-Elastic-Product") != "Elasticsearch" {
				t.Error("answer lacks the product header")
			}
			if tc.items != nil {
				if got := statuses(t, body); fmt.Sprint(got) != fmt.Sprint(tc.items) {
					t.Errorf("item statuses %v, want %v", got, tc.items)
				}
			}
			for index, n := range tc.stored {
				if got := len(s.Docs(index)); got != n {
					t.Errorf("index %s holds %d docs, want %d", index, got, n)
				}
			}
			reqs := s.Requests()
			if len(reqs) != 1 || reqs[0].Gzip != tc.gzip || reqs[0].Status != tc.code {
				t.Errorf("requests %+v", reqs)
			}
		})
	}
}

func TestInfo(t *testing.T) {
	s := New(t)
	res, err := http.Get(s.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var info struct {
		Version struct{ Number string } `json:"version"`
	}
	if err := json.NewDecoder(res.Body).Decode(&info); err != nil || info.Version.Number != Version {
		t.Errorf("info %+v, %v", info, err)
	}
	if res.Header.Get("X-Elastic-Product") != "Elasticsearch" {
		t.Error("answer lacks the product header")
	}
}

func TestDropConnections(t *testing.T) {
	for _, after := range []bool{false, true} {
		s := New(t)
		s.DropConnections(1, after)
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/_bulk",
			strings.NewReader(`{"create":{"_index":"a","_id":"1"}}`+"\n"+`{"x":1}`+"\n"))
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
			t.Fatalf("afterStore=%v: request succeeded, want a dropped connection", after)
		}
		want := map[bool]int{false: 0, true: 1}[after]
		if s.Count() != want {
			t.Errorf("afterStore=%v: stored %d, want %d", after, s.Count(), want)
		}
	}
}
