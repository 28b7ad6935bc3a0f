package wire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mdrsflow/mdrsflow/runtime/stage"
	"github.com/mdrsflow/mdrsflow/runtime/wire/pb"
	"github.com/mdrsflow/mdrsflow/sdk"
)

// Process is one plugin subprocess seen from the host.
type Process struct {
	client *plugin.Client
	raw    any
	kind   sdk.Kind
}

// ErrPluginExited is wrapped by errors of calls to a process that has
// died; the host restarts it and retries the batch.
var ErrPluginExited = errors.New("plugin process exited")

// Launch starts cmd as a plugin process of the given kind. On Linux each
// end of the connection checks with the kernel that the other is the
// process it should be (peerCreds); elsewhere they use go-plugin's
// automatic mutual TLS. When sum is set, the executable's
// SHA-256 must match it or the process is not started. Plugin log lines
// (JSON on its stderr) are re-emitted through logger.
func Launch(cmd *exec.Cmd, kind sdk.Kind, logger *slog.Logger, sum []byte) (*Process, error) {
	cmd.Env = withoutPluginEnv(cmd.Env)
	dir, err := socketDir()
	if err != nil {
		return nil, fmt.Errorf("start %s plugin %s: %w", kind, cmd.Path, err)
	}
	if dir != "" {
		cmd.Env = append(cmd.Env, "PLUGIN_UNIX_SOCKET_DIR="+dir)
	}
	cfg := &plugin.ClientConfig{
		HandshakeConfig:  Handshake,
		Plugins:          PluginMap(nil),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		// cmd.Env is the whole environment (withoutPluginEnv); go-plugin
		// would add the host's again after it.
		SkipHostEnv: true,
		// On Linux the kernel vouches for both ends (peerCreds);
		// elsewhere go-plugin's mutual TLS does.
		AutoMTLS:        !peerChecked,
		GRPCDialOptions: DialOptions(kind),
		Logger:          newHCLogger(logger),
		// A plugin's standard output (the stdout output writes events
		// there) is the host's, as it would be in-process.
		SyncStdout: os.Stdout,
	}
	if sum != nil {
		cfg.SecureConfig = &plugin.SecureConfig{Checksum: sum, Hash: sha256New()}
	}
	c := plugin.NewClient(cfg)
	proto, err := c.Client()
	if err != nil {
		c.Kill()
		return nil, startError(kind, cmd.Path, err)
	}
	raw, err := proto.Dispense(string(kind))
	if err != nil {
		c.Kill()
		return nil, fmt.Errorf("start %s plugin %s: %w", kind, cmd.Path, err)
	}
	return &Process{client: c, raw: raw, kind: kind}, nil
}

