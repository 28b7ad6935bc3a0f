// Package estest runs a fake Elasticsearch inside a test process, close
// enough to the real bulk API that an output can be judged by what the
// server stored.
//
// The server answers `GET /` with version information and every response
// with the `X-Elastic-Product: Elasticsearch` header, which the official Go
// client insists on. `POST /_bulk` and `POST /{index}/_bulk` take NDJSON
// action/source pairs (gzip request bodies included), store documents per
// index by _id and answer with one result per item, in order, the way
// Elasticsearch does: `create` of an _id that exists gives 409
// version_conflict_engine_exception, `index` overwrites, `delete` removes.
//
// Faults are programmed at run time and are safe to change while requests
// are in flight:
//
//   - [Server.ThrottleItems]: per-item 429 for the first attempts of
//     selected documents;
//   - [Server.RejectMapping]: per-item 400 mapper_parsing_exception;
//   - [Server.FailRequests]: whole-request 429 or 5xx for the next requests;
//   - [Server.DelayRequests]: slow responses, given after the documents
//     are stored, so a client that times out has in fact written them;
//   - [Server.DropConnections]: close the connection without an answer,
//     before or after storing;
//   - [Server.RequireAuthorization]: 401 unless the Authorization header
//     matches.
//
// `PUT /_component_template/{name}` and `PUT /_index_template/{name}` store
// templates (an index template that names a component template that does
// not exist, and is not in its ignore_missing_component_templates, is
// refused with 400 as Elasticsearch does); the server does not apply their
// mappings. [Server.FailTemplates] makes template requests fail.
//
// Faults apply to bulk requests only, except authorization, which applies
// to every request. Predicates run under the server's lock: they must not
// call the Server's methods. What the server did is visible through [Server.Docs],
// [Server.Count] and [Server.Requests].
package estest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Version is the Elasticsearch version the server claims to be.
const Version = "8.19.0"

// Doc is one stored document, or one document of a bulk request when it
// is handed to a fault predicate.
type Doc struct {
	// Index is the index or data stream the document was written to.
	Index string
	// ID is the document id: the one the client sent, or one the server
	// generated when the client sent none.
	ID string
	// Source is the document decoded into maps (numbers are float64); it
	// is nil for a source that is not a JSON object.
	Source map[string]any
	// Raw is the source line exactly as the client sent it.
	Raw []byte
	// Version starts at 1 and grows with each `index` over the same id.
	Version int
}

// Request is what the server saw of one HTTP request.
type Request struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header
	// Gzip reports whether the body came with Content-Encoding: gzip.
	Gzip bool
	// Bytes is the body size after decompression.
	Bytes int
	// Items is the number of bulk actions in the body.
	Items int
	// Status is the status the server answered with; 0 when it dropped
	// the connection instead.
	Status int
}

// Option configures a Server in New.
type Option func(*Server)

// WithTLS serves HTTPS with a self-signed certificate for 127.0.0.1; see
// [Server.CertificatePEM] for the certificate a client must trust.
func WithTLS() Option { return func(s *Server) { s.tls = true } }

// Server is a fake Elasticsearch. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL, for example http://127.0.0.1:41234.
	URL string

	tls bool
	hs  *httptest.Server

	mu       sync.Mutex
	indices  map[string]*index
	requests []Request
	seq      int
	throttle []*throttleRule
	mapping  []func(Doc) bool
	failN    int
	failCode int
	dropN    int
	dropLate bool
	delayN   int
	delay    time.Duration
	auth     string
	// templates by API ("component" or "index") and name
	templates    map[string]map[string]json.RawMessage
	templateFail int
}

type index struct {
	docs []Doc
	byID map[string]int
}

type throttleRule struct {
	attempts int
	match    func(Doc) bool
	seen     map[string]int
}

// New starts a fake Elasticsearch and stops it when the test ends.
func New(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := &Server{indices: map[string]*index{}, templates: map[string]map[string]json.RawMessage{
		"component": {}, "index": {},
	}}
	for _, o := range opts {
		o(s)
	}
	s.hs = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	// Handshake failures are what TLS tests provoke; keep them off stderr.
	s.hs.Config.ErrorLog = log.New(io.Discard, "", 0)
	if s.tls {
		s.hs.StartTLS()
	} else {
		s.hs.Start()
	}
	s.URL = s.hs.URL
	tb.Cleanup(s.Close)
	return s
}

