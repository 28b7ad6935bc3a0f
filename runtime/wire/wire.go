// Package wire is the contract between the mdrsflow host and its plugin
// processes: the go-plugin handshake, the plugin map, and gRPC adapters
// that carry batches. The host side offers the stage interfaces; the
// plugin side serves stage implementations.
//
// Every plugin process serves all three services; the host dispenses the
// one it needs. Messages are limited to MaxMessageBytes on both sides
// (gRPC's default of 4 MiB is far too small for a batch of big records).
package wire

import (
	"context"
	"fmt"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/experimental"

	"github.com/mdrsflow/mdrsflow/runtime/stage"
	"github.com/mdrsflow/mdrsflow/runtime/wire/pb"
	"github.com/mdrsflow/mdrsflow/sdk"
)

// Handshake is shared by host and plugins. The cookie only keeps a plugin
// binary from being run by hand by mistake; it is not a secret.
var Handshake = plugin.HandshakeConfig{
	// 2: batches travel as one frame (frame.go). 3: on Linux the
	// connection is checked by the kernel's peer credentials instead of
	// mutual TLS (peercred_linux.go); a plugin of 2 would accept anyone.
	ProtocolVersion:  3,
	MagicCookieKey:   "MDRSFLOW_PLUGIN",
	MagicCookieValue: "7f1c2d9e-batch-v1",
}

// HTTP/2 flow-control windows of plugin connections: how many bytes a
// sender may have in flight before the receiver grants more. Left to
// gRPC, the window starts at 64 KiB and grows by probing (a ping with
// data, answered by the other end): every batch then costs the two
// processes extra small writes, wake-ups and scheduler rounds. A fixed
// window turns the probing off; over alternating bench runs it saved
// about a tenth of the whole tree's CPU (bench/README.md). Calls carry
// one batch each and the host bounds the calls in flight, so their
// window can exceed any usual batch. An input's stream of batches is
// bounded only by the window, which is how far the input may read ahead
// of the host's queue: 256 KiB is about two batches.
const (
	callWindow   = 8 << 20
	streamWindow = 256 << 10
)

// socketBuffer is how much gRPC reads from and writes to a plugin's
// socket at a time, on each end. Its default, 32 KiB, takes a dozen
// system calls each way for a batch of a few hundred documents; 256 KiB
// took 3 % off the whole tree's CPU in alternating bench runs for about
// 2 MB of PSS, and 1 MiB did no better for 10 MB more.
const socketBuffer = 256 << 10

// MaxMessageBytes bounds one gRPC message (one batch) in both directions.
const MaxMessageBytes = 256 << 20

// Names in the plugin map.
const (
	InputPlugin  = "input"
	FilterPlugin = "filter"
	OutputPlugin = "output"
)

// Opener builds the stage a plugin process serves, from the Config the
// host sends. Built-in plugins use the stage package's openers.
type Opener struct {
	Input  func(ctx context.Context, cfg stage.Config) (stage.Input, error)
	Filter func(ctx context.Context, cfg stage.Config) (stage.Filter, error)
	Output func(ctx context.Context, cfg stage.Config) (stage.Output, error)
}

// PluginMap returns the go-plugin map. On the host side the opener is nil.
func PluginMap(o *Opener) map[string]plugin.Plugin {
	return map[string]plugin.Plugin{
		InputPlugin:  &grpcPlugin{kind: sdk.KindInput, open: o},
		FilterPlugin: &grpcPlugin{kind: sdk.KindFilter, open: o},
		OutputPlugin: &grpcPlugin{kind: sdk.KindOutput, open: o},
	}
}

type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	kind sdk.Kind
	open *Opener
}

func (p *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	switch p.kind {
	case sdk.KindInput:
		pb.RegisterInputServer(s, &inputServer{open: p.open})
	case sdk.KindFilter:
		pb.RegisterFilterServer(s, &filterServer{open: p.open})
	case sdk.KindOutput:
		pb.RegisterOutputServer(s, &outputServer{open: p.open})
	}
	return nil
}

func (p *grpcPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	switch p.kind {
	case sdk.KindInput:
		return pb.NewInputClient(c), nil
	case sdk.KindFilter:
		return pb.NewFilterClient(c), nil
	case sdk.KindOutput:
		return pb.NewOutputClient(c), nil
	}
	return nil, fmt.Errorf("unknown plugin kind %q", p.kind)
}

// ServerOptions make a plugin's gRPC server: raised message limits and,
// on Linux, a handshake that accepts only the host (peerCreds), which
// replaces any credentials go-plugin put in opts. (An mdrsflow host never
// asks its plugins for TLS on Linux, and drops the variable another
// go-plugin host would ask with; see withoutPluginEnv.)
func ServerOptions(opts []grpc.ServerOption) *grpc.Server {
	opts = append(opts, grpc.MaxRecvMsgSize(MaxMessageBytes), grpc.MaxSendMsgSize(MaxMessageBytes),
		experimental.BufferPool(sharedBuffers), // the server defaults are fixed before our init runs
		grpc.InitialWindowSize(callWindow), grpc.InitialConnWindowSize(callWindow),
		grpc.ReadBufferSize(socketBuffer), grpc.WriteBufferSize(socketBuffer))
	if peerChecked {
		opts = append(opts, grpc.Creds(peerCreds{}))
	}
	return grpc.NewServer(opts...)
}

