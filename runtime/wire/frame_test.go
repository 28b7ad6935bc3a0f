package wire

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mdrsflow/mdrsflow/runtime/wire/pb"
	"github.com/mdrsflow/mdrsflow/sdk"
)

// fullRecord has every field set.
func fullRecord(i int) sdk.Record {
	return sdk.Record{
		Data:       []byte(fmt.Sprintf(`{"n":%d,"msg":"hello"}`, i)),
		Path:       "conn",
		Source:     fmt.Sprintf("conn.log:%d", i+1),
		ID:         "q3Jx0b9Zk1mW8sTfYcAe2g",
		Tenant:     "acme",
		Error:      "cannot parse ts",
		Quarantine: "tenant unknown",
		Routes: []sdk.Route{
			{Output: 0, Target: "logs-zeek.conn-acme"},
			{Output: 3, Target: "failures"},
		},
		Meta: []byte(`{"tenant":"acme","digest":"abc"}`),
	}
}

// frameCases are the batches every round-trip test goes through.
func frameCases() map[string][]sdk.Record {
	many := make([]sdk.Record, 5000)
	for i := range many {
		switch i % 3 {
		case 0:
			many[i] = fullRecord(i)
		case 1:
			many[i] = sdk.Record{Data: []byte(strings.Repeat("x", i)), Path: "dns"}
		default:
			many[i] = sdk.Record{Source: "s", Routes: []sdk.Route{{Output: i, Target: strings.Repeat("t", i%200)}}}
		}
	}
	return map[string][]sdk.Record{
		"no records":        {},
		"one empty record":  {{}},
		"empty records":     {{}, {}, {}},
		"every field set":   {fullRecord(0), fullRecord(1)},
		"empty between set": {fullRecord(0), {}, fullRecord(2), {}},
		"empty non-nil": {{Data: []byte{}, Meta: []byte{}, Routes: []sdk.Route{}},
			{Data: []byte("x"), Routes: []sdk.Route{}}},
		"unicode": {{
			Data:       []byte(`{"msg":"日本語 ✓ 🚀 Ωmega"}`),
			Path:       "ünïcödé",
			Source:     "файл.log:1",
			ID:         "🚀",
			Tenant:     "テナント",
			Error:      "ошибка: \u0000 nul inside",
			Quarantine: "\xff\xfe not UTF-8",
			Routes:     []sdk.Route{{Output: 1, Target: "índice-ß"}},
			Meta:       []byte("\x00\xff"),
		}},
		"routes": {
			{Routes: []sdk.Route{{Output: 0, Target: ""}}},
			{Routes: []sdk.Route{{Output: -1, Target: "neg"}, {Output: 1 << 40, Target: "big"}, {Output: -(1 << 62), Target: ""}}},
			{},
			{Routes: []sdk.Route{{Output: 7, Target: "seven"}}},
		},
		"big fields": {{
			Data:   bytes.Repeat([]byte("d"), 1<<20+3),
			Source: strings.Repeat("s", 70000),
			Meta:   bytes.Repeat([]byte("m"), 300),
		}},
		"many records": many,
	}
}

// normalized is recs as they come back: empty Data, Meta and Routes are
// nil.
func normalized(recs []sdk.Record) []sdk.Record {
	out := make([]sdk.Record, len(recs))
	for i, r := range recs {
		if len(r.Data) == 0 {
			r.Data = nil
		}
		if len(r.Meta) == 0 {
			r.Meta = nil
		}
		if len(r.Routes) == 0 {
			r.Routes = nil
		}
		out[i] = r
	}
	return out
}

