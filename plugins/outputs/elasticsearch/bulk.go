package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/mdrsflow/mdrsflow/sdk"
)

// filterPath trims each item of a bulk response to what Write reads.
var filterPath = []string{"errors", "items.*.status", "items.*.error"}

// Write sends the records in bulk requests of at most flush_records items
// and flush_bytes bytes and returns one Result per record, in order. It is
// called from one goroutine at a time and does not keep recs.
//
// Records go to the cluster the tenant map gives their tenant (the shared
// cluster without a map), one cluster after another. Within a cluster,
// requests go out one after another. Once a request fails as a whole
// (cluster unreachable, timeout, 429, 5xx), the records for that cluster
// not yet sent get Retry with the same reason without being sent: the
// cluster is unlikely to take them a moment later, and waiting out a
// timeout per request would hold the flow for minutes.
//
// Limitation: the requests of one Write go one after another — a Write's
// throughput is bound by the cluster's latency; parallel requests per Write
// would lift it.
func (e *Elasticsearch) Write(ctx context.Context, recs []sdk.Record) []sdk.Result {
	res := make([]sdk.Result, len(recs))
	rt := e.current()
	if rt == nil {
		fill(res, allIndexes(len(recs)), sdk.Retry, "elasticsearch output is not started")
		return res
	}

	// Group by cluster, keeping the order of the records within each.
	var (
		order    []*cluster
		byC      = map[*cluster][]item{}
		quarOf   = map[string]uint64{}
		lastQuar string
	)
	for i := range recs {
		r := &recs[i]
		if len(r.Routes) == 0 || r.Routes[0].Target == "" {
			res[i] = sdk.Result{Status: sdk.Rejected,
				Reason: "no target: the record has no route to this output"}
			continue
		}
		c, target, data, quar := rt.place(r, e.QuarantineTarget)
		if quar != "" {
			quarOf[r.Tenant]++
			lastQuar = quar
		}
		if byC[c] == nil {
			order = append(order, c)
		}
		byC[c] = append(byC[c], item{i: i, target: target, id: r.ID, data: data, quar: quar})
	}
	for _, c := range order {
		e.writeCluster(ctx, c, byC[c], res)
	}

	for i := range res {
		res[i].Reason = redact(res[i].Reason)
	}
	e.countResults(res)
	e.countQuarantined(quarOf, lastQuar)
	return res
}

// item is one record as it is sent: where, with which id and data.
type item struct {
	i      int // index of the record and its result
	target string
	id     string
	data   []byte
	quar   string // why the output quarantined it, or ""
}

// writeCluster sends items to one cluster and fills their results.
func (e *Elasticsearch) writeCluster(ctx context.Context, c *cluster, items []item,
	res []sdk.Result) {
	if e.ManageTemplates && !c.templatesInstalled() {
		if reason := e.installTemplates(ctx, c); reason != "" {
			for _, it := range items {
				res[it.i] = sdk.Result{Status: sdk.Retry, Reason: c.prefix + reason}
			}
			return
		}
	}

	b := bulkBuilder{buf: e.buf[:0], op: e.Op}
	stop := ""
	flush := func() {
		if len(b.idx) == 0 {
			return
		}
		if stop == "" {
			stop = e.send(ctx, c, b.buf, b.offs, b.idx, res)
		} else {
			fill(res, b.idx, sdk.Retry, "not sent: "+stop)
		}
		b.reset(e.Compression)
	}
	for _, it := range items {
		line, reason := b.prepare(it.target, it.id, it.data)
		if reason != "" {
			res[it.i] = sdk.Result{Status: sdk.Rejected, Reason: reason}
			continue
		}
		if len(b.idx) > 0 && (len(b.idx) >= e.FlushRecords ||
			ByteSize(len(b.buf)+line) > e.FlushBytes) {
			flush()
		}
		b.add(it.i, it.target, it.id)
	}
	flush()

	e.buf = b.buf[:0]
	if !e.Compression || cap(e.buf) > 2*int(e.FlushBytes) {
		e.buf = nil // see reset; and one huge record must not pin its buffer
	}
	for _, it := range items {
		r := &res[it.i]
		switch {
		case r.Status != sdk.Delivered:
			r.Reason = c.prefix + r.Reason
		case it.quar != "":
			r.Reason = "quarantined: " + it.quar
		}
	}
}

