package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// These tests run the real binary (this test binary as main) and check
// the security promises an operator sees from the outside: the HTTP
// endpoint's token, TLS verification, the plugin pin, and secrets kept
// out of every output. docs/security.md describes what they prove.

// lockedBuffer is a bytes.Buffer a running process writes while the test
// reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// running is a `mdrsflow run` in the background.
type running struct {
	cmd            *exec.Cmd
	stdout, stderr *lockedBuffer
	// base is the HTTP endpoint's URL, reached on loopback.
	base string
}

// startRun starts `mdrsflow run` in dir and waits until its HTTP endpoint
// listens.
func startRun(t *testing.T, dir string, env []string, args ...string) *running {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r := &running{cmd: exec.Command(exe, append([]string{"run"}, args...)...),
		stdout: &lockedBuffer{}, stderr: &lockedBuffer{}}
	r.cmd.Dir = dir
	r.cmd.Env = append(append(os.Environ(), "MDRSFLOW_TEST_MAIN=1"), env...)
	r.cmd.Stdout, r.cmd.Stderr = r.stdout, r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if r.cmd.ProcessState == nil {
			_ = r.cmd.Process.Kill()
			_ = r.cmd.Wait()
		}
	})
	listening := regexp.MustCompile(`msg="http endpoint listening" addr=\S*:(\d+)`)
	deadline := time.Now().Add(time.Minute)
	for {
		if m := listening.FindStringSubmatch(r.stderr.String()); m != nil {
			r.base = "http://127.0.0.1:" + m[1]
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("the http endpoint did not start:\n%s", r.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (r *running) stop(t *testing.T) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\nstderr:\n%s", err, r.stderr.String())
		}
	case <-time.After(time.Minute):
		_ = r.cmd.Process.Kill()
		t.Fatalf("no exit within a minute of SIGTERM\nstderr:\n%s", r.stderr.String())
	}
}

// get fetches path with token (none when ""), returning status and body.
func (r *running) get(t *testing.T, path, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, r.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// followFlow writes a flow that follows the Zeek logs in dir/logs (one
// copy of the bundled DNS log) through the tenant step into the outputs
// given, and returns its path.
func followFlow(t *testing.T, dir, outputs string) string {
	t.Helper()
	logs := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "testdata/zeek/json/dns.log"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(logs, "dns.log"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "flow.yaml")
	text := fmt.Sprintf(`name: site
inputs:
  - file: {paths: [%q], mode: follow}
filters:
  - tenant: {static: acme, allow: "${MDRSFLOW_TENANTS:-}"}
  - use: %q
outputs:
%s`, filepath.Join(logs, "*.log"), filepath.Join(repoRoot(t), "flows/corelight.yaml"), outputs)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeSecretFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// ---------------------------------------------------------------------
// HTTP endpoint

func TestHTTPOffLoopbackNeedsToken(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty-token")
	writeSecretFile(t, empty, "\n")
	for _, tc := range []struct {
		name string
		args []string
		env  string
	}{
		{"all interfaces", []string{"--http", "0.0.0.0:0"}, ""},
		{"no host", []string{"--http", ":0"}, ""},
		{"a non-loopback name", []string{"--http", "example.invalid:9600"}, ""},
		{"empty token file", []string{"--http", "0.0.0.0:0", "--http-token-file", empty}, ""},
		{"white space token", []string{"--http", "0.0.0.0:0"}, "MDRSFLOW_HTTP_TOKEN=  \t "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, "out")
			args := append(append([]string{"run", "--data-dir", filepath.Join(dir, "data")}, tc.args...),
				"flows/quickstart.yaml")
			env := []string{"MDRSFLOW_HTTP_TOKEN=", "MDRSFLOW_HTTP_TOKEN_FILE=", "MDRSFLOW_ES_URL=", "MDRSFLOW_OUT=" + out}
			if tc.env != "" {
				env = append(env, tc.env)
			}
			stdout, stderr, err := mdrsflow(t, repoRoot(t), env, args...)
			if err == nil {
				t.Fatalf("run served %v without a token:\n%s%s", tc.args, stdout, stderr)
			}
			for _, want := range []string{
				"a bearer token is required to serve on a non-loopback address",
				"set MDRSFLOW_HTTP_TOKEN or --http-token-file, or listen on 127.0.0.1",
			} {
				if !strings.Contains(stderr, want) {
					t.Errorf("the error does not say %q:\n%s", want, stderr)
				}
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("events were processed before the refusal: %s exists", out)
			}
		})
	}
}

