// Package file is the "file" input: it reads Zeek logs (JSON or TSV, plain
// or gzipped) from files matched by globs, either once to their end or by
// following them as Zeek writes and rotates them. Read positions advance
// only over acknowledged batches and survive restarts.
//
// The pieces, by file:
//
//	file.go       settings, registration, lifecycle, Run
//	scan.go       finding files, opening them where reading should resume
//	read.go       reading records into batches, emitting, read_once and follow
//	acks.go       pending batches per file, Ack, advancing positions
//	positions.go  the positions file: identity, fingerprint, atomic save
//	events.go     counters and every log line
//	identity_*.go a file's identity: device and inode on Unix
package file