func TestFrameRoundTrip(t *testing.T) {
	for name, recs := range frameCases() {
		t.Run(name, func(t *testing.T) {
			frame := appendFrame(nil, recs)
			got, err := decodeFrame(frame)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil {
				t.Error("decoded records are nil, want a non-nil slice")
			}
			if want := normalized(recs); !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip differs:\n got %.300v\nwant %.300v", got, want)
			}
			for i, r := range got {
				if cap(r.Data) != len(r.Data) || cap(r.Meta) != len(r.Meta) || cap(r.Routes) != len(r.Routes) {
					t.Fatalf("record %d: capacity not clipped: data %d/%d meta %d/%d routes %d/%d", i,
						len(r.Data), cap(r.Data), len(r.Meta), cap(r.Meta), len(r.Routes), cap(r.Routes))
				}
			}

			// Through the message and protobuf, as gRPC carries it.
			msg, err := proto.Marshal(ToPB(sdk.Batch{ID: 99, Records: recs}, 5))
			if err != nil {
				t.Fatal(err)
			}
			var m pb.Batch
			if err := proto.Unmarshal(msg, &m); err != nil {
				t.Fatal(err)
			}
			if len(m.Records) != 0 {
				t.Errorf("ToPB set %d records as messages, want none", len(m.Records))
			}
			b, dropped, err := FromPB(&m)
			if err != nil {
				t.Fatal(err)
			}
			if b.ID != 99 || dropped != 5 {
				t.Errorf("id %d dropped %d, want 99 and 5", b.ID, dropped)
			}
			if !reflect.DeepEqual(b.Records, normalized(recs)) {
				t.Fatal("FromPB(ToPB(batch)) differs from the batch")
			}
		})
	}
}

func TestFrameAppendsToDst(t *testing.T) {
	recs := []sdk.Record{fullRecord(0)}
	prefix := []byte("prefix")
	out := appendFrame(append([]byte(nil), prefix...), recs)
	if !bytes.HasPrefix(out, prefix) {
		t.Fatal("appendFrame lost what dst held")
	}
	if !bytes.Equal(out[len(prefix):], appendFrame(nil, recs)) {
		t.Fatal("frame appended to dst differs from a frame of its own")
	}
}

// Appending to a decoded record's slices must not write over its
// neighbour's, as the chain does with Meta.
func TestFrameAppendDoesNotClobber(t *testing.T) {
	got, err := decodeFrame(appendFrame(nil, []sdk.Record{fullRecord(0), fullRecord(1)}))
	if err != nil {
		t.Fatal(err)
	}
	want := normalized([]sdk.Record{fullRecord(0), fullRecord(1)})
	_ = append(got[0].Data, "XXXXXXXX"...)
	_ = append(got[0].Meta, "XXXXXXXX"...)
	_ = append(got[0].Routes, sdk.Route{Output: 9, Target: "x"})
	got[0].Meta = append(got[0].Meta[:0], "{}"...) // overwrites only its own bytes
	if !reflect.DeepEqual(got[1], want[1]) {
		t.Fatalf("record 1 changed by appends to record 0: %+v", got[1])
	}
	if string(got[0].Data) != string(want[0].Data) {
		t.Fatalf("record 0 data changed by an append to its meta: %q", got[0].Data)
	}
}

// The decoded batch shares no memory with the batch that was encoded:
// changing the source afterwards changes nothing on the other side, even
// without protobuf in between.
func TestFrameDoesNotShareWithSource(t *testing.T) {
	src := []sdk.Record{fullRecord(0), fullRecord(1)}
	want := normalized([]sdk.Record{fullRecord(0), fullRecord(1)})
	m := ToPB(sdk.Batch{ID: 1, Records: src}, 0)
	b, _, err := FromPB(m)
	if err != nil {
		t.Fatal(err)
	}
	for i := range src {
		for j := range src[i].Data {
			src[i].Data[j] = '#'
		}
		for j := range src[i].Meta {
			src[i].Meta[j] = '#'
		}
		src[i].Routes[0] = sdk.Route{Output: 42, Target: "changed"}
		src[i].Path = "changed"
	}
	if !reflect.DeepEqual(b.Records, want) {
		t.Fatalf("decoded batch changed with its source:\n got %+v\nwant %+v", b.Records, want)
	}
}

// raceEnabled is set when the race detector is on (see race_test.go).
var raceEnabled bool