// DialOptions make the host's side of a plugin connection: raised message
// limits and, on Linux, a handshake that accepts only a socket served by
// one of the host's own children (peerCreds). They come after go-plugin's
// own options, so these credentials replace its plain ones.
func DialOptions(kind sdk.Kind) []grpc.DialOption {
	window := int32(callWindow)
	if kind == sdk.KindInput {
		window = streamWindow
	}
	opts := []grpc.DialOption{grpc.WithDefaultCallOptions(
		grpc.MaxCallRecvMsgSize(MaxMessageBytes),
		grpc.MaxCallSendMsgSize(MaxMessageBytes),
	), experimental.WithBufferPool(sharedBuffers),
		grpc.WithInitialWindowSize(window), grpc.WithInitialConnWindowSize(window),
		grpc.WithReadBufferSize(socketBuffer), grpc.WithWriteBufferSize(socketBuffer)}
	if peerChecked {
		opts = append(opts, grpc.WithTransportCredentials(peerCreds{}))
	}
	return opts
}

func toPBConfig(c stage.Config) *pb.Config {
	return &pb.Config{Kind: string(c.Kind), Name: c.Name, Id: c.ID, Flow: c.Flow,
		Settings: c.Settings, DataDir: c.DataDir}
}

func fromPBConfig(c *pb.Config) stage.Config {
	return stage.Config{Kind: sdk.Kind(c.Kind), Name: c.Name, ID: c.Id, Flow: c.Flow,
		Settings: c.Settings, DataDir: c.DataDir}
}

// ToPB converts a batch for the wire: its records go into one frame (see
// frame.go), a copy that shares no memory with b.
func ToPB(b sdk.Batch, dropped int) *pb.Batch {
	return &pb.Batch{Id: b.ID, Dropped: uint32(dropped), Frame: appendFrame(nil, b.Records)}
}

// toPBRecords converts a batch for the wire format before frames, one
// message per record: the answer to a host that sent its batch that way.
// Data slices are shared, not copied.
func toPBRecords(b sdk.Batch, dropped int) *pb.Batch {
	out := &pb.Batch{Id: b.ID, Dropped: uint32(dropped), Records: make([]*pb.Record, len(b.Records))}
	recs := make([]pb.Record, len(b.Records))
	for i := range b.Records {
		r := &b.Records[i]
		p := &recs[i]
		p.Data, p.Path, p.Source, p.Id = r.Data, r.Path, r.Source, r.ID
		p.Tenant, p.Error, p.Quarantine, p.Meta = r.Tenant, r.Error, r.Quarantine, r.Meta
		if len(r.Routes) > 0 {
			p.Routes = make([]*pb.Route, len(r.Routes))
			for j, rt := range r.Routes {
				p.Routes[j] = &pb.Route{Output: uint32(rt.Output), Target: rt.Target}
			}
		}
		out.Records[i] = p
	}
	return out
}

// FromPB converts a batch from the wire. It reads the frame, or, when the
// frame is empty, the records one message each as a plugin built against
// the format before frames sends them. A frame that cannot be decoded is
// an error. The records' Data and Meta share memory with b's frame.
func FromPB(b *pb.Batch) (sdk.Batch, int, error) {
	if len(b.Frame) > 0 {
		if len(b.Records) > 0 {
			return sdk.Batch{}, 0, fmt.Errorf("batch %d has both a frame and %d records as messages", b.Id, len(b.Records))
		}
		recs, err := decodeFrame(b.Frame)
		if err != nil {
			return sdk.Batch{}, 0, fmt.Errorf("batch %d: %w", b.Id, err)
		}
		return sdk.Batch{ID: b.Id, Records: recs}, int(b.Dropped), nil
	}
	out := sdk.Batch{ID: b.Id, Records: make([]sdk.Record, len(b.Records))}
	for i, p := range b.Records {
		r := &out.Records[i]
		r.Data, r.Path, r.Source, r.ID = p.GetData(), p.GetPath(), p.GetSource(), p.GetId()
		r.Tenant, r.Error, r.Quarantine, r.Meta = p.GetTenant(), p.GetError(), p.GetQuarantine(), p.GetMeta()
		if len(p.GetRoutes()) > 0 {
			r.Routes = make([]sdk.Route, len(p.Routes))
			for j, rt := range p.Routes {
				r.Routes[j] = sdk.Route{Output: int(rt.GetOutput()), Target: rt.GetTarget()}
			}
		}
	}
	return out, int(b.Dropped), nil
}
