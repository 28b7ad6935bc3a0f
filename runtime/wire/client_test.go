package wire

import (
	"log/slog"
	"os/exec"
	"runtime"
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
