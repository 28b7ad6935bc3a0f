package wire

import (
	"context"
	"errors"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mdrsflow/mdrsflow/runtime/stage"
	"github.com/mdrsflow/mdrsflow/runtime/wire/pb"
	"github.com/mdrsflow/mdrsflow/sdk"
)

// The servers run inside a plugin process. Each serves one stage, opened
// by the host's Open call; a call before Open fails with
// FailedPrecondition.

var errNotOpen = status.Error(codes.FailedPrecondition, "plugin not opened: the host must call Open first")

type inputServer struct {
	pb.UnimplementedInputServer
	open *Opener
	mu   sync.Mutex
	in   stage.Input
}

func (s *inputServer) Open(ctx context.Context, c *pb.Config) (*pb.Empty, error) {
	if s.open == nil || s.open.Input == nil {
		return nil, status.Error(codes.Unimplemented, "this plugin serves no input")
	}
	in, err := s.open.Input(context.WithoutCancel(ctx), fromPBConfig(c))
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	s.mu.Lock()
	s.in = in
	s.mu.Unlock()
	return &pb.Empty{}, nil
}

func (s *inputServer) get() stage.Input {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.in
}

func (s *inputServer) Read(_ *pb.Empty, stream pb.Input_ReadServer) error {
	in := s.get()
	if in == nil {
		return errNotOpen
	}
	err := in.Read(stream.Context(), func(b sdk.Batch) error {
		return stream.Send(ToPB(b, 0))
	})
	if errors.Is(err, sdk.ErrIncomplete) {
		return status.Error(codes.DataLoss, err.Error())
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return status.Error(codes.Unknown, err.Error())
	}
	return nil
}

func (s *inputServer) Ack(ctx context.Context, r *pb.AckRequest) (*pb.Empty, error) {
	in := s.get()
	if in == nil {
		return nil, errNotOpen
	}
	return &pb.Empty{}, in.Ack(ctx, r.BatchId)
}

func (s *inputServer) Close(context.Context, *pb.Empty) (*pb.Empty, error) {
	in := s.get()
	if in == nil {
		return &pb.Empty{}, nil
	}
	return &pb.Empty{}, in.Close()
}

type filterServer struct {
	pb.UnimplementedFilterServer
	open   *Opener
	mu     sync.Mutex
	procMu sync.Mutex // one batch at a time: a chain is not concurrent
	f      stage.Filter
}

func (s *filterServer) Open(ctx context.Context, c *pb.Config) (*pb.Empty, error) {
	if s.open == nil || s.open.Filter == nil {
		return nil, status.Error(codes.Unimplemented, "this plugin serves no filter")
	}
	f, err := s.open.Filter(context.WithoutCancel(ctx), fromPBConfig(c))
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	s.mu.Lock()
	s.f = f
	s.mu.Unlock()
	return &pb.Empty{}, nil
}

func (s *filterServer) Process(ctx context.Context, b *pb.Batch) (*pb.Batch, error) {
	s.mu.Lock()
	f := s.f
	s.mu.Unlock()
	if f == nil {
		return nil, errNotOpen
	}
	s.procMu.Lock()
	defer s.procMu.Unlock()
	batch, _, err := FromPB(b)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	res, err := f.Process(ctx, batch)
	if err != nil {
		return nil, status.Error(codes.Unknown, err.Error())
	}
	if len(b.Frame) == 0 && len(b.Records) > 0 {
		// A host built before batch frames cannot read one: answer it
		// the way it asked.
		return toPBRecords(res.Batch, res.Dropped), nil
	}
	return ToPB(res.Batch, res.Dropped), nil
}

func (s *filterServer) Stats(context.Context, *pb.Empty) (*pb.StatsReply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := &pb.StatsReply{Counters: map[string]uint64{}}
	if lf, ok := s.f.(*stage.LocalFilter); ok {
		st := lf.Chain.Stats()
		out.Counters["in"] = st.In
		out.Counters["failed"] = st.Failed
		out.Counters["quarantined"] = st.Quarantined
		out.Counters["dropped"] = st.Dropped
		out.Counters["tagged"] = st.Tagged
	}
	return out, nil
}

func (s *filterServer) Close(context.Context, *pb.Empty) (*pb.Empty, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return &pb.Empty{}, nil
	}
	return &pb.Empty{}, s.f.Close()
}

type outputServer struct {
	pb.UnimplementedOutputServer
	open *Opener
	mu   sync.Mutex
	out  stage.Output
}

func (s *outputServer) Open(ctx context.Context, c *pb.Config) (*pb.Empty, error) {
	if s.open == nil || s.open.Output == nil {
		return nil, status.Error(codes.Unimplemented, "this plugin serves no output")
	}
	out, err := s.open.Output(context.WithoutCancel(ctx), fromPBConfig(c))
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	s.mu.Lock()
	s.out = out
	s.mu.Unlock()
	return &pb.Empty{}, nil
}

func (s *outputServer) Write(ctx context.Context, b *pb.Batch) (*pb.ResultList, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.out == nil {
		return nil, errNotOpen
	}
	batch, _, err := FromPB(b)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	res, err := s.out.Write(ctx, batch.Records)
	if err != nil {
		return nil, status.Error(codes.Unknown, err.Error())
	}
	out := &pb.ResultList{Results: make([]*pb.Result, len(res))}
	for i, r := range res {
		out.Results[i] = &pb.Result{Status: pb.Result_Status(r.Status), Reason: r.Reason}
	}
	return out, nil
}

func (s *outputServer) Close(context.Context, *pb.Empty) (*pb.Empty, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.out == nil {
		return &pb.Empty{}, nil
	}
	return &pb.Empty{}, s.out.Close()
}
