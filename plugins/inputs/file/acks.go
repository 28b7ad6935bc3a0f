package file

import (
	"os"
	"time"

	"github.com/mdrsflow/mdrsflow/runtime/zeeklog"
	"github.com/mdrsflow/mdrsflow/sdk"
)

// How positions advance
//
// Every batch carries, for each file it has records of, a mark: the
// file's read position after its last record in the batch. A file keeps
// its marks in emit order. Ack flags a batch's marks; a file's saved
// position then moves to the last mark of the acknowledged prefix of its
// list, so an early batch still out keeps later acknowledged ones from
// counting:
//
//	marks of conn.log:  [b3 acked] [b4 out] [b5 acked]   saved = after b3
//	Ack(4):             saved = after b5
//
// Lines that give no record (headers, blank lines) move the read position
// too; that move rides on the file's last mark still out, or is saved at
// once when nothing is out.

// fileState is one file being read, known by its identity key.
type fileState struct {
	key  string
	path string // where a glob last found it
	base string // its base name when opened, for record sources
	gz   bool
	fp   fingerprint

	// Run's side: only Run's goroutine touches these.
	f       *os.File
	zr      *zeeklog.Reader
	read    zeeklog.Position // just past the last line consumed
	eof     bool             // the last read found no more data
	grewAt  time.Time        // when data last came from it
	gone    bool             // no glob leads to this file any more
	inBatch bool             // has records in the batch being built

	// Guarded by File.mu.
	entry    *entry // saved state; nil when positions are off
	gen      int    // bumped when the file is truncated
	pending  []*mark
	finished bool             // read to its end for good
	final    zeeklog.Position // read position when finished
}

// mark is a file's read position after its last record in one batch.
type mark struct {
	st    *fileState
	gen   int
	pos   zeeklog.Position
	acked bool
}

// seal turns the records gathered so far into the next batch and records
// its marks. The caller emits the batch without holding mu.
func (f *File) seal() sdk.Batch {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	b := sdk.Batch{ID: f.nextID, Records: f.batch}
	var marks []*mark
	for _, st := range f.contrib {
		st.inBatch = false
		if st.entry == nil {
			continue
		}
		m := &mark{st: st, gen: st.gen, pos: st.read}
		st.pending = append(st.pending, m)
		marks = append(marks, m)
	}
	if marks != nil {
		f.batches[b.ID] = marks
	}
	f.batch, f.contrib = nil, nil
	return b
}

// Ack reports that batch id was delivered. It is safe to call from any
// goroutine, in any order, and for ids it does not know.
func (f *File) Ack(id uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	marks, ok := f.batches[id]
	if !ok {
		return
	}
	delete(f.batches, id)
	for _, m := range marks {
		m.acked = true
		f.advance(m.st)
	}
}

// settle saves a read position reached without new records in the batch
// being built: after header or blank lines, or at the end of a file.
func (f *File) settle(st *fileState) {
	if st.inBatch || st.entry == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if n := len(st.pending); n > 0 && st.pending[n-1].gen == st.gen {
		st.pending[n-1].pos = st.read
		return
	}
	f.commit(st, st.read)
	f.checkDone(st)
}

// finish records that st has been read to its end for good. Its entry is
// marked done once everything up to there is acknowledged.
func (f *File) finish(st *fileState) {
	f.mu.Lock()
	st.finished = true
	st.final = st.read
	f.mu.Unlock()
	f.settle(st)
}

// advance moves st's saved position over its acknowledged marks. Called
// with mu held.
func (f *File) advance(st *fileState) {
	for len(st.pending) > 0 && st.pending[0].acked {
		m := st.pending[0]
		st.pending[0] = nil
		st.pending = st.pending[1:]
		if m.gen == st.gen {
			f.commit(st, m.pos)
		}
	}
	f.checkDone(st)
}

// checkDone marks st's entry done once it was read to its end and all of
// it acknowledged. Called with mu held.
func (f *File) checkDone(st *fileState) {
	if st.entry == nil || !st.finished || len(st.pending) > 0 || st.entry.Done {
		return
	}
	if st.entry.Offset == st.final.Offset {
		st.entry.Done = true
		f.store.dirty = true
	}
}

// commit sets st's saved position. Called with mu held.
func (f *File) commit(st *fileState, p zeeklog.Position) {
	e := st.entry
	if e.Offset == p.Offset && e.Line == p.Line && e.Header == p.Header {
		return
	}
	e.setPosition(p)
	e.Done = false // checkDone sets it again once the end is reached
	if now := time.Now(); now.Sub(e.Seen) > seenGranularity {
		e.Seen = now
	}
	f.store.dirty = true
}

// restart forgets st's progress after it was truncated: batches still out
// no longer move its position, which starts again at zero.
func (f *File) restart(st *fileState, fp fingerprint) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st.gen++
	st.fp = fp
	st.finished = false
	if st.entry == nil {
		return
	}
	st.entry.Done = false
	setFingerprint(st.entry, fp)
	f.commit(st, zeeklog.Position{})
	f.store.dirty = true
}

// setFingerprint stores fp in e.
func setFingerprint(e *entry, fp fingerprint) {
	e.FingerprintBytes = len(fp.head)
	e.Fingerprint, _ = fp.sum(len(fp.head))
}