// decodeFrame allocates per batch, not per record or per field.
func TestFrameDecodeAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	recs := make([]sdk.Record, 1000)
	for i := range recs {
		recs[i] = fullRecord(i)
	}
	frame := appendFrame(nil, recs)
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := decodeFrame(frame); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 3 { // records, routes, strings
		t.Errorf("decodeFrame of %d records: %v allocations, want at most 3", len(recs), allocs)
	}
	allocs = testing.AllocsPerRun(20, func() { appendFrame(nil, recs) })
	if allocs > 1 {
		t.Errorf("appendFrame of %d records: %v allocations, want 1", len(recs), allocs)
	}
}

// oldPB builds a batch as a plugin built before frames sends it.
func oldPB(id uint64, recs []sdk.Record, dropped int) *pb.Batch {
	out := &pb.Batch{Id: id, Dropped: uint32(dropped)}
	for _, r := range recs {
		p := &pb.Record{Data: r.Data, Path: r.Path, Source: r.Source, Id: r.ID, Tenant: r.Tenant,
			Error: r.Error, Quarantine: r.Quarantine, Meta: r.Meta}
		for _, rt := range r.Routes {
			p.Routes = append(p.Routes, &pb.Route{Output: uint32(rt.Output), Target: rt.Target})
		}
		out.Records = append(out.Records, p)
	}
	return out
}

func TestFromPBRecordsAsMessages(t *testing.T) {
	recs := []sdk.Record{fullRecord(0), {}, {Data: []byte("x"), Routes: []sdk.Route{{Output: 2, Target: "t"}}}}
	msg, err := proto.Marshal(oldPB(7, recs, 3))
	if err != nil {
		t.Fatal(err)
	}
	var m pb.Batch
	if err := proto.Unmarshal(msg, &m); err != nil {
		t.Fatal(err)
	}
	b, dropped, err := FromPB(&m)
	if err != nil {
		t.Fatal(err)
	}
	if b.ID != 7 || dropped != 3 {
		t.Errorf("id %d dropped %d, want 7 and 3", b.ID, dropped)
	}
	if !reflect.DeepEqual(b.Records, normalized(recs)) {
		t.Fatalf("old-format batch decoded as\n %+v\nwant %+v", b.Records, normalized(recs))
	}

	// An empty old-format batch.
	b, _, err = FromPB(&pb.Batch{Id: 8})
	if err != nil || b.ID != 8 || len(b.Records) != 0 {
		t.Fatalf("empty batch: %+v, %v", b, err)
	}
}

func TestFromPBBadFrame(t *testing.T) {
	m := ToPB(sdk.Batch{ID: 12, Records: []sdk.Record{fullRecord(0)}}, 0)
	m.Frame = m.Frame[:len(m.Frame)-1]
	if _, _, err := FromPB(m); err == nil || !strings.Contains(err.Error(), "batch 12: batch frame:") {
		t.Fatalf("truncated frame: err %v, want one naming the batch and the frame", err)
	}

	both := ToPB(sdk.Batch{ID: 13, Records: []sdk.Record{fullRecord(0)}}, 0)
	both.Records = oldPB(13, []sdk.Record{fullRecord(0)}, 0).Records
	if _, _, err := FromPB(both); err == nil {
		t.Fatal("a batch with both a frame and records as messages was accepted")
	}
}

// uv appends uvarints.
func uv(dst []byte, vs ...uint64) []byte {
	for _, v := range vs {
		dst = binary.AppendUvarint(dst, v)
	}
	return dst
}

func TestDecodeFrameTruncated(t *testing.T) {
	for name, recs := range frameCases() {
		if len(recs) > 100 || name == "big fields" {
			continue // every offset of a big frame takes too long
		}
		frame := appendFrame(nil, recs)
		for n := range len(frame) {
			if _, err := decodeFrame(frame[:n]); err == nil {
				t.Errorf("%s: frame cut to %d of %d bytes decoded without an error", name, n, len(frame))
			}
		}
		// One byte too many.
		if _, err := decodeFrame(append(frame[:len(frame):len(frame)], 0)); err == nil {
			t.Errorf("%s: frame with a byte added decoded without an error", name)
		}
	}
	// The big frames, cut at every offset in the preamble and the table
	// and at a few in the regions.
	for _, name := range []string{"many records", "big fields"} {
		frame := appendFrame(nil, frameCases()[name])
		for _, n := range []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 20, 100, 1000, len(frame) / 2, len(frame) - 2, len(frame) - 1} {
			if _, err := decodeFrame(frame[:n]); err == nil {
				t.Errorf("%s: frame cut to %d of %d bytes decoded without an error", name, n, len(frame))
			}
		}
	}
}

