package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// esSink is a fake Elasticsearch that takes bulk requests, answers every
// item as created and keeps only counts. It acknowledges the index
// templates, lifecycle policies and pipelines an output installs at
// start (manage_templates), and remembers any other request it refused. It runs in the harness process,
// so its CPU is not counted in the flow's; it stores nothing, so a run of
// millions of documents costs it little memory. (estest, the output's test
// server, keeps every document decoded, which is right for tests and too
// heavy here.)
type esSink struct {
	srv  *http.Server
	ln   net.Listener
	URL  string
	docs atomic.Int64
	reqs atomic.Int64
	bad  atomic.Int64
	// downUntil (Unix nanoseconds) makes bulk requests before it fail
	// with 503, as a cluster that is down; down counts them.
	downUntil atomic.Int64
	down      atomic.Int64

	mu      sync.Mutex
	indices map[string]int64
	refused map[string]int // "METHOD /path" answered 404
}

func startESSink() (*esSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &esSink{ln: ln, URL: "http://" + ln.Addr().String(), indices: map[string]int64{},
		refused: map[string]int{}}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve)}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func (s *esSink) Close() { _ = s.srv.Close() }

// downFor answers every bulk request 503 for d from now.
func (s *esSink) downFor(d time.Duration) { s.downUntil.Store(time.Now().Add(d).UnixNano()) }

// reset clears the counts between runs.
func (s *esSink) reset() {
	s.docs.Store(0)
	s.reqs.Store(0)
	s.bad.Store(0)
	s.downUntil.Store(0)
	s.down.Store(0)
	s.mu.Lock()
	s.indices = map[string]int64{}
	s.refused = map[string]int{}
	s.mu.Unlock()
}

// refusedRequests lists the requests answered 404 since the last reset.
func (s *esSink) refusedRequests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k, n := range s.refused {
		out = append(out, fmt.Sprintf("%s (%d×)", k, n))
	}
	sort.Strings(out)
	return out
}

// setupAPIs are the paths of the settings an output may put at start.
var setupAPIs = []string{"/_component_template/", "/_index_template/", "/_ilm/policy/",
	"/_ingest/pipeline/"}

func isSetup(path string) bool {
	for _, p := range setupAPIs {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

func (s *esSink) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		_, _ = io.WriteString(w, `{"name":"bench","cluster_name":"bench","version":`+
			`{"number":"8.19.0","build_flavor":"default"},"tagline":"You Know, for Search"}`)
	case strings.HasSuffix(r.URL.Path, "/_bulk") && r.Method == http.MethodPost:
		s.bulk(w, r)
	case isSetup(r.URL.Path) && (r.Method == http.MethodPut || r.Method == http.MethodPost):
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, `{"acknowledged":true}`)
	default:
		s.mu.Lock()
		s.refused[r.Method+" "+r.URL.Path]++
		s.mu.Unlock()
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"error":{"type":"bench_unsupported","reason":"not served"},"status":404}`)
	}
}

// bulk reads action/source pairs and answers each item 201.
func (s *esSink) bulk(w http.ResponseWriter, r *http.Request) {
	s.reqs.Add(1)
	if time.Now().UnixNano() < s.downUntil.Load() {
		s.down.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"error":{"type":"unavailable_shards_exception","reason":"bench: cluster down"},"status":503}`)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, `{"error":"bad gzip"}`, http.StatusBadRequest)
			return
		}
		defer zr.Close()
		body = zr
	}
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 1<<20), 256<<20)
	var ops []string
	counts := map[string]int64{}
	action := true
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if !action {
			if len(line) == 0 || line[0] != '{' {
				s.bad.Add(1)
			}
			action = true
			continue
		}
		var a map[string]struct {
			Index string `json:"_index"`
		}
		if err := json.Unmarshal(line, &a); err != nil || len(a) != 1 {
			s.bad.Add(1)
			continue
		}
		for op, meta := range a {
			ops = append(ops, op)
			counts[meta.Index]++
			action = op == "delete"
		}
	}
	s.docs.Add(int64(len(ops)))
	s.mu.Lock()
	for k, v := range counts {
		s.indices[k] += v
	}
	s.mu.Unlock()

	var out bytes.Buffer
	out.WriteString(`{"took":1,"errors":false,"items":[`)
	for i, op := range ops {
		if i > 0 {
			out.WriteByte(',')
		}
		out.WriteString(`{"` + op + `":{"status":201}}`)
	}
	out.WriteString(`]}`)
	w.Header().Set("Content-Length", strconv.Itoa(out.Len()))
	_, _ = w.Write(out.Bytes())
}
