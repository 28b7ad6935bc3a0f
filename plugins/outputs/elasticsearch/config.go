package elasticsearch

import (
	"compress/gzip"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	elastic "github.com/elastic/go-elasticsearch/v8"
	"go.yaml.in/yaml/v3"
)

// connection reads the secrets of the output's own settings: the shared
// cluster. Errors name the setting and the file, never a secret.
//
// Limitation: *_file secrets of the shared cluster are read at Start only
// — a rotated key takes effect after a reload or restart; re-reading on a
// 401 would fix it. (A tenant map's are read again whenever the map
// changes.)
func (e *Elasticsearch) connection() (connection, error) {
	apiKey, err := secret("api_key", e.APIKey, e.APIKeyFile)
	if err != nil {
		return connection{}, err
	}
	password, err := secret("password", e.Password, e.PasswordFile)
	if err != nil {
		return connection{}, err
	}
	token, err := secret("service_token", e.ServiceToken, e.ServiceTokenFile)
	if err != nil {
		return connection{}, err
	}
	if e.Username != "" && password != "" {
		registerSecret(e.Username + ":" + password) // basic auth on the wire
	}
	return connection{
		hosts: e.Hosts, cloudID: e.CloudID, apiKey: Secret(apiKey), username: e.Username,
		password: Secret(password), token: Secret(token), caFile: e.CAFile,
		certificate: e.Certificate, key: e.Key, insecure: e.InsecureSkip,
	}, nil
}