// send posts one bulk body to c and fills res for the records in idx.
// offs[k] is where item k starts in body. It returns a reason when the
// request failed as a whole in a way that later requests would share,
// else "".
func (e *Elasticsearch) send(ctx context.Context, c *cluster, body []byte, offs, idx []int,
	res []sdk.Result) string {
	if err := ctx.Err(); err != nil {
		reason := "write cancelled before the bulk request: " + err.Error()
		fill(res, idx, sdk.Retry, reason)
		return reason
	}

	e.stats.requests.Add(1)
	rctx, cancel := context.WithTimeout(ctx, e.Timeout)
	defer cancel()
	req := esapi.BulkRequest{
		Body:       bytes.NewReader(body),
		Pipeline:   e.Pipeline,
		FilterPath: filterPath,
		Header:     http.Header{"Content-Type": {"application/x-ndjson"}},
	}
	resp, err := req.Do(rctx, c.client)
	if err != nil {
		reason := "bulk request failed: " + withTLSAdvice(err).Error()
		switch {
		case ctx.Err() != nil:
			reason = "write cancelled during the bulk request: " + ctx.Err().Error()
		case rctx.Err() != nil || errors.Is(err, context.DeadlineExceeded):
			reason = fmt.Sprintf("bulk request got no answer within %s (setting timeout); "+
				"the cluster may still store the items, a retry is idempotent with "+
				"op create and document ids", e.Timeout)
		}
		e.stats.requestFailures.Add(1)
		c.setHealth(false, reason)
		fill(res, idx, sdk.Retry, reason)
		return reason
	}
	defer resp.Body.Close()

	if resp.IsError() {
		return e.requestError(ctx, c, resp, body, offs, idx, res)
	}

	var br bulkResponse
	if err := json.NewDecoder(resp.Body).Decode(&br); err != nil {
		reason := fmt.Sprintf("bulk response (status %d) is not valid JSON: %v",
			resp.StatusCode, err)
		e.stats.requestFailures.Add(1)
		c.setHealth(true, reason)
		fill(res, idx, sdk.Retry, reason)
		return reason
	}
	c.setHealth(true, "")
	for k, i := range idx {
		if k >= len(br.Items) {
			res[i] = sdk.Result{Status: sdk.Retry, Reason: fmt.Sprintf(
				"bulk response has %d items for %d records; no result for this one",
				len(br.Items), len(idx))}
			continue
		}
		res[i] = itemResult(e.Op, br.Items[k])
	}
	return ""
}

// requestError handles a bulk request answered with an error status as a
// whole. 413 splits the request in two and sends each half, so one
// oversized record cannot hold its neighbours back.
func (e *Elasticsearch) requestError(ctx context.Context, c *cluster, resp *esapi.Response,
	body []byte, offs, idx []int, res []sdk.Result) string {
	code := resp.StatusCode
	reason := requestReason("bulk request", code, readSmall(resp.Body))
	e.stats.requestFailures.Add(1)
	c.setHealth(true, reason)

	switch {
	case code == http.StatusRequestEntityTooLarge && len(idx) > 1:
		mid := len(idx) / 2
		cut := offs[mid] - offs[0]
		first := e.send(ctx, c, body[:cut], offs[:mid], idx[:mid], res)
		if first != "" {
			fill(res, idx[mid:], sdk.Retry, "not sent: "+first)
			return first
		}
		return e.send(ctx, c, body[cut:], offs[mid:], idx[mid:], res)
	case requestRejects(code):
		// Limitation: a 400 for the whole request rejects every event in it
		// — we build the action lines ourselves, so this takes a proxy or a
		// cluster fault; splitting like 413 would isolate one bad event but
		// costs two requests per event when the cause is not an event.
		fill(res, idx, sdk.Rejected, reason)
		return ""
	}
	fill(res, idx, sdk.Retry, reason)
	return reason
}

