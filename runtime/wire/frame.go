package wire

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
	"sync"

	"github.com/mdrsflow/mdrsflow/sdk"
)

// A batch frame carries all the records of a batch in the frame field of
// one pb.Batch, instead of one protobuf message per record: decoding a
// message per record cost a struct, a byte slice and a string for every
// field of every record. A frame decodes with a fixed handful of
// allocations per batch, whatever the number of records.
//
// Layout (uvarint is encoding/binary's unsigned varint, varint its
// zig-zag signed one):
//
//	version        1 byte, frameVersion
//	records        uvarint, the number of records
//	routes         uvarint, the number of routes of all records together
//	strings length uvarint, the length of the string region
//	bytes length   uvarint, the length of the byte region
//	record table   for each record, as uvarints:
//	                 len(Data) len(Path) len(Source) len(ID) len(Tenant)
//	                 len(Error) len(Quarantine) len(Meta) len(Routes)
//	               then for each of its routes:
//	                 Output (varint) len(Target) (uvarint)
//	string region  for each record, concatenated: Path Source ID Tenant
//	               Error Quarantine, then the Target of each route
//	byte region    for each record, concatenated: Data Meta
//
// The two regions end the frame, so the record table ends where they
// begin and its length need not be written. The decoder turns the whole
// string region into one string and gives each field a substring of it,
// and gives each Data and Meta a sub-slice of the byte region (capacity
// clipped, so that appending to one never writes over the next). All
// records share one []sdk.Route backing array the same way. A decoded
// batch therefore keeps its whole frame alive while any record of it is
// referenced.
//
// Empty Data, Meta and Routes decode as nil, as an empty protobuf field
// did before frames.

// frameVersion is the first byte of every frame. A frame of another
// version is refused.
const frameVersion = 1

// minRecordBytes is the smallest a record can take in the record table:
// nine one-byte lengths. minRouteBytes is the same for a route.
const (
	minRecordBytes = 9
	minRouteBytes  = 2
)

// uvarintLen is the encoded size of v as a uvarint.
func uvarintLen(v uint64) int {
	return (bits.Len64(v|1) + 6) / 7
}

// zigzag maps a signed integer to the unsigned one encoding/binary's
// AppendVarint writes.
func zigzag(v int) uint64 {
	x := uint64(v) << 1
	if v < 0 {
		x = ^x
	}
	return x
}

// appendFrame appends the frame of recs to dst. It computes the exact size
// first and grows dst at most once.
// Frames the host sends are built in pooled buffers: gRPC has copied a
// request into its own buffers by the time the call returns, so the
// frame can serve the next batch. A relaying host otherwise allocated two
// frames a batch, and collecting them was a large part of its CPU.
var framePool = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledFrame keeps an unusually large batch's buffer from staying
// around after it.
const maxPooledFrame = 16 << 20

func getFrame() *[]byte { return framePool.Get().(*[]byte) }

func putFrame(b *[]byte) {
	if cap(*b) <= maxPooledFrame {
		framePool.Put(b)
	}
}

