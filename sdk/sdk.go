// Package sdk is the one package a plugin author imports. It defines what
// crosses between the mdrsflow host and a plugin (records and batches), the
// three plugin contracts (Input, Filter, Output), their optional lifecycle
// methods, and the registry built-in plugins add themselves to.
//
// Lifecycle of every plugin, in this order, each step at most once:
//
//  1. the constructor given to Register returns the plugin with its
//     defaults set;
//  2. the flow's settings are decoded into it (YAML, strict: an unknown
//     key is an error that names the file and line);
//  3. Validate checks the settings without touching files or the network;
//  4. Start opens files and connections;
//  5. the plugin works (Run, Apply or Write);
//  6. Close releases everything. Close is called even when Start failed
//     halfway, so it must cope with a partial start.
package sdk

import (
	"context"
	"errors"
	"log/slog"

	"github.com/mdrsflow/mdrsflow/runtime/event"
)

// Event is the decoded form of a record that filters work on.
type Event = event.Event

// Path is a parsed field reference; see event.Path for the syntax.
type Path = event.Path

// ParsePath parses a field reference such as `source.ip` or `"id.orig_h"`.
func ParsePath(s string) (Path, error) { return event.ParsePath(s) }

// Record is one event as it crosses a process boundary.
type Record struct {
	// Data is the event as one JSON object.
	Data []byte
	// Path is the Zeek log type when the input knows it ("conn"), else "".
	Path string
	// Source says where the record came from, for error messages and the
	// dead-letter queue, for example "conn.log:17".
	Source string
	// ID is the document id, set by the filter chain from the tenant and
	// the record as it arrived.
	ID string
	// Tenant is the tenant id, set by the tenant filter.
	Tenant string
	// Error says why the record failed. A failed record is delivered to
	// the failures target instead of its normal one.
	Error string
	// Quarantine says why the record's tenant could not be trusted. Such a
	// record goes to the quarantine target, never to a tenant's target.
	Quarantine string
	// Routes lists the outputs that take the record and the target each
	// writes it to. Set by the router at the end of the filter chain.
	Routes []Route
	// Meta carries the event's metadata (a JSON object) from one filter
	// stage to the next when a flow's filters span several processes.
	// Plugins pass it on untouched.
	Meta []byte
}

// Route sends a record to one output under one target (an index, data
// stream or file name).
type Route struct {
	Output int
	Target string
}

// Batch is the unit that crosses process boundaries. ID is assigned by the
// input and comes back to it in Ack.
type Batch struct {
	ID      uint64
	Records []Record
}

// Env is what the host gives a plugin at Start.
type Env struct {
	// Logger carries the flow, plugin and kind attributes already.
	Logger *slog.Logger
	// DataDir is where the plugin may keep state (positions, queues); it
	// is private to this plugin instance and exists.
	DataDir string
	// Flow is the flow's name, ID the plugin instance's id within it.
	Flow string
	ID   string
}

// Emit hands a batch to the flow. It blocks while the flow is full, which
// is how back-pressure reaches an input, and returns an error only when
// the flow is stopping; the input should then return.
type Emit func(ctx context.Context, b Batch) error

// Input reads events from outside.
type Input interface {
	// Run reads records and passes them to emit in batches, with batch
	// ids that increase. It returns nil when ctx is cancelled or, for an
	// input that reads a finite source, when everything has been read.
	Run(ctx context.Context, emit Emit) error
	// Ack reports that every record of batch id was delivered by every
	// output, or set aside for good (dead-letter queue, failures target).
	// Acks may come out of order and concurrently with Run; an input
	// advances its saved position only over a contiguous run of acked
	// batches, so a restart repeats at most the unacknowledged tail.
	Ack(id uint64)
}

// Filter is one processing step. Apply is called for each event, from one
// goroutine at a time for a given Filter value. An error fails the event:
// it is delivered to the failures target with the error as its reason,
// unless the flow says on_error: tag or ignore for this step. Return
// ErrDrop to drop the event on purpose (it is counted as dropped).
type Filter interface {
	Apply(ev *Event) error
}

// RawFilter is a Filter that also needs the record exactly as it arrived,
// before any step changed it (to keep it as event.original, say). The
// chain calls ApplyRaw instead of Apply; raw must not be modified or
// retained.
type RawFilter interface {
	Filter
	ApplyRaw(ev *Event, raw []byte) error
}

// Status is the outcome of writing one record.
type Status int

const (
	// Delivered: the destination has the record.
	Delivered Status = iota
	// Retry: a passing failure (429, 5xx, connection); try again later.
	Retry
	// Rejected: the destination will never take this record as it is
	// (mapping conflict, illegal argument); it goes to the dead-letter
	// queue with the reason.
	Rejected
)

func (s Status) String() string {
	switch s {
	case Delivered:
		return "delivered"
	case Retry:
		return "retry"
	case Rejected:
		return "rejected"
	}
	return "unknown"
}

// Result is the outcome of one record in Output.Write.
type Result struct {
	Status Status
	Reason string
}

// Output writes events out.
type Output interface {
	// Write delivers the records and returns one Result per record, in
	// the same order. It is called from one goroutine at a time. A
	// Write that cannot reach its destination at all returns Retry for
	// every record.
	Write(ctx context.Context, recs []Record) []Result
}

// Validator is implemented by plugins that check their settings. Validate
// must not touch files or the network.
type Validator interface {
	Validate() error
}

// Starter is implemented by plugins that open files or connections.
type Starter interface {
	Start(ctx context.Context, env Env) error
}

// Closer is implemented by plugins that hold resources. Close must be safe
// after a failed or partial Start.
type Closer interface {
	Close() error
}

// Sentinel errors shared by the engine and plugins.
var (
	// ErrDrop, returned by Filter.Apply, drops the event on purpose.
	ErrDrop = errors.New("event dropped")

	// ErrIncomplete, wrapped in the error an Input's Run returns when it
	// has finished, says that it skipped data it could not read (a file
	// it could not open, a corrupt compressed file). The flow still
	// delivers and acknowledges everything the input did read, then ends
	// with that error, so a backfill that lost data does not exit 0.
	ErrIncomplete = errors.New("some of the input's data could not be read")
)