// withoutPluginEnv returns env (the host's environment when nil, as exec
// would pass it) without the variables through which a go-plugin host
// hands its own plugins their transport settings. mdrsflow started by
// another go-plugin host (Terraform, Vault, Nomad) inherits them, and
// passed on they would make its plugins answer with TLS it did not ask
// for; go-plugin then fails on a certificate it has no configuration to
// read.
func withoutPluginEnv(env []string) []string {
	if env == nil {
		env = os.Environ()
	}
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if strings.HasPrefix(kv, "PLUGIN_CLIENT_CERT=") || strings.HasPrefix(kv, "PLUGIN_PROTOCOL_VERSIONS=") ||
			strings.HasPrefix(kv, "PLUGIN_MIN_PORT=") || strings.HasPrefix(kv, "PLUGIN_MAX_PORT=") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// startError names the plugin that failed to start and, when its wire
// protocol is not this host's, says what to do about it.
func startError(kind sdk.Kind, path string, err error) error {
	if strings.Contains(err.Error(), "incompatible API version") {
		return fmt.Errorf("start %s plugin %s: %w; the plugin was built for another "+
			"version of the plugin protocol (this mdrsflow speaks %d): rebuild it "+
			"against the sdk of this mdrsflow release", kind, path, err, Handshake.ProtocolVersion)
	}
	return fmt.Errorf("start %s plugin %s: %w", kind, path, err)
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool { return p.client.Exited() }

// Kill ends the process (gracefully first, then by force).
func (p *Process) Kill() { p.client.Kill() }

func (p *Process) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	// Unavailable means the connection to the process broke: it died, or
	// is dying and go-plugin has not noticed yet. Either way the host
	// must replace it.
	if p.client.Exited() || status.Code(err) == codes.Unavailable {
		return fmt.Errorf("%s: %w: %v", op, ErrPluginExited, err)
	}
	if st, ok := status.FromError(err); ok {
		switch st.Code() {
		case codes.Unknown, codes.InvalidArgument, codes.FailedPrecondition:
			// The plugin's own error: its words, without gRPC's
			// "rpc error: code = ... desc =" around them.
			err = errors.New(st.Message())
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// OpenInput opens the input the process serves.
func (p *Process) OpenInput(ctx context.Context, cfg stage.Config) (stage.Input, error) {
	c, ok := p.raw.(pb.InputClient)
	if !ok {
		return nil, fmt.Errorf("plugin is a %s, not an input", p.kind)
	}
	if _, err := c.Open(ctx, toPBConfig(cfg)); err != nil {
		return nil, p.wrap("open "+cfg.ID, err)
	}
	return &inputClient{p: p, c: c}, nil
}

type inputClient struct {
	p *Process
	c pb.InputClient
}

func (ic *inputClient) Read(ctx context.Context, fn func(sdk.Batch) error) error {
	stream, err := ic.c.Read(ctx, &pb.Empty{})
	if err != nil {
		return ic.p.wrap("read", err)
	}
	for {
		b, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if st, ok := status.FromError(err); ok && st.Code() == codes.DataLoss {
				// The input finished, short of data it could not read.
				msg := strings.TrimSuffix(st.Message(), ": "+sdk.ErrIncomplete.Error())
				return fmt.Errorf("%s: %w", msg, sdk.ErrIncomplete)
			}
			return ic.p.wrap("read", err)
		}
		batch, _, err := FromPB(b)
		if err != nil {
			return fmt.Errorf("read: the plugin sent a batch that cannot be read: %w", err)
		}
		if err := fn(batch); err != nil {
			return err
		}
	}
}

func (ic *inputClient) Ack(ctx context.Context, id uint64) error {
	_, err := ic.c.Ack(ctx, &pb.AckRequest{BatchId: id})
	return ic.p.wrap("ack", err)
}

func (ic *inputClient) Close() error {
	if ic.p.Exited() {
		return nil
	}
	_, err := ic.c.Close(context.Background(), &pb.Empty{})
	err = ic.p.wrap("close", err) // before Kill, which would make any error read as an exit
	ic.p.Kill()
	return err
}

// OpenFilter opens the filter stage the process serves.
func (p *Process) OpenFilter(ctx context.Context, cfg stage.Config) (stage.Filter, error) {
	c, ok := p.raw.(pb.FilterClient)
	if !ok {
		return nil, fmt.Errorf("plugin is a %s, not a filter", p.kind)
	}
	if _, err := c.Open(ctx, toPBConfig(cfg)); err != nil {
		return nil, p.wrap("open "+cfg.ID, err)
	}
	return &filterClient{p: p, c: c}, nil
}

type filterClient struct {
	p *Process
	c pb.FilterClient
}

func (fc *filterClient) Process(ctx context.Context, b sdk.Batch) (stage.Processed, error) {
	frame := getFrame()
	*frame = appendFrame((*frame)[:0], b.Records)
	res, err := fc.c.Process(ctx, &pb.Batch{Id: b.ID, Frame: *frame})
	putFrame(frame)
	if err != nil {
		return stage.Processed{}, fc.p.wrap("process", err)
	}
	if len(res.Frame) == 0 && len(b.Records) > 0 {
		// Every answer in the current format has a frame, even for no
		// records. Without one, the plugin was built before frames: it
		// read the batch as empty, and its answer would lose the records.
		return stage.Processed{}, errors.New("process: the plugin answered without a batch frame: " +
			"it was built for an older wire format and cannot read the batches this host sends; rebuild it")
	}
	batch, dropped, err := FromPB(res)
	if err != nil {
		return stage.Processed{}, fmt.Errorf("process: the plugin answered with a batch that cannot be read: %w", err)
	}
	return stage.Processed{Batch: batch, Dropped: dropped}, nil
}

func (fc *filterClient) Close() error {
	if fc.p.Exited() {
		return nil
	}
	_, err := fc.c.Close(context.Background(), &pb.Empty{})
	err = fc.p.wrap("close", err) // before Kill, which would make any error read as an exit
	fc.p.Kill()
	return err
}

// OpenOutput opens the output the process serves.
func (p *Process) OpenOutput(ctx context.Context, cfg stage.Config) (stage.Output, error) {
	c, ok := p.raw.(pb.OutputClient)
	if !ok {
		return nil, fmt.Errorf("plugin is a %s, not an output", p.kind)
	}
	if _, err := c.Open(ctx, toPBConfig(cfg)); err != nil {
		return nil, p.wrap("open "+cfg.ID, err)
	}
	return &outputClient{p: p, c: c}, nil
}

type outputClient struct {
	p *Process
	c pb.OutputClient
}

func (oc *outputClient) Write(ctx context.Context, recs []sdk.Record) ([]sdk.Result, error) {
	frame := getFrame()
	*frame = appendFrame((*frame)[:0], recs)
	res, err := oc.c.Write(ctx, &pb.Batch{Frame: *frame})
	putFrame(frame)
	if err != nil {
		return nil, oc.p.wrap("write", err)
	}
	if len(res.Results) != len(recs) {
		return nil, fmt.Errorf("write: output returned %d results for %d records", len(res.Results), len(recs))
	}
	out := make([]sdk.Result, len(res.Results))
	for i, r := range res.Results {
		out[i] = sdk.Result{Status: sdk.Status(r.Status), Reason: r.Reason}
	}
	return out, nil
}

func (oc *outputClient) Close() error {
	if oc.p.Exited() {
		return nil
	}
	_, err := oc.c.Close(context.Background(), &pb.Empty{})
	err = oc.p.wrap("close", err) // before Kill, which would make any error read as an exit
	oc.p.Kill()
	return err
}

// Serve runs this process as a plugin until the host ends it. Logs go to
// stderr as JSON lines, which the host re-emits under the plugin's name.
func Serve(o *Opener) {
	go exitWithParent()
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         PluginMap(o),
		GRPCServer:      ServerOptions,
	})
}

// Pid is the process id of the plugin, or 0 if it is not running.
func (p *Process) Pid() int {
	if rc := p.client.ReattachConfig(); rc != nil && rc.Pid != 0 {
		return rc.Pid
	}
	return 0
}

// exitWithParent ends a plugin process whose host has died without
// stopping it (SIGKILL, OOM kill), instead of leaving it running as an
// orphan: the parent process id changes when the host goes away.
func exitWithParent() {
	parent := os.Getppid()
	for range time.Tick(time.Second) {
		if os.Getppid() != parent {
			os.Exit(3)
		}
	}
}

// IsTimeout reports whether err is a call to a plugin that ran out of time
// (its context's deadline passed); gRPC may report it before the context
// itself says so.
func IsTimeout(err error) bool {
	return err != nil && status.Code(err) == codes.DeadlineExceeded
}