func TestDecodeFrameMalformed(t *testing.T) {
	const v = frameVersion
	// A valid frame of one record: data "abcd", path "p", nothing else.
	valid := append(uv([]byte{v}, 1, 0, 1, 4, 4, 1, 0, 0, 0, 0, 0, 0, 0), "pabcd"...)
	if recs, err := decodeFrame(valid); err != nil || len(recs) != 1 || string(recs[0].Data) != "abcd" || recs[0].Path != "p" {
		t.Fatalf("hand-made frame: %+v, %v", recs, err)
	}
	maxVarint := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}
	overflow := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}
	for _, c := range []struct {
		name  string
		frame []byte
		want  string
	}{
		{"empty", nil, "empty"},
		{"version", append([]byte{v + 1}, valid[1:]...), "version 2"},
		{"version only", []byte{v}, "record count is cut off"},
		{"varint overflow", append(append([]byte{v}, overflow...), 0, 0, 0), "record count is cut off or malformed"},
		{"huge count", uv([]byte{v}, 1<<62, 0, 0, 0), "record count 4611686018427387904 is more than"},
		{"max count", append(append([]byte{v}, maxVarint...), 0, 0, 0), "record count 18446744073709551615"},
		{"count past table", append(uv([]byte{v}, 2, 0, 1, 4, 4, 1, 0, 0, 0, 0, 0, 0, 0), "pabcd"...), "record count 2 is more than"},
		{"huge routes", uv([]byte{v}, 0, 1<<40, 0, 0), "route count 1099511627776 is more than"},
		{"max routes", append(uv([]byte{v}, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), maxVarint...),
			"record 0: 18446744073709551615 routes, but the frame has only 0 routes left"},
		{"huge byte region", uv([]byte{v}, 0, 0, 0, 1<<60), "byte region length 1152921504606846976 runs past the end of the frame"},
		{"max byte region", append(uv([]byte{v}, 0, 0, 0), maxVarint...), "byte region length 18446744073709551615 runs past"},
		{"huge string region", uv([]byte{v}, 0, 0, 1<<60, 0), "string region length 1152921504606846976 runs past the end of the frame"},
		{"max string region", append(append(uv([]byte{v}, 0, 0), maxVarint...), 0), "string region length 18446744073709551615 runs past"},
		{"huge data", append(uv([]byte{v}, 1, 0, 1, 4, 1<<40, 1, 0, 0, 0, 0, 0, 0, 0), "pabcd"...),
			"record 0: data length 1099511627776 runs past the end of the byte region (4 bytes left)"},
		{"max data", append(append(append(uv([]byte{v}, 1, 0, 1, 4), maxVarint...), uv(nil, 1, 0, 0, 0, 0, 0, 0, 0)...), "pabcd"...),
			"record 0: data length 18446744073709551615 runs past"},
		{"data past region", append(uv([]byte{v}, 1, 0, 1, 4, 5, 1, 0, 0, 0, 0, 0, 0, 0), "pabcd"...),
			"record 0: data length 5 runs past the end of the byte region (4 bytes left)"},
		{"meta past region", append(uv([]byte{v}, 1, 0, 1, 4, 4, 1, 0, 0, 0, 0, 0, 1, 0), "pabcd"...),
			"record 0: meta length 1 runs past the end of the byte region (0 bytes left)"},
		{"path past region", append(uv([]byte{v}, 1, 0, 1, 4, 4, 2, 0, 0, 0, 0, 0, 0, 0), "pabcd"...),
			"record 0: path length 2 runs past the end of the string region (1 bytes left)"},
		{"strings together past region", append(uv([]byte{v}, 1, 0, 1, 4, 4, 1, 1, 0, 0, 0, 0, 0, 0), "pabcd"...),
			"record 0: source length 1 runs past the end of the string region (0 bytes left)"},
		{"routes not declared", append(uv([]byte{v}, 1, 0, 1, 4, 4, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0), "pabcd"...),
			"record 0: 1 routes, but the frame has only 0 routes left"},
		{"route target past region", append(uv([]byte{v}, 1, 1, 1, 4, 4, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1), "pabcd"...),
			"record 0: route 0 target length 1 runs past the end of the string region (0 bytes left)"},
		{"routes declared unused", append(uv([]byte{v}, 1, 1, 1, 4, 4, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0), "pabcd"...),
			"bytes left over in the record table"},
		{"strings unused", append(uv([]byte{v}, 1, 0, 2, 4, 4, 1, 0, 0, 0, 0, 0, 0, 0), "ppabcd"...),
			"1 bytes of the string region are not used"},
		{"bytes unused", append(uv([]byte{v}, 1, 0, 1, 5, 4, 1, 0, 0, 0, 0, 0, 0, 0), "pabcde"...),
			"1 bytes of the byte region are not used"},
		{"table left over", append(uv([]byte{v}, 1, 0, 1, 4, 4, 1, 0, 0, 0, 0, 0, 0, 0, 0), "pabcd"...),
			"1 bytes left over in the record table"},
		{"second record cut", append(append(uv([]byte{v}, 2, 0, 1, 4, 4, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), 0x80), "pabcd"...),
			"record 1: route count is cut off"},
		{"second record data", append(uv([]byte{v}, 2, 0, 1, 4, 4, 1, 0, 0, 0, 0, 0, 0, 0, 4000, 0, 0, 0, 0, 0, 0, 0, 0), "pabcd"...),
			"record 1: data length 4000 runs past the end of the byte region (0 bytes left)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			recs, err := decodeFrame(c.frame)
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatalf("decoded %d records, want an error", len(recs))
			}
			if !strings.HasPrefix(err.Error(), "batch frame: ") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want one containing %q", err, c.want)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
				t.Errorf("a malformed frame of %d bytes made decodeFrame allocate %d bytes", len(c.frame), n)
			}
		})
	}
}