// Close stops the server and closes open connections. It may be called
// more than once, for example to simulate a cluster that went away.
func (s *Server) Close() {
	s.hs.CloseClientConnections()
	s.hs.Close()
}

// CertificatePEM returns the server's self-signed certificate in PEM form,
// the content of a ca_file that trusts it. It is nil without WithTLS.
func (s *Server) CertificatePEM() []byte {
	if !s.tls {
		return nil
	}
	return certPEM(s.hs.Certificate())
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// ThrottleItems answers 429 es_rejected_execution_exception for each bulk
// item whose document matches, on its first attempts tries. A document is
// known by index and _id, or by its source when it has no _id. Rules add
// up; each counts its own attempts.
func (s *Server) ThrottleItems(attempts int, match func(Doc) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle = append(s.throttle, &throttleRule{
		attempts: attempts, match: match, seen: map[string]int{},
	})
}

// RejectMapping answers 400 mapper_parsing_exception for every bulk item
// whose document matches, every time.
func (s *Server) RejectMapping(match func(Doc) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mapping = append(s.mapping, match)
}

// FailRequests answers the next n bulk requests as a whole with status
// (429 or a 5xx) without looking at their items. n = 0 clears it.
func (s *Server) FailRequests(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failCode = n, status
}

// DelayRequests holds the responses to the next n bulk requests for d
// after their documents are stored; n < 0 delays every request from now
// on, n = 0 clears it. A wait ends early when the client goes away.
func (s *Server) DelayRequests(n int, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delayN, s.delay = n, d
}

// DropConnections closes the connection of the next n bulk requests
// without answering. With afterStore the documents are stored first, as
// when a cluster does the work and the network then fails; without it
// nothing is stored.
func (s *Server) DropConnections(n int, afterStore bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropN, s.dropLate = n, afterStore
}

// RequireAuthorization answers 401 security_exception to every request
// whose Authorization header is not exactly value. "" turns it off.
func (s *Server) RequireAuthorization(value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auth = value
}

// Reset forgets every stored document, template and request, and clears
// the faults, as a new server would be (a benchmark that runs many rounds
// does not keep every round's documents in memory).
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.indices = map[string]*index{}
	s.requests = nil
	s.throttle, s.mapping = nil, nil
	s.failN, s.dropN, s.delayN, s.templateFail = 0, 0, 0, 0
	s.templates = map[string]map[string]json.RawMessage{"component": {}, "index": {}}
}

// FailTemplates answers every template request with status (for example
// 403 for credentials without manage_index_templates); 0 clears it.
func (s *Server) FailTemplates(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.templateFail = status
}

// ComponentTemplates returns the component templates stored, by name.
func (s *Server) ComponentTemplates() map[string]json.RawMessage {
	return s.templatesOf("component")
}

// IndexTemplates returns the index templates stored, by name.
func (s *Server) IndexTemplates() map[string]json.RawMessage {
	return s.templatesOf("index")
}

func (s *Server) templatesOf(api string) map[string]json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]json.RawMessage{}
	for k, v := range s.templates[api] {
		out[k] = v
	}
	return out
}

// Docs returns the documents stored in an index, in the order they were
// first created. The slice is a copy.
func (s *Server) Docs(index string) []Doc {
	s.mu.Lock()
	defer s.mu.Unlock()
	ix := s.indices[index]
	if ix == nil {
		return nil
	}
	out := append([]Doc(nil), ix.docs...)
	for i := range out {
		_ = json.Unmarshal(out[i].Raw, &out[i].Source)
	}
	return out
}