func appendFrame(dst []byte, recs []sdk.Record) []byte {
	var table, strs, bins, routes int
	for i := range recs {
		r := &recs[i]
		table += uvarintLen(uint64(len(r.Data))) + uvarintLen(uint64(len(r.Path))) +
			uvarintLen(uint64(len(r.Source))) + uvarintLen(uint64(len(r.ID))) +
			uvarintLen(uint64(len(r.Tenant))) + uvarintLen(uint64(len(r.Error))) +
			uvarintLen(uint64(len(r.Quarantine))) + uvarintLen(uint64(len(r.Meta))) +
			uvarintLen(uint64(len(r.Routes)))
		strs += len(r.Path) + len(r.Source) + len(r.ID) + len(r.Tenant) + len(r.Error) + len(r.Quarantine)
		bins += len(r.Data) + len(r.Meta)
		for _, rt := range r.Routes {
			table += uvarintLen(zigzag(rt.Output)) + uvarintLen(uint64(len(rt.Target)))
			strs += len(rt.Target)
		}
		routes += len(r.Routes)
	}
	head := 1 + uvarintLen(uint64(len(recs))) + uvarintLen(uint64(routes)) +
		uvarintLen(uint64(strs)) + uvarintLen(uint64(bins))
	size := head + table + strs + bins

	start := len(dst)
	dst = slices.Grow(dst, size)
	out := dst[:start+size]
	// h appends the preamble and the record table in place: out has the
	// room, so none of these appends allocates.
	h := out[start:start]
	h = append(h, frameVersion)
	h = binary.AppendUvarint(h, uint64(len(recs)))
	h = binary.AppendUvarint(h, uint64(routes))
	h = binary.AppendUvarint(h, uint64(strs))
	h = binary.AppendUvarint(h, uint64(bins))
	sp := start + head + table // next byte of the string region
	bp := sp + strs            // next byte of the byte region
	for i := range recs {
		r := &recs[i]
		h = binary.AppendUvarint(h, uint64(len(r.Data)))
		h = binary.AppendUvarint(h, uint64(len(r.Path)))
		h = binary.AppendUvarint(h, uint64(len(r.Source)))
		h = binary.AppendUvarint(h, uint64(len(r.ID)))
		h = binary.AppendUvarint(h, uint64(len(r.Tenant)))
		h = binary.AppendUvarint(h, uint64(len(r.Error)))
		h = binary.AppendUvarint(h, uint64(len(r.Quarantine)))
		h = binary.AppendUvarint(h, uint64(len(r.Meta)))
		h = binary.AppendUvarint(h, uint64(len(r.Routes)))
		sp += copy(out[sp:], r.Path)
		sp += copy(out[sp:], r.Source)
		sp += copy(out[sp:], r.ID)
		sp += copy(out[sp:], r.Tenant)
		sp += copy(out[sp:], r.Error)
		sp += copy(out[sp:], r.Quarantine)
		for _, rt := range r.Routes {
			h = binary.AppendVarint(h, int64(rt.Output))
			h = binary.AppendUvarint(h, uint64(len(rt.Target)))
			sp += copy(out[sp:], rt.Target)
		}
		bp += copy(out[bp:], r.Data)
		bp += copy(out[bp:], r.Meta)
	}
	if len(h) != head+table || bp != len(out) {
		panic("wire: batch frame size miscomputed") // a bug here, not bad input
	}
	return out
}

// frameError is the error of a frame that cannot be decoded.
func frameError(format string, args ...any) error {
	return fmt.Errorf("batch frame: "+format, args...)
}

// recordError is the error of a frame whose record i cannot be decoded.
func recordError(i int, format string, args ...any) error {
	return fmt.Errorf("batch frame: record %d: "+format, append([]any{i}, args...)...)
}

// frameReader reads uvarints from a frame.
type frameReader struct {
	b   []byte
	pos int
}

// uvarint reads one uvarint; ok is false when b ends inside it or it does
// not fit 64 bits.
func (r *frameReader) uvarint() (v uint64, ok bool) {
	v, n := binary.Uvarint(r.b[r.pos:])
	if n <= 0 {
		return 0, false
	}
	r.pos += n
	return v, true
}

// recordFields names the uvarints at the start of a record's entry in
// the record table, in their order.
var recordFields = [...]string{"data length", "path length", "source length", "id length",
	"tenant length", "error length", "quarantine length", "meta length", "route count"}

// Indexes in recordFields.
const (
	fData = iota
	fPath
	fSource
	fID
	fTenant
	fError
	fQuarantine
	fMeta
	fRoutes
)

