//go:build linux

package host_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/mdrsflow/mdrsflow/runtime/wire"
	"github.com/mdrsflow/mdrsflow/sdk"
)

// strangerEnv makes the test binary, started by the test, call the plugin
// socket it names as any other process of the same user could, print what
// happened and exit.
const strangerEnv = "MDRSFLOW_TEST_STRANGER_DIAL"

// midHostEnv makes the test binary act as a host: it launches one plugin
// process, prints the plugin's socket and process id, and waits to be
// killed.
const midHostEnv = "MDRSFLOW_TEST_MID_HOST"

func init() {
	if os.Getenv(wire.Handshake.MagicCookieKey) == wire.Handshake.MagicCookieValue {
		return // a plugin process: TestMain serves
	}
	if target := os.Getenv(strangerEnv); target != "" {
		if err := callPlugin(target); err != nil {
			fmt.Println("refused:", err)
		} else {
			fmt.Println("answered")
		}
		os.Exit(0)
	}
	if dir := os.Getenv(midHostEnv); dir != "" {
		exe, _ := os.Executable()
		hs := filepath.Join(dir, "handshake")
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), handshakeFileEnv+"="+hs)
		p, err := wire.Launch(cmd, sdk.KindFilter, slog.New(slog.DiscardHandler), nil)
		if err != nil {
			fmt.Println("launch:", err)
			os.Exit(1)
		}
		line, _ := os.ReadFile(hs)
		parts := strings.Split(strings.TrimSpace(string(line)), "|")
		fmt.Println(parts[3], p.Pid())
		select {}
	}
}

// callPlugin calls the plugin socket at target as any process could:
// plain gRPC, the health service go-plugin serves.
func callPlugin(target string) error {
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: "plugin"})
	return err
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
	if dir := filepath.Base(filepath.Dir(addr)); !strings.HasPrefix(dir, "mdrsflow-sockets-") {
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

// When the host dies, the kernel hands its plugin processes to init or to
// the nearest subreaper (a container's init, a supervisor). A plugin lives
// on for up to a second before it notices and exits; in that second its
// new parent must not be able to call it. The test makes itself a
// subreaper, starts a host that launches a plugin, kills the host, and
// calls the orphaned plugin as its new parent.
func TestOrphanedPluginRefusesItsNewParent(t *testing.T) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Skip("cannot become a subreaper:", err)
	}
	defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	host := exec.Command(exe)
	host.Env = append(os.Environ(), midHostEnv+"="+t.TempDir())
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	var addr string
	var pid int
	if _, err := fmt.Fscan(out, &addr, &pid); err != nil {
		host.Process.Kill()
		t.Fatalf("the host did not report its plugin: %v", err)
	}
	// Reap the orphan once it has gone, whatever happens below.
	defer func() {
		var ws unix.WaitStatus
		_, _ = unix.Wait4(pid, &ws, 0, nil)
	}()

	if err := callPlugin("unix://" + addr); err == nil {
		t.Log("(this process is not the plugin's parent yet, and was refused: expected)")
	}
	_ = host.Process.Kill()
	_ = host.Wait()
	// The killed host's socket folder; a later host would remove it.
	defer os.RemoveAll(filepath.Dir(addr))

	// The plugin is now this process's child, and still running.
	for deadline := time.Now().Add(time.Second); ; {
		if ppid, err := parentOfPid(pid); err == nil && ppid == os.Getpid() {
			break
		}
		if time.Now().After(deadline) {
			t.Skip("the orphaned plugin was not handed to this process")
		}
		time.Sleep(5 * time.Millisecond)
	}
	err = callPlugin("unix://" + addr)
	if unix.Kill(pid, 0) != nil {
		t.Skip("the plugin exited before it could be called; nothing shown")
	}
	if err == nil {
		t.Fatal("an orphaned plugin answered the process that adopted it")
	}
	t.Logf("refused: %v", err)
}

// parentOfPid reads the parent process id of pid.
func parentOfPid(pid int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(fields) < 2 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return strconv.Atoi(fields[1])
}