func TestHTTPOffLoopbackWithToken(t *testing.T) {
	const token = "endpoint-token-5f1c"
	for _, openProbes := range []bool{false, true} {
		t.Run(fmt.Sprintf("open probes %v", openProbes), func(t *testing.T) {
			dir := t.TempDir()
			tokenFile := filepath.Join(dir, "token")
			writeSecretFile(t, tokenFile, token+"\n")
			f := followFlow(t, dir, "  - file: {path: out}\n")
			args := []string{"--data-dir", filepath.Join(dir, "data"), "--http", "0.0.0.0:0",
				"--http-token-file", tokenFile}
			if openProbes {
				args = append(args, "--http-open-probes")
			}
			r := startRun(t, dir, []string{"MDRSFLOW_HTTP_TOKEN="}, append(args, f)...)
			defer r.stop(t)

			if !strings.Contains(r.stderr.String(), "token_required=true") {
				t.Errorf("the start does not say a token is required:\n%s", r.stderr.String())
			}
			for _, path := range []string{"/metrics", "/", "/healthz", "/readyz"} {
				probe := path == "/healthz" || path == "/readyz"
				for _, sent := range []string{"", "wrong", token} {
					code, body := r.get(t, path, sent)
					open := sent == token || openProbes && probe
					if open && code == http.StatusUnauthorized || !open && code != http.StatusUnauthorized {
						t.Errorf("GET %s with token %q: %d %s", path, sent, code, body)
					}
				}
			}
		})
	}
}

// ---------------------------------------------------------------------
// Secrets

// fakeES answers like Elasticsearch: cluster info, template calls, and a
// bulk API that rejects every item for its mapping, so that a run has
// errors to report and dead letters to write. It records the
// Authorization headers it saw.
type fakeES struct {
	*httptest.Server
	mu    sync.Mutex
	auths map[string]bool
}

func newFakeES(t *testing.T, tlsOn bool) *fakeES {
	f := &fakeES{auths: map[string]bool{}}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.auths[r.Header.Get("Authorization")] = true
		f.mu.Unlock()
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		w.Header().Set("Content-Type", "application/json")
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/":
			fmt.Fprint(w, `{"cluster_name":"fake","version":{"number":"8.15.0"}}`)
		case strings.HasSuffix(r.URL.Path, "/_bulk"):
			var items []string
			sc := bufio.NewScanner(body)
			sc.Buffer(nil, 16<<20)
			for n := 0; sc.Scan(); n++ {
				if n%2 == 0 {
					items = append(items, `{"create":{"status":400,"error":{"type":"mapper_parsing_exception",`+
						`"reason":"failed to parse field [dns.answers]"}}}`)
				}
			}
			fmt.Fprintf(w, `{"took":1,"errors":true,"items":[%s]}`, strings.Join(items, ","))
		default:
			_, _ = io.Copy(io.Discard, body)
			fmt.Fprint(w, `{"acknowledged":true}`)
		}
	})
	if tlsOn {
		f.Server = httptest.NewUnstartedServer(h)
		f.Config.ErrorLog = log.New(io.Discard, "", 0)
		f.StartTLS()
	} else {
		f.Server = httptest.NewServer(h)
	}
	t.Cleanup(f.Close)
	return f
}