// decodeFrame decodes a frame written by appendFrame. The frame comes from
// another process: a malformed one is an error, never a panic, and nothing
// is allocated before its size has been checked against the frame. Data
// and Meta of the records are sub-slices of frame, which must not be
// changed afterwards.
func decodeFrame(frame []byte) ([]sdk.Record, error) {
	if len(frame) == 0 {
		return nil, frameError("empty")
	}
	if frame[0] != frameVersion {
		return nil, frameError("version %d, this program reads version %d", frame[0], frameVersion)
	}
	pre := frameReader{b: frame, pos: 1}
	var head [4]uint64 // records, routes, strings length, bytes length
	for k, what := range [...]string{"record count", "route count", "string region length", "byte region length"} {
		v, ok := pre.uvarint()
		if !ok {
			return nil, frameError("%s is cut off or malformed", what)
		}
		head[k] = v
	}
	nrec, nroutes, nstr, nbin := head[0], head[1], head[2], head[3]
	left := uint64(len(frame) - pre.pos)
	if nbin > left {
		return nil, frameError("byte region length %d runs past the end of the frame (%d bytes left)", nbin, left)
	}
	left -= nbin
	if nstr > left {
		return nil, frameError("string region length %d runs past the end of the frame (%d bytes left)", nstr, left)
	}
	left -= nstr
	// left is now the size of the record table: it bounds the counts
	// before anything is allocated for them.
	if nrec > left/minRecordBytes {
		return nil, frameError("record count %d is more than a %d-byte record table can hold", nrec, left)
	}
	if nroutes > (left-nrec*minRecordBytes)/minRouteBytes {
		return nil, frameError("route count %d is more than a %d-byte record table can hold besides %d records",
			nroutes, left, nrec)
	}

	strStart := pre.pos + int(left)
	binStart := strStart + int(nstr)
	tab := frame[pre.pos:strStart]
	strs := string(frame[strStart:binStart]) // the one copy of every string
	bin := frame[binStart:]
	tp, sp, bp, rp := 0, 0, 0, 0 // next table byte, string byte, data byte, route

	recs := make([]sdk.Record, nrec)
	var routes []sdk.Route
	if nroutes > 0 {
		routes = make([]sdk.Route, nroutes)
	}
	for i := range recs {
		// The record's nine uvarints, most of them one byte long.
		var f [len(recordFields)]uint64
		for k := range f {
			if tp < len(tab) && tab[tp] < 0x80 {
				f[k] = uint64(tab[tp])
				tp++
				continue
			}
			v, n := binary.Uvarint(tab[tp:])
			if n <= 0 {
				return nil, recordError(i, "%s is cut off or malformed at byte %d of the record table", recordFields[k], tp)
			}
			f[k] = v
			tp += n
		}
		// Check them all before slicing anything.
		bleft := uint64(len(bin) - bp)
		for _, k := range [...]int{fData, fMeta} {
			if f[k] > bleft {
				return nil, recordError(i, "%s %d runs past the end of the byte region (%d bytes left)", recordFields[k], f[k], bleft)
			}
			bleft -= f[k]
		}
		sleft := uint64(len(strs) - sp)
		for k := fPath; k <= fQuarantine; k++ {
			if f[k] > sleft {
				return nil, recordError(i, "%s %d runs past the end of the string region (%d bytes left)", recordFields[k], f[k], sleft)
			}
			sleft -= f[k]
		}
		if f[fRoutes] > uint64(len(routes)-rp) {
			return nil, recordError(i, "%d routes, but the frame has only %d routes left", f[fRoutes], len(routes)-rp)
		}

		r := &recs[i]
		str := func(k int) string {
			s := strs[sp : sp+int(f[k])]
			sp += int(f[k])
			return s
		}
		r.Path = str(fPath)
		r.Source = str(fSource)
		r.ID = str(fID)
		r.Tenant = str(fTenant)
		r.Error = str(fError)
		r.Quarantine = str(fQuarantine)
		if n := int(f[fData]); n > 0 {
			r.Data = bin[bp : bp+n : bp+n]
			bp += n
		}
		if n := int(f[fMeta]); n > 0 {
			r.Meta = bin[bp : bp+n : bp+n]
			bp += n
		}
		if f[fRoutes] == 0 {
			continue
		}
		end := rp + int(f[fRoutes])
		rd := frameReader{b: tab, pos: tp}
		for j := rp; j < end; j++ {
			v, ok := rd.uvarint()
			if !ok {
				return nil, recordError(i, "route %d output is cut off or malformed at byte %d of the record table", j-rp, rd.pos)
			}
			out := int64(v >> 1)
			if v&1 != 0 {
				out = ^out
			}
			if int64(int(out)) != out {
				return nil, recordError(i, "route %d output %d is out of range", j-rp, out)
			}
			n, ok := rd.uvarint()
			if !ok {
				return nil, recordError(i, "route %d target length is cut off or malformed at byte %d of the record table", j-rp, rd.pos)
			}
			if n > uint64(len(strs)-sp) {
				return nil, recordError(i, "route %d target length %d runs past the end of the string region (%d bytes left)",
					j-rp, n, len(strs)-sp)
			}
			routes[j] = sdk.Route{Output: int(out), Target: strs[sp : sp+int(n)]}
			sp += int(n)
		}
		tp = rd.pos
		r.Routes = routes[rp:end:end]
		rp = end
	}
	switch {
	case tp != len(tab):
		return nil, frameError("%d bytes left over in the record table after %d records", len(tab)-tp, nrec)
	case rp != len(routes):
		return nil, frameError("%d routes declared, %d found in the records", len(routes), rp)
	case sp != len(strs):
		return nil, frameError("%d bytes of the string region are not used by any record", len(strs)-sp)
	case bp != len(bin):
		return nil, frameError("%d bytes of the byte region are not used by any record", len(bin)-bp)
	}
	return recs, nil
}
