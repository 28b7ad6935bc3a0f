package file

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/mdrsflow/mdrsflow/runtime/zeeklog"
)

const (
	positionsFile = "positions.json"

	// fingerprintBytes is how much of the start of a file identifies its
	// content: enough to reach past a TSV header into the first records,
	// so that two logs opened in the same second are told apart.
	fingerprintBytes = 4096

	// forgetAfter is how long the position of a file that no glob
	// matches any more is kept. It lets a rotated file that reappears
	// compressed (conn.log → conn.2024-04-19-10-00-00.log.gz) be
	// recognised and not read twice.
	//
	// Limitation: a file no glob matched for this long is read again in
	// full if it comes back (a glob changed back, a disk remounted); a
	// fix needs a setting for it.
	forgetAfter = 24 * time.Hour

	// seenGranularity limits how often a file's last-seen time is
	// updated, so that an idle flow does not rewrite positions.json.
	seenGranularity = time.Hour
)

// entry is the saved state of one file, keyed by its identity.
type entry struct {
	// Path is where the file was last seen, for the operator.
	Path string `json:"path"`
	// Fingerprint is the SHA-256 of the first FingerprintBytes bytes of
	// the file's content (decompressed for gzip).
	Fingerprint      string `json:"fingerprint"`
	FingerprintBytes int    `json:"fingerprint_bytes"`
	// Offset, Line and Header are the position up to which every record
	// was acknowledged; Offset counts decompressed bytes for gzip.
	Offset int64  `json:"offset"`
	Line   int64  `json:"line"`
	Header string `json:"header,omitempty"`
	// Done says the file was read to its end and all of it acknowledged.
	Done bool `json:"done,omitempty"`
	// Gzip says the file is gzip-compressed.
	Gzip bool `json:"gzip,omitempty"`
	// Seen is when a glob last matched the file.
	Seen time.Time `json:"seen"`
}

func (e *entry) position() zeeklog.Position {
	return zeeklog.Position{Offset: e.Offset, Line: e.Line, Header: e.Header}
}

func (e *entry) setPosition(p zeeklog.Position) {
	e.Offset, e.Line, e.Header = p.Offset, p.Line, p.Header
}

// store is the positions file and its entries. Its fields are guarded by
// File.mu, except path.
type store struct {
	path    string
	entries map[string]*entry
	dirty   bool
}

// savedPositions is the layout of positions.json.
type savedPositions struct {
	Version int               `json:"version"`
	Files   map[string]*entry `json:"files"`
}

func openStore(path string) (*store, error) {
	s := &store{path: path, entries: map[string]*entry{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read positions %s: %w", path, err)
	}
	var saved savedPositions
	if err := json.Unmarshal(data, &saved); err != nil {
		return nil, fmt.Errorf("positions file %s is damaged (%w); move it aside to "+
			"start over (files are then read again from start_at) or restore a backup",
			path, err)
	}
	if saved.Version != 1 {
		return nil, fmt.Errorf("positions file %s has version %d, which this mdrsflow "+
			"does not know; it was written by a newer release", path, saved.Version)
	}
	for k, e := range saved.Files {
		if e != nil {
			s.entries[k] = e
		}
	}
	return s, nil
}

// snapshot returns the positions file's content if it changed since the
// last snapshot, dropping entries of files unseen for forgetAfter.
func (s *store) snapshot() ([]byte, bool) {
	if !s.dirty {
		return nil, false
	}
	s.dirty = false
	cutoff := time.Now().Add(-forgetAfter)
	for k, e := range s.entries {
		if e.Seen.Before(cutoff) {
			delete(s.entries, k)
		}
	}
	data, err := json.MarshalIndent(savedPositions{Version: 1, Files: s.entries}, "", "  ")
	if err != nil {
		panic(err) // plain structs of strings and numbers always marshal
	}
	return append(data, '\n'), true
}

// write replaces the positions file atomically: a reader (or a crash)
// sees the old content or the new, never a mix.
func (s *store) write(data []byte) error {
	dir := filepath.Dir(s.path)
	tmp, err := os.CreateTemp(dir, ".positions-*.tmp")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), s.path)
	}
	if err != nil {
		return errors.Join(err, os.Remove(tmp.Name()))
	}
	// Make the rename itself durable.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // not supported everywhere; the rename is done either way
		_ = d.Close()
	}
	return nil
}

// fingerprint identifies a file's content by its first bytes.
type fingerprint struct {
	head []byte // the first min(size, fingerprintBytes) bytes
}

// sum returns the hex SHA-256 of the first n bytes, and whether the file
// has that many.
func (fp fingerprint) sum(n int) (string, bool) {
	if n > len(fp.head) {
		return "", false
	}
	h := sha256.Sum256(fp.head[:n])
	return hex.EncodeToString(h[:]), true
}

// matches reports whether the file starts with the bytes e was taken
// from.
func (fp fingerprint) matches(e *entry) bool {
	s, ok := fp.sum(e.FingerprintBytes)
	return ok && s == e.Fingerprint
}

// full reports whether the fingerprint is long enough to recognise the
// file's content under another identity (a compressed or copied file):
// it spans fingerprintBytes and holds at least one complete record line.
//
// Limitation: a compressed or copied file smaller than that is read again
// in full — duplicates, which the Elasticsearch output's document ids
// absorb; shorter fingerprints would risk taking two logs that start
// alike for one and skipping data.
func (fp fingerprint) full() bool {
	if len(fp.head) < fingerprintBytes {
		return false
	}
	for line := range bytes.Lines(fp.head) {
		if line[len(line)-1] == '\n' && line[0] != '#' && len(bytes.TrimSpace(line)) > 0 {
			return true
		}
	}
	return false
}

// readFingerprint reads the start of a file's content, decompressed when
// gz is true. It does not move f's offset.
func readFingerprint(f *os.File, gz bool) (fingerprint, error) {
	var r io.Reader = io.NewSectionReader(f, 0, 1<<62)
	if gz {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return fingerprint{}, fmt.Errorf("gzip header: %w", err)
		}
		r = zr
	}
	head := make([]byte, fingerprintBytes)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return fingerprint{}, err
	}
	return fingerprint{head: head[:n]}, nil
}

// isGzip reports whether f starts with the gzip magic bytes.
func isGzip(f *os.File) bool {
	var magic [2]byte
	n, _ := f.ReadAt(magic[:], 0)
	return n == 2 && magic[0] == 0x1f && magic[1] == 0x8b
}
