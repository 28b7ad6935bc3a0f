package elasticsearch

// This file holds the output's counters and its recurring log lines, so an
// operator can see in one place what the output reports and how often.
//
// Lifecycle lines (Info "connected", Warn at start when the cluster is
// unreachable or TLS verification is off) are in elasticsearch.go. While
// running, the output logs:
//
//   - Error "cluster unreachable; events wait in the queue" and Info
//     "cluster reachable again", once per change and cluster;
//   - Error "events rejected; they go to the dead-letter queue" and Warn
//     "events will be retried", at most once per 30 s each, with the count
//     since the last line and the last reason;
//   - Error "events quarantined: their tenant has no cluster", at most
//     once per 30 s, with the count and the tenants;
//   - Info "tenant map reloaded", and Error "tenant map not reloaded; the
//     previous one stays in force" once per distinct problem;
//   - Info "index templates installed", once per cluster and start, and
//     Warn "index templates not installed; events wait" once per failure.

import (
	"strings"
	"sync/atomic"
	"time"

	"github.com/mdrsflow/mdrsflow/sdk"
)

// Stats are the output's counters since Start.
type Stats struct {
	// Requests is the number of bulk requests sent; RequestFailures those
	// that failed as a whole (no answer, or an error status).
	Requests, RequestFailures uint64
	// Delivered counts records the cluster has, Duplicates the part of
	// them it had already (409 on create).
	Delivered, Duplicates uint64
	// Retried and Rejected count records reported as Retry and Rejected.
	Retried, Rejected uint64
	// Quarantined counts records the output wrote to quarantine_target
	// because the tenant map gives their tenant no cluster (each time it
	// wrote them, retries included).
	Quarantined uint64
}

type counters struct {
	requests, requestFailures atomic.Uint64
	delivered, duplicates     atomic.Uint64
	retried, rejected         atomic.Uint64
	quarantined               atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Requests: c.requests.Load(), RequestFailures: c.requestFailures.Load(),
		Delivered: c.delivered.Load(), Duplicates: c.duplicates.Load(),
		Retried: c.retried.Load(), Rejected: c.rejected.Load(),
		Quarantined: c.quarantined.Load(),
	}
}

// countResults moves the counters for one Write and writes the
// rate-limited lines.
func (e *Elasticsearch) countResults(res []sdk.Result) {
	var delivered, dups, retried, rejected uint64
	var lastRetry, lastReject string
	for _, r := range res {
		switch r.Status {
		case sdk.Delivered:
			delivered++
			if r.Reason == duplicateReason {
				dups++
			}
		case sdk.Retry:
			retried++
			lastRetry = r.Reason
		case sdk.Rejected:
			rejected++
			lastReject = r.Reason
		}
	}
	e.stats.delivered.Add(delivered)
	e.stats.duplicates.Add(dups)
	e.stats.retried.Add(retried)
	e.stats.rejected.Add(rejected)

	now := time.Now()
	if n, ok := e.rej.note(now, rejected); ok {
		e.log.Error("events rejected; they go to the dead-letter queue",
			"count", n, "reason", lastReject)
	}
	if n, ok := e.retry.note(now, retried); ok {
		e.log.Warn("events will be retried", "count", n, "reason", lastRetry)
	}
}

// countQuarantined moves the counter for the records one Write set
// aside, by tenant, and writes the rate-limited line.
func (e *Elasticsearch) countQuarantined(byTenant map[string]uint64, reason string) {
	var n uint64
	for _, k := range byTenant {
		n += k
	}
	e.stats.quarantined.Add(n)
	if total, ok := e.quar.note(time.Now(), n); ok {
		e.log.Error("events quarantined: their tenant has no cluster; add it to the tenant map",
			"count", total, "tenants", strings.Join(sortedTenants(byTenant), ","),
			"target", e.QuarantineTarget, "reason", reason)
	}
}

// rateLine lets a recurring log line through at most once per period and
// counts what happened in between. It is used from Write only, which is
// never concurrent.
type rateLine struct {
	every time.Duration
	last  time.Time
	n     uint64
}

// note adds n occurrences and reports whether to log now, with the count
// since the last line.
func (r *rateLine) note(now time.Time, n uint64) (uint64, bool) {
	r.n += n
	if r.n == 0 || now.Sub(r.last) < r.every {
		return 0, false
	}
	n, r.n, r.last = r.n, 0, now
	return n, true
}
