package wire

import (
	"context"
	"io"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mdrsflow/mdrsflow/runtime/stage"
	"github.com/mdrsflow/mdrsflow/runtime/wire/pb"
	"github.com/mdrsflow/mdrsflow/sdk"
)

// tagFilter sets Tenant on every record and reports one drop.
type tagFilter struct{ got sdk.Batch }

func (f *tagFilter) Process(_ context.Context, b sdk.Batch) (stage.Processed, error) {
	f.got = b
	for i := range b.Records {
		b.Records[i].Tenant = "t"
	}
	return stage.Processed{Batch: b, Dropped: 1}, nil
}

func (f *tagFilter) Close() error { return nil }

func TestFilterServerAnswersInTheRequestFormat(t *testing.T) {
	recs := []sdk.Record{fullRecord(0), {Data: []byte("x")}}
	want := normalized([]sdk.Record{fullRecord(0), {Data: []byte("x")}})
	for i := range want {
		want[i].Tenant = "t"
	}
	for _, c := range []struct {
		name  string
		req   *pb.Batch
		frame bool
	}{
		{"frame", ToPB(sdk.Batch{ID: 3, Records: recs}, 0), true},
		{"records as messages", oldPB(3, recs, 0), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := &filterServer{f: &tagFilter{}}
			res, err := s.Process(context.Background(), c.req)
			if err != nil {
				t.Fatal(err)
			}
			if (len(res.Frame) > 0) != c.frame || (len(res.Records) > 0) == c.frame {
				t.Fatalf("answer has a %d-byte frame and %d records as messages", len(res.Frame), len(res.Records))
			}
			b, dropped, err := FromPB(res)
			if err != nil {
				t.Fatal(err)
			}
			if b.ID != 3 || dropped != 1 || !reflect.DeepEqual(b.Records, want) {
				t.Fatalf("answer: id %d dropped %d records %+v", b.ID, dropped, b.Records)
			}
		})
	}
}

func TestServersRefuseBadFrames(t *testing.T) {
	bad := ToPB(sdk.Batch{ID: 4, Records: []sdk.Record{fullRecord(0)}}, 0)
	bad.Frame = bad.Frame[:len(bad.Frame)-3]

	f := &tagFilter{}
	_, err := (&filterServer{f: f}).Process(context.Background(), bad)
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "batch frame") {
		t.Errorf("filter: err %v, want InvalidArgument about the batch frame", err)
	}
	if f.got.Records != nil {
		t.Error("filter: the stage was called with a batch that could not be read")
	}

	_, err = (&outputServer{out: nopOutput{}}).Write(context.Background(), bad)
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "batch frame") {
		t.Errorf("output: err %v, want InvalidArgument about the batch frame", err)
	}
}

type nopOutput struct{}

func (nopOutput) Write(_ context.Context, recs []sdk.Record) ([]sdk.Result, error) {
	return make([]sdk.Result, len(recs)), nil
}

func (nopOutput) Close() error { return nil }

// answerFilter is a pb.FilterClient whose Process answers with a fixed
// batch.
type answerFilter struct {
	pb.FilterClient
	answer *pb.Batch
}

func (a answerFilter) Process(context.Context, *pb.Batch, ...grpc.CallOption) (*pb.Batch, error) {
	return a.answer, nil
}

func TestFilterClientAnswers(t *testing.T) {
	in := sdk.Batch{Records: []sdk.Record{fullRecord(0), fullRecord(1)}}
	ctx := context.Background()

	good := ToPB(sdk.Batch{Records: in.Records[:1]}, 1)
	res, err := (&filterClient{c: answerFilter{answer: good}}).Process(ctx, in)
	if err != nil || res.Dropped != 1 || !reflect.DeepEqual(res.Batch.Records, normalized(in.Records[:1])) {
		t.Fatalf("good answer: %+v, %v", res, err)
	}

	// All records dropped: still a frame, of no records.
	none := ToPB(sdk.Batch{}, 2)
	if res, err := (&filterClient{c: answerFilter{answer: none}}).Process(ctx, in); err != nil || res.Dropped != 2 || len(res.Batch.Records) != 0 {
		t.Fatalf("everything dropped: %+v, %v", res, err)
	}

	// A plugin built before frames read an empty batch and answers with
	// nothing: that must not pass for a batch that lost its records.
	_, err = (&filterClient{c: answerFilter{answer: &pb.Batch{}}}).Process(ctx, in)
	if err == nil || !strings.Contains(err.Error(), "older wire format") {
		t.Fatalf("answer without a frame: err %v, want one about the older wire format", err)
	}

	bad := ToPB(in, 0)
	bad.Frame[0] = 99
	_, err = (&filterClient{c: answerFilter{answer: bad}}).Process(ctx, in)
	if err == nil || !strings.Contains(err.Error(), "batch frame: version 99") {
		t.Fatalf("answer with a bad frame: err %v", err)
	}
}

// batchStream is an input's Read stream that yields fixed batches.
type batchStream struct {
	grpc.ServerStreamingClient[pb.Batch]
	batches []*pb.Batch
}

func (s *batchStream) Recv() (*pb.Batch, error) {
	if len(s.batches) == 0 {
		return nil, io.EOF
	}
	b := s.batches[0]
	s.batches = s.batches[1:]
	return b, nil
}

type streamInput struct {
	pb.InputClient
	stream *batchStream
}

func (i streamInput) Read(context.Context, *pb.Empty, ...grpc.CallOption) (grpc.ServerStreamingClient[pb.Batch], error) {
	return i.stream, nil
}

func TestInputClientRead(t *testing.T) {
	good := ToPB(sdk.Batch{ID: 1, Records: []sdk.Record{fullRecord(0)}}, 0)
	old := oldPB(2, []sdk.Record{fullRecord(1)}, 0)
	bad := ToPB(sdk.Batch{ID: 3, Records: []sdk.Record{fullRecord(2)}}, 0)
	bad.Frame = bad.Frame[:4]
	ic := &inputClient{c: streamInput{stream: &batchStream{batches: []*pb.Batch{good, old, bad, good}}}}
	var got []uint64
	err := ic.Read(context.Background(), func(b sdk.Batch) error {
		if len(b.Records) != 1 {
			t.Errorf("batch %d: %d records, want 1", b.ID, len(b.Records))
		}
		got = append(got, b.ID)
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "batch 3: batch frame:") {
		t.Fatalf("err %v, want one about batch 3's frame", err)
	}
	if !reflect.DeepEqual(got, []uint64{1, 2}) {
		t.Fatalf("batches read before the bad one: %v, want [1 2]", got)
	}
}
