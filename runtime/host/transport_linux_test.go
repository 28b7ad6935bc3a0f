//go:build linux

package host_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/mdrsflow/mdrsflow/runtime/chain"
	"github.com/mdrsflow/mdrsflow/runtime/stage"
	"github.com/mdrsflow/mdrsflow/runtime/wire"
	"github.com/mdrsflow/mdrsflow/sdk"
)

// strangerEnv makes the test binary, started by the test, call the plugin
// socket it names as any other process of the same user could, print what
// happened and exit.
const strangerEnv = "MDRSFLOW_TEST_STRANGER_DIAL"

func init() {
	target := os.Getenv(strangerEnv)
	if target == "" {
		return
	}
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: "plugin"})
		cancel()
		conn.Close()
	}
	if err == nil {
		fmt.Println("answered")
	} else {
		fmt.Println("refused:", err)
	}
	os.Exit(0)
}

// TestPluginTransportAcceptsOnlyItsHost launches a plugin process the way
// the host does (wire.Launch) and shows that on Linux its socket answers
// the host that started it and no other process of the same user: the
// plugin asks the kernel who connected (SO_PEERCRED) and refuses anyone
// but its parent.
func TestPluginTransportAcceptsOnlyItsHost(t *testing.T) {
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
	defer p.Kill()

	line, err := os.ReadFile(hsFile)
	if err != nil {
		t.Fatalf("the plugin's handshake was not recorded: %v", err)
	}
	parts := strings.Split(strings.TrimSpace(string(line)), "|")
	if len(parts) < 5 {
		t.Fatalf("handshake %q: want core|app|network|address|protocol", line)
	}
	network, addr, proto := parts[2], parts[3], parts[4]
	if network != "unix" || proto != "grpc" {
		t.Fatalf("plugin serves %s over %s, want grpc over a unix socket", proto, network)
	}
	if len(parts) > 5 && parts[5] != "" {
		t.Errorf("handshake carries a TLS certificate; on Linux the kernel's peer check replaces it")
	}

	// The host's own client gets through.
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

	// Another process of the same user, holding the address, does not.
	stranger := exec.Command(exe)
	stranger.Env = append(os.Environ(), strangerEnv+"=unix://"+addr)
	out, err := stranger.CombinedOutput()
	if err != nil {
		t.Fatalf("stranger process: %v\n%s", err, out)
	}
	got := strings.TrimSpace(string(out))
	if !strings.HasPrefix(got, "refused:") {
		t.Fatalf("a process the host did not start called the plugin: %s", got)
	}
	t.Logf("stranger %s", got)
}