// sawAuth reports whether an Authorization header with this scheme
// (in any case) and these credentials arrived.
func (f *fakeES) sawAuth(scheme, creds string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for a := range f.auths {
		s, c, _ := strings.Cut(a, " ")
		if strings.EqualFold(s, scheme) && c == creds {
			return true
		}
	}
	return false
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func planted(t *testing.T, what string) string {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "planted" + what + hex.EncodeToString(b)
}

// leaks reports where any of the secrets (or their base64 forms, as they
// travel in Authorization headers) appears in texts.
func leaks(secrets []string, texts map[string]string) []string {
	var found []string
	for _, s := range secrets {
		forms := []string{s, base64.StdEncoding.EncodeToString([]byte(s)),
			base64.StdEncoding.EncodeToString([]byte("elastic:" + s))}
		for name, text := range texts {
			for _, f := range forms {
				if strings.Contains(text, f) {
					found = append(found, fmt.Sprintf("%s holds %q", name, f))
				}
			}
		}
	}
	return found
}

// TestSecretsNeverLeak plants unique secrets in the environment (API key,
// service token, HTTP token) and in a password file, runs `check` and
// `run` at debug level against clusters that reject every event, are
// unreachable or fail TLS verification, and looks for the secrets in
// stdout, stderr, /metrics, the status page, /readyz and the dead-letter
// files.
func TestSecretsNeverLeak(t *testing.T) {
	apiKey, password := planted(t, "APIKEY"), planted(t, "PASSWORD")
	serviceToken, httpToken := planted(t, "SERVICETOKEN"), planted(t, "HTTPTOKEN")
	secrets := []string{apiKey, password, serviceToken, httpToken}

	dir := t.TempDir()
	pwFile := filepath.Join(dir, "es-password")
	writeSecretFile(t, pwFile, password+"\n")
	es := newFakeES(t, false)
	tlsES := newFakeES(t, true)
	f := followFlow(t, dir, fmt.Sprintf(`  - elasticsearch:
      hosts: ["${MDRSFLOW_ES_URL}"]
      api_key: ${MDRSFLOW_ES_API_KEY}
    id: es_api_key
  - elasticsearch:
      hosts: [%q]
      username: elastic
      password_file: %q
    id: es_password
  - elasticsearch:
      hosts: ["http://%s"]
      service_token: ${MDRSFLOW_TEST_SERVICE_TOKEN}
    id: es_unreachable
    when: 'false'
  - elasticsearch:
      hosts: [%q]
      api_key: ${MDRSFLOW_ES_API_KEY}
    id: es_untrusted_tls
    when: 'false'
`, es.URL, pwFile, closedPort(t), tlsES.URL))
	env := []string{"MDRSFLOW_ES_URL=" + es.URL, "MDRSFLOW_ES_API_KEY=" + apiKey,
		"MDRSFLOW_TEST_SERVICE_TOKEN=" + serviceToken, "MDRSFLOW_HTTP_TOKEN=" + httpToken,
		"MDRSFLOW_HTTP_TOKEN_FILE=", "MDRSFLOW_LOG_LEVEL=debug"}
	texts := map[string]string{}

	// check, fine and failing: a URL with a password in it, a bad setting
	// beside a secret.
	stdout, stderr, err := mdrsflow(t, dir, env, "--log-level", "debug", "check", f)
	if err != nil {
		t.Fatalf("check: %v\n%s%s", err, stdout, stderr)
	}
	texts["check stdout"], texts["check stderr"] = stdout, stderr
	for i, outputs := range []string{
		`  - elasticsearch: {hosts: ["${MDRSFLOW_TEST_URL}"]}` + "\n",
		`  - elasticsearch:
      hosts: ["${MDRSFLOW_ES_URL}"]
      api_key: ${MDRSFLOW_ES_API_KEY}
      username: elastic
      password_file: ` + pwFile + `
      flush_records: -1
`,
		`  - elasticsearch:
      hosts: ["${MDRSFLOW_ES_URL}"]
      service_token: ${MDRSFLOW_TEST_SERVICE_TOKEN}
      timeout: ${MDRSFLOW_TEST_TIMEOUT}
`,
	} {
		bad := filepath.Join(dir, fmt.Sprintf("bad%d.yaml", i))
		writeSecretFile(t, bad, "inputs:\n  - stdin: {}\noutputs:\n"+outputs)
		stdout, stderr, err := mdrsflow(t, dir, append(env,
			"MDRSFLOW_TEST_URL=https://elastic:"+password+"@es.example:9200", "MDRSFLOW_TEST_TIMEOUT=soon"),
			"--log-level", "debug", "check", bad)
		if err == nil || !strings.Contains(stderr, "bad") {
			t.Errorf("check of a bad flow: %v, want an error:\n%s", err, stderr)
		}
		texts[bad+" check stdout"], texts[bad+" check stderr"] = stdout, stderr
	}

	// run, until every event has been rejected into the dead-letter queue.
	r := startRun(t, dir, env, "--log-level", "debug", "--data-dir", filepath.Join(dir, "data"), f)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, metrics := r.get(t, "/metrics", httpToken)
		if strings.Count(metrics, `outcome="dead_lettered"`) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events were not dead-lettered in time:\n%s\nstderr:\n%s", metrics, r.stderr.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, path := range []string{"/metrics", "/", "/readyz", "/healthz"} {
		code, body := r.get(t, path, httpToken)
		texts["GET "+path] = body
		if path == "/metrics" && code != http.StatusOK {
			t.Errorf("GET /metrics: %d %s", code, body)
		}
	}
	r.stop(t)
	texts["run stdout"], texts["run stderr"] = r.stdout.String(), r.stderr.String()
	_ = filepath.WalkDir(filepath.Join(dir, "data"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			texts[p] = string(b)
		}
		return nil
	})

	// The test means something only if the secrets were in use and the
	// runs had errors to report.
	if !es.sawAuth("ApiKey", apiKey) ||
		!es.sawAuth("Basic", base64.StdEncoding.EncodeToString([]byte("elastic:"+password))) {
		t.Errorf("the fake cluster never saw the planted credentials: %v", es.auths)
	}
	for _, want := range []string{"level=DEBUG", "mapper_parsing_exception", "cluster unreachable",
		"certificate signed by unknown authority"} {
		if !strings.Contains(texts["run stderr"], want) {
			t.Errorf("run stderr lacks %q; the errors this test looks through did not happen", want)
		}
	}
	if len(texts) < 10 {
		t.Errorf("only %d texts searched; the dead-letter files are missing", len(texts))
	}
	for _, l := range leaks(secrets, texts) {
		t.Error("secret leaked: " + l)
	}
}