// requestRejects reports whether a whole-request status says the content
// can never be taken as it is. Everything else (401, 403, 404, 408, 429,
// 5xx, proxies' odd answers) is a state of the cluster or of the settings
// that an operator can fix, so those records wait in the queue instead of
// filling the dead-letter queue.
func requestRejects(code int) bool {
	switch code {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge,
		http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

// requestReason turns an error answer to a request into a line for an
// operator.
func requestReason(request string, code int, body []byte) string {
	return redact(requestReasonRaw(request, code, body))
}

func requestReasonRaw(request string, code int, body []byte) string {
	var eb struct {
		Error json.RawMessage `json:"error"`
	}
	msg := ""
	if json.Unmarshal(body, &eb) == nil && len(eb.Error) > 0 {
		var be bulkError
		if json.Unmarshal(eb.Error, &be) == nil && be.Type != "" {
			msg = be.String()
		} else {
			var s string
			_ = json.Unmarshal(eb.Error, &s)
			msg = s
		}
	}
	if msg == "" {
		msg = http.StatusText(code)
	}
	hint := ""
	switch code {
	case http.StatusForbidden:
		if strings.HasPrefix(request, "bulk") {
			hint = "; the credentials need the create_doc (or index) privilege on the target"
		}
	case http.StatusUnauthorized:
		hint = "; check api_key, username/password or service_token"
	case http.StatusRequestEntityTooLarge:
		hint = "; lower flush_bytes or raise http.max_content_length"
	}
	return fmt.Sprintf("%s answered %d: %s%s", request, code, msg, hint)
}

// itemResult judges one item of a bulk response.
func itemResult(op string, it bulkItem) sdk.Result {
	r := it.result()
	if r == nil {
		return sdk.Result{Status: sdk.Retry, Reason: "bulk response item has no action result"}
	}
	switch s := r.Status; {
	case s >= 200 && s < 300:
		return sdk.Result{Status: sdk.Delivered}
	case s == http.StatusConflict && op == OpCreate:
		// The document is there already: a replay after a lost answer.
		return sdk.Result{Status: sdk.Delivered, Reason: duplicateReason}
	case s == http.StatusTooManyRequests || s == http.StatusRequestTimeout || s >= 500 ||
		s < 200:
		return sdk.Result{Status: sdk.Retry,
			Reason: r.Error.String() + " (status " + strconv.Itoa(s) + ")"}
	default:
		return sdk.Result{Status: sdk.Rejected, Reason: r.Error.String()}
	}
}

// duplicateReason marks a Delivered result whose document already existed.
const duplicateReason = "already stored (409 on create)"

func fill(res []sdk.Result, idx []int, st sdk.Status, reason string) {
	for _, i := range idx {
		res[i] = sdk.Result{Status: st, Reason: reason}
	}
}

func allIndexes(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// ---------------------------------------------------------------------------

type bulkResponse struct {
	Errors bool       `json:"errors"`
	Items  []bulkItem `json:"items"`
}

type bulkItem struct {
	Create *itemStatus `json:"create"`
	Index  *itemStatus `json:"index"`
	Update *itemStatus `json:"update"`
	Delete *itemStatus `json:"delete"`
}

func (it bulkItem) result() *itemStatus {
	for _, r := range []*itemStatus{it.Create, it.Index, it.Update, it.Delete} {
		if r != nil {
			return r
		}
	}
	return nil
}

type itemStatus struct {
	Status int        `json:"status"`
	Error  *bulkError `json:"error"`
}

type bulkError struct {
	Type     string     `json:"type"`
	Reason   string     `json:"reason"`
	CausedBy *bulkError `json:"caused_by"`
}

// String is "<type>: <reason>", with the cause appended when there is one.
func (be *bulkError) String() string {
	if be == nil {
		return "no error detail in the response"
	}
	s := be.Type + ": " + be.Reason
	if c := be.CausedBy; c != nil && c.Type != "" {
		s += " (caused by " + c.Type + ": " + c.Reason + ")"
	}
	return s
}

// ---------------------------------------------------------------------------

// bulkBuilder writes action and source lines into one request body.
type bulkBuilder struct {
	op   string
	buf  []byte
	offs []int // where each item starts in buf
	idx  []int // the record index of each item
	src  []byte
}

// reset empties the builder after a request. The body is reused only when
// the client compressed it: the compressor has read it all before sending,
// whereas an uncompressed body may still be read by the HTTP transport
// after an early answer (net/http.RoundTripper allows that), so it gets a
// fresh buffer.
func (b *bulkBuilder) reset(reuse bool) {
	if reuse {
		b.buf = b.buf[:0]
	} else {
		b.buf = nil
	}
	b.offs, b.idx = b.offs[:0], b.idx[:0]
}

// prepare checks an item and returns the bytes it will add to the body,
// or why it can never be sent. A source that spans lines is compacted,
// since a raw newline would shift every later item of the request.
func (b *bulkBuilder) prepare(target, id string, data []byte) (int, string) {
	if target == "" {
		return 0, "no target: the record has no route to this output"
	}
	b.src = data
	if bytes.IndexByte(data, '\n') >= 0 {
		var c bytes.Buffer
		if err := json.Compact(&c, data); err != nil {
			return 0, "event is not valid JSON: " + err.Error()
		}
		b.src = c.Bytes()
	}
	if len(bytes.TrimSpace(b.src)) == 0 {
		return 0, "event is empty"
	}
	return len(target) + len(id) + len(b.src) + 40, ""
}

// add appends the item checked by the last prepare, for record i.
func (b *bulkBuilder) add(i int, target, id string) {
	b.offs = append(b.offs, len(b.buf))
	b.idx = append(b.idx, i)
	b.buf = append(b.buf, `{"`...)
	b.buf = append(b.buf, b.op...)
	b.buf = append(b.buf, `":{"_index":`...)
	b.buf = appendString(b.buf, target)
	if id != "" {
		b.buf = append(b.buf, `,"_id":`...)
		b.buf = appendString(b.buf, id)
	}
	b.buf = append(b.buf, "}}\n"...)
	b.buf = append(b.buf, b.src...)
	b.buf = append(b.buf, '\n')
}

// appendString appends s as a JSON string.
func appendString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			q, _ := json.Marshal(s)
			return append(dst, q...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