// frameSeeds are frames for the fuzzer to start from.
func frameSeeds() [][]byte {
	var seeds [][]byte
	for name, recs := range frameCases() {
		if name == "big fields" || name == "many records" {
			recs = recs[:min(len(recs), 4)]
			for i := range recs {
				recs[i].Data = recs[i].Data[:min(len(recs[i].Data), 40)]
				recs[i].Source = recs[i].Source[:min(len(recs[i].Source), 40)]
			}
		}
		seeds = append(seeds, appendFrame(nil, recs))
	}
	return seeds
}

func FuzzDecodeFrame(f *testing.F) {
	for _, s := range frameSeeds() {
		f.Add(s)
	}
	f.Add([]byte{})
	f.Add([]byte{frameVersion})
	f.Add(uv([]byte{frameVersion}, 1<<62, 1<<62, 1<<62, 1<<62))
	f.Fuzz(func(t *testing.T, frame []byte) {
		recs, err := decodeFrame(frame)
		if err != nil {
			if recs != nil {
				t.Fatal("records returned with an error")
			}
			return
		}
		// What decodes must take no more room than the frame says, and
		// encode and decode again to the same records.
		for i, r := range recs {
			if cap(r.Data) != len(r.Data) || cap(r.Meta) != len(r.Meta) || cap(r.Routes) != len(r.Routes) {
				t.Fatalf("record %d: capacity not clipped", i)
			}
		}
		again, err := decodeFrame(appendFrame(nil, recs))
		if err != nil {
			t.Fatalf("re-encoded frame does not decode: %v", err)
		}
		if !reflect.DeepEqual(again, recs) {
			t.Fatalf("re-encoded frame decodes differently:\n got %+v\nwant %+v", again, recs)
		}
	})
}

func BenchmarkDecodeFrame(b *testing.B) {
	recs := make([]sdk.Record, 1024)
	for i := range recs {
		recs[i] = fullRecord(i)
	}
	frame := appendFrame(nil, recs)
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf = appendFrame(buf[:0], recs)
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeFrame(frame); err != nil {
				b.Fatal(err)
			}
		}
	})
}