// ---------------------------------------------------------------------
// TLS

// TestElasticsearchTLSVerifiedByDefault runs a flow whose Elasticsearch
// outputs face a cluster with a self-signed certificate: without ca_file
// the cluster is refused with an error that says what to set, with
// ca_file it is trusted, and insecure_skip_verify logs a warning at start.
func TestElasticsearchTLSVerifiedByDefault(t *testing.T) {
	dir := t.TempDir()
	es := newFakeES(t, true)
	ca := filepath.Join(dir, "ca.pem")
	writeSecretFile(t, ca, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: es.Certificate().Raw})))
	in := filepath.Join(dir, "conn.log")
	writeSecretFile(t, in, `{"_path":"conn","ts":1517422326.5,"uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":1,`+
		`"id.resp_h":"10.0.0.2","id.resp_p":2,"proto":"tcp"}`+"\n")
	f := filepath.Join(dir, "flow.yaml")
	writeSecretFile(t, f, fmt.Sprintf(`inputs:
  - file: {paths: [%q]}
filters:
  - tenant: {static: acme}
  - use: %q
outputs:
  - file: {path: out}
  - elasticsearch: {hosts: [%q]}
    id: es_default
    when: 'false'
  - elasticsearch: {hosts: [%q], ca_file: %q}
    id: es_ca_file
    when: 'false'
  - elasticsearch: {hosts: [%q], insecure_skip_verify: true}
    id: es_insecure
    when: 'false'
`, in, filepath.Join(repoRoot(t), "flows/corelight.yaml"), es.URL, es.URL, ca, es.URL))

	stdout, stderr, err := mdrsflow(t, dir, []string{"MDRSFLOW_LOG_FORMAT=json"}, "run", "--data-dir",
		filepath.Join(dir, "data"), f)
	if err != nil {
		t.Fatalf("run: %v\n%s%s", err, stdout, stderr)
	}
	lines := map[string][]map[string]any{}
	for _, l := range strings.Split(stderr, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil {
			id, _ := m["plugin"].(string)
			lines[id] = append(lines[id], m)
		}
	}
	has := func(id, msg, errPart string) bool {
		for _, m := range lines[id] {
			e, _ := m["err"].(string)
			if m["msg"] == msg && strings.Contains(e, errPart) {
				return true
			}
		}
		return false
	}
	if !has("es_default", "cluster unreachable at start; writes will be retried", "certificate signed by unknown authority") {
		t.Errorf("a self-signed cluster was not refused by default:\n%v", lines["es_default"])
	}
	if !has("es_default", "cluster unreachable at start; writes will be retried", "ca_file") {
		t.Errorf("the refusal does not say to set ca_file:\n%v", lines["es_default"])
	}
	if !has("es_ca_file", "connected", "") {
		t.Errorf("the cluster was not trusted with ca_file:\n%v", lines["es_ca_file"])
	}
	if !has("es_insecure", "tls certificate verification is off; anyone on the path can read and change what is sent", "") {
		t.Errorf("insecure_skip_verify did not warn at start:\n%v", lines["es_insecure"])
	}
	for _, m := range lines["es_insecure"] {
		if strings.HasPrefix(fmt.Sprint(m["msg"]), "tls certificate verification is off") && m["level"] != "WARN" {
			t.Errorf("the warning is logged at %v", m["level"])
		}
	}
}

