//go:build linux

package host_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
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
	p, parts := launchRecorded(t)
	network, addr := parts[2], parts[3]
	if network != "unix" {
		t.Fatalf("plugin serves on %s, want a unix socket", network)
	}
	if len(parts) > 5 && parts[5] != "" {
		t.Errorf("handshake carries a TLS certificate; on Linux the kernel's peer check replaces it")
	}
	// The socket is in the host's own folder, which only its user can
	// enter and which the host removes as it exits.
	if dir := filepath.Base(filepath.Dir(addr)); !strings.HasPrefix(dir, "mdrsflow-"+strconv.Itoa(os.Getpid())+"-") {
		t.Errorf("plugin socket %s is not in this host's socket folder", addr)
	}
	if info, err := os.Stat(filepath.Dir(addr)); err != nil {
		t.Errorf("socket folder: %v", err)
	} else if info.Mode().Perm() != 0o700 {
		t.Errorf("socket folder mode %v, want 0700", info.Mode().Perm())
	}
	hostGetsThrough(t, p)

	// Another process of the same user, holding the address, does not.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
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

// mdrsflow started by another go-plugin host inherits that host's
// PLUGIN_CLIENT_CERT; its plugins must not take it up.
func TestAnotherHostsPluginCertIsIgnored(t *testing.T) {
	t.Setenv("PLUGIN_CLIENT_CERT", "garbage")
	p, parts := launchRecorded(t)
	if len(parts) > 5 && parts[5] != "" {
		t.Errorf("the plugin answered with a TLS certificate: it took up the inherited PLUGIN_CLIENT_CERT")
	}
	hostGetsThrough(t, p)
}