// clientConfig builds a client's configuration for one connection, reading
// its TLS files.
//
// Limitation: with retries off, a request sent to a node that is down is
// reported Retry instead of being resent to another of the hosts at once —
// the client then skips that node, so the engine's next attempt goes
// elsewhere after its backoff; retrying dial errors only (nothing sent)
// inside the client would save that wait.
func (e *Elasticsearch) clientConfig(c connection) (elastic.Config, error) {
	apiKey := string(c.apiKey)
	// Kibana shows an API key both encoded and as id and key; accept both.
	if strings.Contains(apiKey, ":") {
		apiKey = base64.StdEncoding.EncodeToString([]byte(apiKey))
	}

	tlsCfg, err := tlsConfig(c)
	if err != nil {
		return elastic.Config{}, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	tr.MaxIdleConnsPerHost = 4

	return elastic.Config{
		Addresses:    c.hosts,
		CloudID:      c.cloudID,
		APIKey:       apiKey,
		Username:     c.username,
		Password:     string(c.password),
		ServiceToken: string(c.token),
		Transport:    tr,
		// The engine retries per item with backoff; a retry in here would
		// resend items that already succeeded and hide how often it failed.
		DisableRetry:             true,
		CompressRequestBody:      e.Compression,
		CompressRequestBodyLevel: gzip.BestSpeed,
		// Read what is left of an answer on Close, so connections are reused.
		AutoDrainBody: true,
	}, nil
}

// secret returns a setting's value, or the content of its _file setting
// with surrounding white space trimmed.
func secret(name string, value Secret, file string) (string, error) {
	if file == "" {
		registerSecret(string(value))
		return string(value), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("elasticsearch: read %s_file: %w", name, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("elasticsearch: %s_file %q is empty; write the %s into it",
			name, file, name)
	}
	registerSecret(s)
	return s, nil
}

// The credentials this process uses, in the forms they take on the wire,
// so that text a cluster or a proxy sends back (an error that echoes the
// Authorization header, say) never carries them into a log line, a
// health report or the dead-letter queue.
var (
	secretsMu sync.RWMutex
	secrets   []string
)

func registerSecret(v string) {
	if len(v) < 4 {
		return // too short to redact without mangling ordinary text
	}
	secretsMu.Lock()
	defer secretsMu.Unlock()
	for _, form := range []string{v, base64.StdEncoding.EncodeToString([]byte(v))} {
		if !slices.Contains(secrets, form) {
			secrets = append(secrets, form)
		}
	}
}

// redact replaces every registered credential in s.
func redact(s string) string {
	secretsMu.RLock()
	defer secretsMu.RUnlock()
	for _, v := range secrets {
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	return s
}

func tlsConfig(c connection) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.insecure}
	if c.caFile != "" {
		pem, err := os.ReadFile(c.caFile)
		if err != nil {
			return nil, fmt.Errorf("elasticsearch: read ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("elasticsearch: ca_file %q holds no PEM certificate; "+
				"use the cluster's CA certificate (http_ca.crt on a default install)", c.caFile)
		}
		cfg.RootCAs = pool
	}
	if c.certificate != "" {
		cert, err := tls.LoadX509KeyPair(c.certificate, c.key)
		if err != nil {
			return nil, fmt.Errorf("elasticsearch: load client certificate %q and key %q: %w",
				c.certificate, c.key, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// connSettings is what checkConnection looks at, from the output's
// settings or from a tenant map entry.
type connSettings struct {
	hosts             []string
	cloudID, username string
	certificate, key  string
	secrets           []secretSetting
}

// secretSetting is one credential: set inline (or through the
// environment, in a tenant map) and/or from a file.
type secretSetting struct {
	name  string
	value bool   // set inline, or by an environment variable
	file  string // its _file setting
	alt   string // the name of the inline form, when it is not name
}

// checkConnection reports through bad what is wrong with a connection's
// settings, without touching files or the network.
func checkConnection(c connSettings, bad func(format string, a ...any)) {
	switch {
	case len(c.hosts) == 0 && c.cloudID == "":
		bad("set hosts (for example [\"https://es.example.com:9200\"]) or cloud_id")
	case len(c.hosts) > 0 && c.cloudID != "":
		bad("hosts and cloud_id are both set; keep one of them")
	}
	for i, h := range c.hosts {
		if err := checkHost(h); err != nil {
			bad("hosts[%d]: %w", i, err)
		}
	}
	set := map[string]bool{}
	for _, s := range c.secrets {
		inline := s.name
		if s.alt != "" {
			inline = s.alt
		}
		if s.value && s.file != "" {
			bad("%s and %s_file are both set; keep one of them", inline, s.name)
		}
		set[s.name] = s.value || s.file != ""
	}
	if (c.username != "") != set["password"] {
		bad("username and password (or password_file) go together; set both or neither")
	}
	schemes := 0
	for _, on := range []bool{set["api_key"], c.username != "", set["service_token"]} {
		if on {
			schemes++
		}
	}
	if schemes > 1 {
		bad("set only one of api_key, username/password and service_token")
	}
	if (c.certificate == "") != (c.key == "") {
		bad("certificate and key go together; set both or neither")
	}
}

// ---------------------------------------------------------------------------

// ByteSize is a size in bytes. In YAML it is a number of bytes or a number
// with a unit: B, KiB, MiB, GiB (powers of 1024) or KB, MB, GB (of 1000).
type ByteSize int64

// Units of ByteSize.
const (
	KiB ByteSize = 1 << 10
	MiB ByteSize = 1 << 20
	GiB ByteSize = 1 << 30
)

var byteUnits = []struct {
	suffix string
	mult   ByteSize
}{
	{"KiB", KiB}, {"MiB", MiB}, {"GiB", GiB},
	{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"B", 1},
}

// UnmarshalYAML decodes a size such as 5242880, "5MiB" or "512 KiB".
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseByteSize(n.Value)
	if err != nil || n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: %q is not a size; write bytes or a size such as 5MiB",
			n.Line, n.Value)
	}
	*b = v
	return nil
}

// ParseByteSize parses a size written as in YAML settings.
func ParseByteSize(s string) (ByteSize, error) {
	s = strings.TrimSpace(s)
	mult := ByteSize(1)
	for _, u := range byteUnits {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(num), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return ByteSize(n) * mult, nil
}

// String writes the size with the largest binary unit that divides it.
func (b ByteSize) String() string {
	for _, u := range byteUnits[:3] {
		if b >= u.mult && b%u.mult == 0 && (b/u.mult) < 1024 {
			return strconv.FormatInt(int64(b/u.mult), 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10) + "B"
}

// ---------------------------------------------------------------------------

// readSmall reads at most 4 KiB of a response body for an error message.
func readSmall(r io.Reader) []byte {
	b, _ := io.ReadAll(io.LimitReader(r, 4<<10))
	return b
}

func decodeJSON(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }
