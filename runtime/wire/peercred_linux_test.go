//go:build linux

package wire

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// serveHealth serves gRPC's health service on a fresh Unix socket with
// the given server options and returns the target to dial.
func serveHealth(t *testing.T, opts ...grpc.ServerOption) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(s, health.NewServer())
	go s.Serve(l)
	t.Cleanup(s.Stop)
	return "unix://" + path
}

func check(t *testing.T, target string, opts ...grpc.DialOption) error {
	t.Helper()
	conn, err := grpc.NewClient(target, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	return err
}

// Here the test process is at both ends of the socket: it is not its own
// parent, so a plugin's server refuses it, and it did not start itself,
// so the host's client refuses the server. With plain credentials on
// both ends the same call goes through, which shows that the refusals
// are the peer checks.
func TestPeerCredsRefuseAnyoneElse(t *testing.T) {
	plain := grpc.WithTransportCredentials(insecure.NewCredentials())
	if err := check(t, serveHealth(t), plain); err != nil {
		t.Fatalf("plain call on a plain server: %v", err)
	}

	err := check(t, serveHealth(t, grpc.Creds(peerCreds{})), plain)
	if err == nil {
		t.Fatal("a plugin's server answered a process that is not its parent")
	}
	t.Logf("server refused: %v", err)

	err = check(t, serveHealth(t), grpc.WithTransportCredentials(peerCreds{}))
	if err == nil || !strings.Contains(err.Error(), "did not start") {
		t.Fatalf("host client on a socket served by a process it did not start: got %v, want a refusal naming it", err)
	}
	t.Logf("client refused: %v", err)
}

func TestParentOf(t *testing.T) {
	self, err := parentOf(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if self != os.Getppid() {
		t.Fatalf("parentOf(self) = %d, want %d", self, os.Getppid())
	}
	if _, err := parentOf(-1); err == nil {
		t.Fatal("parentOf(-1): want an error")
	}
}

func TestRefusalWarningsAreRateLimited(t *testing.T) {
	var r refusalLog
	t0 := time.Unix(1000, 0)
	if n, ok := r.note(t0); !ok || n != 1 {
		t.Fatalf("first refusal: warn=%v count=%d, want a warning for 1", ok, n)
	}
	for i := 1; i <= 50; i++ {
		if _, ok := r.note(t0.Add(time.Duration(i) * time.Second)); ok {
			t.Fatalf("refusal %d seconds later warned again", i)
		}
	}
	if n, ok := r.note(t0.Add(61 * time.Second)); !ok || n != 51 {
		t.Fatalf("a minute later: warn=%v count=%d, want a warning for 51", ok, n)
	}
}
