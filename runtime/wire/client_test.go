package wire

import (
	"log/slog"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mdrsflow/mdrsflow/sdk"
)

// A plugin built against an older plugin protocol announces its version in
// the go-plugin handshake line; the host must refuse it and tell the
// operator to rebuild it, not only repeat go-plugin's words.
func TestLaunchNamesAnOldProtocol(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs /bin/sh")
	}
	old := Handshake.ProtocolVersion - 1
	line := strings.Join([]string{"1", strconv.Itoa(int(old)), "tcp", "127.0.0.1:1", "grpc", ""}, "|")
	cmd := exec.Command("/bin/sh", "-c", "echo '"+line+"'; exec sleep 30")
	p, err := Launch(cmd, sdk.KindFilter, slog.New(slog.DiscardHandler), nil)
	if err == nil {
		p.Kill()
		t.Fatal("a plugin speaking an older protocol was started")
	}
	msg := err.Error()
	for _, want := range []string{"start filter plugin /bin/sh", "Plugin version: " + strconv.Itoa(int(old)), "rebuild it"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
}

func TestLaunchDropsAnotherHostsPluginEnv(t *testing.T) {
	got := withoutPluginEnv([]string{"PATH=/bin", "PLUGIN_CLIENT_CERT=garbage", "PLUGIN_PROTOCOL_VERSIONS=5",
		"PLUGIN_MIN_PORT=1", "PLUGIN_MAX_PORT=2", "PLUGIN_UNIX_SOCKET_DIR=/run/x", "MY_PLUGIN_CLIENT_CERT=keep"})
	want := []string{"PATH=/bin", "PLUGIN_UNIX_SOCKET_DIR=/run/x", "MY_PLUGIN_CLIENT_CERT=keep"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	t.Setenv("PLUGIN_CLIENT_CERT", "garbage")
	if slices.ContainsFunc(withoutPluginEnv(nil), func(kv string) bool { return strings.HasPrefix(kv, "PLUGIN_CLIENT_CERT=") }) {
		t.Fatal("the host's own PLUGIN_CLIENT_CERT was passed on")
	}
}
