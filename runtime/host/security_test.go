package host_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mdrsflow/mdrsflow/runtime/chain"
	"github.com/mdrsflow/mdrsflow/runtime/host"
	"github.com/mdrsflow/mdrsflow/runtime/stage"
	"github.com/mdrsflow/mdrsflow/runtime/wire"
	"github.com/mdrsflow/mdrsflow/sdk"
)

// handshakeFileEnv names a file where a plugin process started by these
// tests copies the handshake line go-plugin writes to the host:
// core|app|network|address|protocol|server certificate.
const handshakeFileEnv = "MDRSFLOW_TEST_HANDSHAKE_FILE"

// In a plugin process, init runs before TestMain serves: it puts a pipe
// in place of stdout that copies the first line (the handshake) to the
// file, then passes everything on to the host unchanged.
func init() {
	path := os.Getenv(handshakeFileEnv)
	if path == "" || os.Getenv(wire.Handshake.MagicCookieKey) != wire.Handshake.MagicCookieValue {
		return
	}
	r, w, err := os.Pipe()
	if err != nil {
		panic(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	go func() {
		br := bufio.NewReader(r)
		line, _ := br.ReadString('\n')
		_ = os.WriteFile(path, []byte(line), 0o600)
		_, _ = io.WriteString(stdout, line)
		_, _ = io.Copy(stdout, br)
	}()
}

// launchRecorded launches a filter plugin process the way the host does
// (wire.Launch) and returns it with the fields of the handshake line it
// sent: core|app|network|address|protocol[|server certificate].
func launchRecorded(t *testing.T) (*wire.Process, []string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	hsFile := filepath.Join(t.TempDir(), "handshake")
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), handshakeFileEnv+"="+hsFile)
	p, err := wire.Launch(cmd, sdk.KindFilter, quietLogger(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	line, err := os.ReadFile(hsFile)
	if err != nil {
		t.Fatalf("the plugin's handshake was not recorded: %v", err)
	}
	parts := strings.Split(strings.TrimSpace(string(line)), "|")
	if len(parts) < 5 {
		t.Fatalf("handshake %q: want core|app|network|address|protocol", line)
	}
	if parts[4] != "grpc" {
		t.Errorf("protocol %q, want grpc", parts[4])
	}
	return p, parts
}

// hostGetsThrough shows that the host's own client can open a chain in
// the plugin process and have it process a batch.
func hostGetsThrough(t *testing.T, p *wire.Process) {
	t.Helper()
	spec, err := chain.Spec{Flow: "t", Steps: []chain.StepSpec{{Name: "testmark", ID: "mark", Where: "t"}}}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f, err := p.OpenFilter(ctx, stage.Config{Kind: sdk.KindFilter, Name: stage.ChainName, ID: "chain",
		Flow: "t", Settings: spec, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.Process(ctx, sdk.Batch{ID: 1, Records: []sdk.Record{{Data: []byte(`{"n":1}`)}}})
	if err != nil || len(res.Batch.Records) != 1 || res.Batch.Records[0].ID == "" {
		t.Fatalf("the host's own client did not get through: %v %+v", err, res)
	}
}

// spoofInput is an input (an integrator's, say) that fills in what only
// the engine may decide: tenant, quarantine, routes, metadata.
type spoofInput struct{}

func (spoofInput) Run(ctx context.Context, emit sdk.Emit) error {
	b := sdk.Batch{ID: 1}
	for i := range 5 {
		b.Records = append(b.Records, sdk.Record{
			Data:   []byte(fmt.Sprintf(`{"n":%d,"data_stream":{"type":"logs","dataset":"test"}}`, i)),
			Source: fmt.Sprintf("spoof:%d", i),
			ID:     "chosen-id", Tenant: "evil", Quarantine: "",
			Routes: []sdk.Route{{Output: 0, Target: "logs-test-evil"}},
			Meta:   []byte(`{"tenant":"evil","target":"logs-test-evil"}`),
		})
	}
	_ = emit(ctx, b)
	return nil
}

func (spoofInput) Ack(uint64) {}

func init() {
	sdk.Register(sdk.Registration{Kind: sdk.KindInput, Name: "testspoof", New: func() any { return spoofInput{} }})
}

// TestInputCannotChooseTenant checks that an input cannot set the tenant,
// routes or metadata of its records: with no tenant step in the flow they
// have no tenant and are quarantined, in-process and across processes.
func TestInputCannotChooseTenant(t *testing.T) {
	for _, inProcess := range []bool{true, false} {
		t.Run(map[bool]string{true: "in process", false: "subprocesses"}[inProcess], func(t *testing.T) {
			dir := t.TempDir()
			sink := filepath.Join(dir, "sink.ndjson")
			f := writeFlow(t, dir, fmt.Sprintf(`
routing:
  target: "logs-test-{tenant}"
inputs:
  - testspoof: {}
outputs:
  - testsink: {path: %q}
`, sink))
			r, err := host.New(f, host.Options{InProcess: inProcess, Command: selfCommand(t),
				DataDir: filepath.Join(dir, "data"), Logger: quietLogger()})
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			got := readSink(t, sink)
			if len(got) != 5 {
				t.Fatalf("%d records delivered, want 5", len(got))
			}
			for _, s := range got {
				if s.Target != "quarantine-mdrsflow-default" || !strings.Contains(s.Quarantine, "no tenant") {
					t.Errorf("record from an input that named its tenant went to %q (quarantine %q)",
						s.Target, s.Quarantine)
				}
			}
		})
	}
}
