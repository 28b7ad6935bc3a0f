//go:build linux

package wire

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/credentials"
)

// peerChecked says that on this system the host and its plugins guard
// their connection with the kernel's word on who is at the other end of
// the socket instead of with TLS.
const peerChecked = true

// peerCreds are the transport credentials of the connection between the
// host and one of its plugin processes. go-plugin serves each plugin on a
// Unix socket, whose bytes never leave the kernel, so the question is not
// who can read them but who is at the other end. The kernel answers that
// (SO_PEERCRED): the plugin accepts only its parent process, the host
// accepts only a socket served by one of its own children, and both must
// run as the same user. A handshake that fails closes the connection
// before any call is made.
type peerCreds struct{}

// peerAuth is what a checked connection carries: the process at the other
// end.
type peerAuth struct {
	credentials.CommonAuthInfo
	pid int
}

func (peerAuth) AuthType() string { return "peercred" }

func (peerCreds) ClientHandshake(_ context.Context, _ string, conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	cred, err := peerOf(conn)
	if err != nil {
		return nil, nil, err
	}
	if int(cred.Uid) != os.Geteuid() {
		return nil, nil, fmt.Errorf("plugin socket %s is served by user %d, not by this process's user %d: "+
			"refusing to send events to it", conn.RemoteAddr(), cred.Uid, os.Geteuid())
	}
	ppid, err := parentOf(int(cred.Pid))
	if err != nil {
		return nil, nil, fmt.Errorf("plugin socket %s: cannot tell who serves it: %w", conn.RemoteAddr(), err)
	}
	if ppid != os.Getpid() {
		return nil, nil, fmt.Errorf("plugin socket %s is served by process %d, which this process "+
			"did not start (its parent is %d): refusing to send events to it", conn.RemoteAddr(), cred.Pid, ppid)
	}
	return conn, peerAuth{credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}, int(cred.Pid)}, nil
}

// hostPid is the process that started this one, read as the process
// starts: once the host has died the parent is whoever adopted the orphan
// (init, a container's init, a subreaper), which must not be able to call
// it in the moment before it notices and exits.
var hostPid = os.Getppid()

func (peerCreds) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	cred, err := peerOf(conn)
	if err != nil {
		return nil, nil, err
	}
	if os.Getppid() != hostPid {
		return nil, nil, fmt.Errorf("refused a connection from process %d: the mdrsflow process "+
			"that started this plugin (%d) has exited", cred.Pid, hostPid)
	}
	if int(cred.Pid) != hostPid || int(cred.Uid) != os.Geteuid() {
		err := fmt.Errorf("refused a connection from process %d (user %d): "+
			"only the mdrsflow process that started this plugin (%d, user %d) may call it",
			cred.Pid, cred.Uid, hostPid, os.Geteuid())
		// The host shows a plugin's log lines; someone probing its
		// sockets is worth an operator's look, once a minute at most.
		if n, ok := refusals.note(time.Now()); ok {
			slog.Warn("plugin socket: "+err.Error()+"; find out what process that is",
				"socket", conn.LocalAddr().String(), "refused_since_last_warning", n)
		}
		return nil, nil, err
	}
	return conn, peerAuth{credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}, int(cred.Pid)}, nil
}

func (peerCreds) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "peercred"}
}

func (c peerCreds) Clone() credentials.TransportCredentials { return c }

func (peerCreds) OverrideServerName(string) error { return nil }

// refusals counts refused connections so that a process hammering a
// plugin's socket gets a warning a minute, not a line per attempt.
var refusals refusalLog

type refusalLog struct {
	mu    sync.Mutex
	last  time.Time
	count int
}

// note counts one refusal and reports whether to warn now, with the
// refusals counted since the last warning, this one included.
func (r *refusalLog) note(now time.Time) (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.count++
	if !r.last.IsZero() && now.Sub(r.last) < time.Minute {
		return 0, false
	}
	n := r.count
	r.last, r.count = now, 0
	return n, true
}

// peerOf asks the kernel who is at the other end of a Unix socket.
func peerOf(conn net.Conn) (*unix.Ucred, error) {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return nil, fmt.Errorf("plugin connection over %s (%s): only Unix sockets are accepted",
			conn.RemoteAddr().Network(), conn.RemoteAddr())
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("plugin connection: %w", err)
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return nil, fmt.Errorf("plugin connection: %w", err)
	}
	if credErr != nil {
		return nil, fmt.Errorf("plugin connection: reading the peer's credentials (SO_PEERCRED): %w", credErr)
	}
	return cred, nil
}

// parentOf reads the parent process id of pid from /proc/<pid>/stat.
func parentOf(pid int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses,
	// so read after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	fields := bytes.Fields(b[i+1:])
	if len(fields) < 2 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return strconv.Atoi(string(fields[1]))
}