// Indices returns the names of the indices that hold documents, sorted.
func (s *Server) Indices() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.indices))
	for name, ix := range s.indices {
		if len(ix.docs) > 0 {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Count returns the number of documents stored across all indices.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, ix := range s.indices {
		n += len(ix.docs)
	}
	return n
}

// Requests returns every request the server received, in order. The slice
// is a copy.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// BulkRequests returns the bulk requests among Requests.
func (s *Server) BulkRequests() []Request {
	var out []Request
	for _, r := range s.Requests() {
		if strings.HasSuffix(r.Path, "/_bulk") {
			out = append(out, r)
		}
	}
	return out
}

// ---------------------------------------------------------------------------

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	w.Header().Set("Content-Type", "application/json")
	rec := Request{
		Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(),
		Header: r.Header.Clone(), Gzip: r.Header.Get("Content-Encoding") == "gzip",
	}

	s.mu.Lock()
	auth := s.auth
	s.mu.Unlock()
	if auth != "" && r.Header.Get("Authorization") != auth {
		s.answer(w, &rec, http.StatusUnauthorized, errorBody(http.StatusUnauthorized,
			"security_exception", "unable to authenticate user for REST request [/_bulk]"))
		return
	}

	switch {
	case r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		s.answer(w, &rec, http.StatusOK, infoBody())
	case strings.HasSuffix(r.URL.Path, "/_bulk") && (r.Method == http.MethodPost ||
		r.Method == http.MethodPut):
		s.bulk(w, r, &rec)
	case (strings.HasPrefix(r.URL.Path, "/_component_template/") ||
		strings.HasPrefix(r.URL.Path, "/_index_template/")) &&
		(r.Method == http.MethodPut || r.Method == http.MethodPost):
		s.putTemplate(w, r, &rec)
	default:
		s.answer(w, &rec, http.StatusNotFound, errorBody(http.StatusNotFound,
			"estest_unsupported", fmt.Sprintf("estest does not serve %s %s", r.Method, r.URL.Path)))
	}
}

func (s *Server) answer(w http.ResponseWriter, rec *Request, status int, body []byte) {
	rec.Status = status
	s.record(*rec)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (s *Server) record(rec Request) {
	s.mu.Lock()
	s.requests = append(s.requests, rec)
	s.mu.Unlock()
}

func (s *Server) drop(w http.ResponseWriter, rec *Request) {
	rec.Status = 0
	s.record(*rec)
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("estest: connection cannot be hijacked")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

func (s *Server) bulk(w http.ResponseWriter, r *http.Request, rec *Request) {
	body, err := readBody(r)
	rec.Bytes = len(body)
	if err != nil {
		s.answer(w, rec, http.StatusBadRequest, errorBody(http.StatusBadRequest,
			"parse_exception", "cannot read request body: "+err.Error()))
		return
	}
	defIndex := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/_bulk")
	if defIndex == "_bulk" {
		defIndex = ""
	}
	items, err := parseBulk(body, defIndex)
	rec.Items = len(items)
	if err != nil {
		s.answer(w, rec, http.StatusBadRequest, errorBody(http.StatusBadRequest,
			"illegal_argument_exception", err.Error()))
		return
	}

	s.mu.Lock()
	if s.failN > 0 {
		s.failN--
		code := s.failCode
		s.mu.Unlock()
		s.answer(w, rec, code, requestFault(code))
		return
	}
	drop := s.dropN > 0
	dropLate := s.dropLate
	if drop {
		s.dropN--
	}
	if drop && !dropLate {
		s.mu.Unlock()
		s.drop(w, rec)
		return
	}
	start := time.Now()
	results := make([]map[string]*result, len(items))
	errs := false
	for i := range items {
		results[i] = s.apply(&items[i])
		errs = errs || items[i].failed
	}
	var delay time.Duration
	if s.delayN != 0 {
		delay = s.delay
		if s.delayN > 0 {
			s.delayN--
		}
	}
	s.mu.Unlock()

	if drop {
		s.drop(w, rec)
		return
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
		}
	}
	out, _ := json.Marshal(map[string]any{
		"took": time.Since(start).Milliseconds(), "errors": errs, "items": results,
	})
	s.answer(w, rec, http.StatusOK, out)
}

// putTemplate stores a component or index template.
func (s *Server) putTemplate(w http.ResponseWriter, r *http.Request, rec *Request) {
	api, name, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/_"), "/")
	api = strings.TrimSuffix(api, "_template")
	body, err := readBody(r)
	rec.Bytes = len(body)
	if err != nil || !isObject(body) {
		s.answer(w, rec, http.StatusBadRequest, errorBody(http.StatusBadRequest,
			"parse_exception", "request body is not a JSON object"))
		return
	}
	s.mu.Lock()
	fail := s.templateFail
	var missing []string
	if api == "index" {
		var it struct {
			ComposedOf []string `json:"composed_of"`
			Ignore     []string `json:"ignore_missing_component_templates"`
		}
		_ = json.Unmarshal(body, &it)
		for _, c := range it.ComposedOf {
			ignored := false
			for _, i := range it.Ignore {
				ignored = ignored || i == c
			}
			if _, ok := s.templates["component"][c]; !ok && !ignored {
				missing = append(missing, c)
			}
		}
	}
	if fail == 0 && len(missing) == 0 {
		s.templates[api][name] = append(json.RawMessage(nil), body...)
	}
	s.mu.Unlock()

	switch {
	case fail != 0:
		s.answer(w, rec, fail, errorBody(fail, "security_exception",
			fmt.Sprintf("action [indices:admin/index_template/put] is unauthorized (estest "+
				"programmed status %d)", fail)))
	case len(missing) > 0:
		s.answer(w, rec, http.StatusBadRequest, errorBody(http.StatusBadRequest,
			"invalid_index_template_exception", fmt.Sprintf("index_template [%s] invalid, "+
				"cause [index template [%s] specifies component templates %v that do not exist]",
				name, name, missing)))
	default:
		s.answer(w, rec, http.StatusOK, []byte(`{"acknowledged":true}`))
	}
}

func readBody(r *http.Request) ([]byte, error) {
	var rd io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		rd = zr
	}
	return io.ReadAll(rd)
}

