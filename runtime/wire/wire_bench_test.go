package wire_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mdrsflow/mdrsflow/runtime/wire"
	"github.com/mdrsflow/mdrsflow/runtime/wire/pb"
	"github.com/mdrsflow/mdrsflow/sdk"
)

// benchBatchSize is the number of records in a benchmark batch, about
// what the file input sends at once.
const benchBatchSize = 1024

// benchBatch builds a batch of real Zeek records from the bundled samples
// in the proportions of the bench mix: half conn, a quarter dns, the rest
// cycled over the other log types. With routed set, each record also
// carries what the filter chain adds on its way back (document id,
// tenant, one route), as in the filter process's answer.
func benchBatch(b *testing.B, routed bool) sdk.Batch {
	b.Helper()
	dir := filepath.Join("..", "..", "testdata", "zeek", "json")
	lines := map[string][][]byte{}
	var others []string
	files, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil || len(files) == 0 {
		b.Fatalf("no samples in %s: %v", dir, err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		name = name[:len(name)-len(".log")]
		fh, err := os.Open(f)
		if err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			lines[name] = append(lines[name], append([]byte(nil), sc.Bytes()...))
		}
		fh.Close()
		if name != "conn" && name != "dns" {
			others = append(others, name)
		}
	}

	batch := sdk.Batch{ID: 42, Records: make([]sdk.Record, benchBatchSize)}
	next := map[string]int{}
	for i := range batch.Records {
		var name string
		switch {
		case i%4 < 2:
			name = "conn"
		case i%4 == 2:
			name = "dns"
		default:
			name = others[(i/4)%len(others)]
		}
		ls := lines[name]
		n := next[name] % len(ls)
		next[name]++
		r := sdk.Record{Data: ls[n], Path: name, Source: fmt.Sprintf("%s.log:%d", name, n+1)}
		if routed {
			r.ID = "q3Jx0b9Zk1mW8sTfYcAe2g"
			r.Tenant = "acme"
			r.Routes = []sdk.Route{{Output: 0, Target: "logs-corelight." + name + "-acme"}}
		}
		batch.Records[i] = r
	}
	return batch
}

func batchBytes(bt sdk.Batch) int64 {
	var n int64
	for _, r := range bt.Records {
		n += int64(len(r.Data))
	}
	return n
}

// BenchmarkBatchFraming measures what one batch costs to cross the
// process boundary, apart from the transport: ToPB and proto.Marshal on
// the sending side, proto.Unmarshal and FromPB on the receiving side (the
// gRPC codec does the same marshalling). "in" is a batch as the input
// sends it; "out" as the filter chain returns it.
func BenchmarkBatchFraming(b *testing.B) {
	for _, dir := range []struct {
		name   string
		routed bool
	}{{"in", false}, {"out", true}} {
		batch := benchBatch(b, dir.routed)
		size := batchBytes(batch)
		wireBytes, err := proto.Marshal(wire.ToPB(batch, 0))
		if err != nil {
			b.Fatal(err)
		}

		b.Run(dir.name+"/roundtrip", func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				msg, err := proto.Marshal(wire.ToPB(batch, 0))
				if err != nil {
					b.Fatal(err)
				}
				var got pb.Batch
				if err := proto.Unmarshal(msg, &got); err != nil {
					b.Fatal(err)
				}
				if back, _, err := wire.FromPB(&got); err != nil {
					b.Fatal(err)
				} else if len(back.Records) != len(batch.Records) {
					b.Fatalf("%d records back, want %d", len(back.Records), len(batch.Records))
				}
			}
			reportPerRecord(b)
		})
		b.Run(dir.name+"/send", func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := proto.Marshal(wire.ToPB(batch, 0)); err != nil {
					b.Fatal(err)
				}
			}
			reportPerRecord(b)
		})
		b.Run(dir.name+"/receive", func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				var got pb.Batch
				if err := proto.Unmarshal(wireBytes, &got); err != nil {
					b.Fatal(err)
				}
				if _, _, err := wire.FromPB(&got); err != nil {
					b.Fatal(err)
				}
			}
			reportPerRecord(b)
		})
	}
}

// reportPerRecord adds ns/record and records/s for a benchmark whose
// every iteration handles one batch of benchBatchSize records.
func reportPerRecord(b *testing.B) {
	per := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / benchBatchSize
	b.ReportMetric(per, "ns/record")
	if per > 0 {
		b.ReportMetric(1e9/per, "records/s")
	}
}
