// Package dlq is the dead-letter queue: the events an output refused for
// good (a mapping conflict, an illegal value), kept on disk with the reason
// until an operator has fixed the cause and replays them.
//
//	output says Rejected ─► Writer.Write ─► <data>/<flow>/dlq/dlq-<time>.ndjson
//	                                              │
//	  mdrsflow dlq list ◄── Summarize ◄───────────┤
//	  mdrsflow dlq replay ── Replay ──► the flow's outputs (same target, same id)
//	                          │ delivered: removed from the file
//	                          └ rejected again, or still failing: kept
//
// Each file holds one [Letter] per line, as JSON. A running flow appends
// to one file at a time and starts a new one when it restarts or the file
// reaches its share of the bound; other files never change except by
// Replay (which rewrites them) and by the bound (which deletes the oldest).
//
// The queue is bounded by size ([Options.MaxBytes], 1 GiB by default).
// When a write would pass the bound, whole files are deleted, oldest
// first, each with an Error log line and a counter: this is the one place
// where mdrsflow discards events, and only by that explicit bound. (The
// letters of one write are kept whole: a single write larger than the
// bound leaves the queue above it until the next write.)
//
// A running flow holds an advisory lock (flock) on the file it appends
// to; Replay and the bound skip a locked file, so `mdrsflow dlq replay`
// may run while the flow runs and replays what was written before.
package dlq