// item is one bulk action with its source.
type item struct {
	op     string
	index  string
	id     string
	source []byte
	failed bool
}

// parseBulk splits an NDJSON bulk body into items. Like Elasticsearch, it
// fails the whole request when an action line is malformed; a malformed
// source fails only its item, later.
func parseBulk(body []byte, defIndex string) ([]item, error) {
	var items []item
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64*1024), len(body)+1)
	line := 0
	for sc.Scan() {
		line++
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		it, err := parseAction(raw)
		if err != nil {
			return items, fmt.Errorf("Malformed action/metadata line [%d], %v", line, err)
		}
		if it.index == "" {
			it.index = defIndex
		}
		if it.index == "" {
			return items, fmt.Errorf("Validation Failed: 1: index is missing "+
				"for action on line [%d]", line)
		}
		switch it.op {
		case "create", "index", "update":
			if !sc.Scan() {
				return items, fmt.Errorf("The bulk request must be terminated by a newline "+
					"[\\n] (action on line [%d] has no source)", line)
			}
			line++
			it.source = append([]byte(nil), bytes.TrimSpace(sc.Bytes())...)
		}
		items = append(items, it)
	}
	if err := sc.Err(); err != nil {
		return items, err
	}
	return items, nil
}

// result is one item of a bulk answer.
type result struct {
	Index   string  `json:"_index"`
	ID      string  `json:"_id"`
	Version int     `json:"_version,omitempty"`
	Result  string  `json:"result,omitempty"`
	Status  int     `json:"status"`
	Error   *errDoc `json:"error,omitempty"`
}

type errDoc struct {
	Type   string `json:"type"`
	Reason string `json:"reason"`
	Index  string `json:"index,omitempty"`
}

type meta struct {
	Index string `json:"_index"`
	ID    string `json:"_id"`
}

// parseAction reads an action line such as {"create":{"_index":"a"}}.
func parseAction(raw []byte) (item, error) {
	var a struct {
		Create, Index, Delete, Update *meta
	}
	if raw[0] != '{' || json.Unmarshal(raw, &a) != nil {
		return item{}, errors.New("expected a JSON object")
	}
	var it item
	n := 0
	for _, c := range []struct {
		op string
		m  *meta
	}{{"create", a.Create}, {"index", a.Index}, {"delete", a.Delete}, {"update", a.Update}} {
		if c.m != nil {
			it, n = item{op: c.op, index: c.m.Index, id: c.m.ID}, n+1
		}
	}
	if n != 1 {
		return item{}, errors.New("expected one of [create, delete, index, update] " +
			"as the only key")
	}
	return it, nil
}