// ---------------------------------------------------------------------
// Plugin pinning

// TestPinnedPluginRefusedAtRun runs a flow whose external plugin is
// pinned to another digest: the run refuses to start it, says both
// digests and what to do, and processes nothing.
func TestPinnedPluginRefusedAtRun(t *testing.T) {
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	actual := fmt.Sprintf("%x", sha256.Sum256(b))
	wrong := strings.Repeat("0", 64)
	for _, tc := range []struct{ name, pin, want string }{
		{"other digest", wrong, fmt.Sprintf("external plugin %s: refusing to start it: its SHA-256 is %s but the flow pins %s; "+
			"if the binary was updated on purpose, put the new digest in the flow", exe, actual, wrong)},
		{"not a digest", "abc", fmt.Sprintf("external plugin %s: sha256 \"abc\" is not 64 hex digits", exe)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(dir, "flow.yaml")
			writeSecretFile(t, f, fmt.Sprintf(`inputs:
  - stdin: {}
filters:
  - tenant: {static: acme}
  - external: {path: %q, sha256: %q}
outputs:
  - file: {path: out}
`, exe, tc.pin))
			stdout, stderr, err := mdrsflow(t, dir, nil, "run", "--data-dir", filepath.Join(dir, "data"), f)
			if err == nil {
				t.Fatalf("a plugin pinned to %s ran:\n%s%s", tc.pin, stdout, stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr does not say\n  %s\n%s", tc.want, stderr)
			}
			if written, _ := filepath.Glob(filepath.Join(dir, "out", "*")); len(written) > 0 {
				t.Errorf("events were written although the plugin was refused: %v", written)
			}
		})
	}
}