// apply runs one item against the store and returns its answer, as
// {"<op>": result}; s.mu is held.
func (s *Server) apply(it *item) map[string]*result {
	r := &result{Index: it.index, ID: it.id}
	answer := map[string]*result{it.op: r}
	fail := func(status int, typ, reason string) map[string]*result {
		it.failed = true
		r.Status, r.Error = status, &errDoc{Type: typ, Reason: reason, Index: it.index}
		return answer
	}

	switch it.op {
	case "update":
		return fail(400, "illegal_argument_exception", "estest does not support update")
	case "delete":
		r.Status, r.Result = s.remove(it.index, it.id)
		return answer
	}
	doc := Doc{Index: it.index, ID: it.id, Raw: it.source}
	if !isObject(it.source) {
		return fail(400, "mapper_parsing_exception", "failed to parse: source is not "+
			"a JSON object")
	}
	if len(s.mapping) > 0 || len(s.throttle) > 0 {
		_ = json.Unmarshal(it.source, &doc.Source)
	}
	for _, m := range s.mapping {
		if m(doc) {
			return fail(400, "mapper_parsing_exception",
				fmt.Sprintf("failed to parse field in document with id '%s'", it.id))
		}
	}
	key := it.index + "\x00" + it.id
	if it.id == "" {
		key = it.index + "\x00\x00" + string(it.source)
	}
	for _, t := range s.throttle {
		if t.match(doc) && t.seen[key] < t.attempts {
			t.seen[key]++
			return fail(429, "es_rejected_execution_exception",
				"rejected execution of coordinating operation [estest]")
		}
	}

	ix := s.indices[it.index]
	if ix == nil {
		ix = &index{byID: map[string]int{}}
		s.indices[it.index] = ix
	}
	if it.id == "" {
		s.seq++
		doc.ID = fmt.Sprintf("estest-%d", s.seq)
		r.ID = doc.ID
	}
	doc.Source = nil // decoded again by Docs, so callers never share maps
	if at, ok := ix.byID[doc.ID]; ok {
		if it.op == "create" {
			return fail(409, "version_conflict_engine_exception",
				fmt.Sprintf("[%s]: version conflict, document already exists "+
					"(current version [%d])", doc.ID, ix.docs[at].Version))
		}
		doc.Version = ix.docs[at].Version + 1
		ix.docs[at] = doc
		r.Version, r.Result, r.Status = doc.Version, "updated", 200
		return answer
	}
	doc.Version = 1
	ix.byID[doc.ID] = len(ix.docs)
	ix.docs = append(ix.docs, doc)
	r.Version, r.Result, r.Status = 1, "created", 201
	return answer
}

// isObject reports whether b is one valid JSON object.
func isObject(b []byte) bool {
	return len(b) > 0 && b[0] == '{' && json.Valid(b)
}

// remove deletes a document and returns the item's status and result.
func (s *Server) remove(index, id string) (int, string) {
	ix := s.indices[index]
	if ix == nil {
		return 404, "not_found"
	}
	at, ok := ix.byID[id]
	if !ok {
		return 404, "not_found"
	}
	ix.docs = append(ix.docs[:at], ix.docs[at+1:]...)
	delete(ix.byID, id)
	for other, i := range ix.byID {
		if i > at {
			ix.byID[other] = i - 1
		}
	}
	return 200, "deleted"
}

func errObj(typ, reason string) map[string]any {
	return map[string]any{"type": typ, "reason": reason}
}

func errorBody(status int, typ, reason string) []byte {
	e := errObj(typ, reason)
	e["root_cause"] = []any{errObj(typ, reason)}
	b, _ := json.Marshal(map[string]any{"error": e, "status": status})
	return b
}

func requestFault(status int) []byte {
	if status == http.StatusTooManyRequests {
		return errorBody(status, "es_rejected_execution_exception",
			"rejected execution of coordinating operation [estest]: too many requests")
	}
	return errorBody(status, "unavailable_shards_exception",
		fmt.Sprintf("estest: programmed failure with status %d", status))
}

func infoBody() []byte {
	b, _ := json.Marshal(map[string]any{
		"name":         "estest",
		"cluster_name": "estest",
		"cluster_uuid": "estest-cluster-uuid",
		"version": map[string]any{
			"number":                              Version,
			"build_flavor":                        "default",
			"build_type":                          "estest",
			"lucene_version":                      "9.12.2",
			"minimum_wire_compatibility_version":  "7.17.0",
			"minimum_index_compatibility_version": "7.0.0",
		},
		"tagline": "You Know, for Search",
	})
	return b
}
