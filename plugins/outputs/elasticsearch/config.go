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
	"strconv"
	"strings"

	elastic "github.com/elastic/go-elasticsearch/v8"
	"go.yaml.in/yaml/v3"
)

// clientConfig reads the secret and TLS files and builds the client's
// configuration. Errors name the setting and the file, never a secret.
//
// Limitation: *_file secrets are read here, at Start, only — a rotated key
// takes effect after a reload or restart; re-reading on a 401 would fix it.
//
// Limitation: with retries off, a request sent to a node that is down is
// reported Retry instead of being resent to another of the hosts at once —
// the client then skips that node, so the engine's next attempt goes
// elsewhere after its backoff; retrying dial errors only (nothing sent)
// inside the client would save that wait.
func (e *Elasticsearch) clientConfig() (elastic.Config, error) {
	apiKey, err := secret("api_key", e.APIKey, e.APIKeyFile)
	if err != nil {
		return elastic.Config{}, err
	}
	password, err := secret("password", e.Password, e.PasswordFile)
	if err != nil {
		return elastic.Config{}, err
	}
	token, err := secret("service_token", e.ServiceToken, e.ServiceTokenFile)
	if err != nil {
		return elastic.Config{}, err
	}
	// Kibana shows an API key both encoded and as id and key; accept both.
	if strings.Contains(apiKey, ":") {
		apiKey = base64.StdEncoding.EncodeToString([]byte(apiKey))
	}

	tlsCfg, err := e.tlsConfig()
	if err != nil {
		return elastic.Config{}, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	tr.MaxIdleConnsPerHost = 4

	return elastic.Config{
		Addresses:    e.Hosts,
		CloudID:      e.CloudID,
		APIKey:       apiKey,
		Username:     e.Username,
		Password:     password,
		ServiceToken: token,
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
	return s, nil
}

func (e *Elasticsearch) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: e.InsecureSkip}
	if e.CAFile != "" {
		pem, err := os.ReadFile(e.CAFile)
		if err != nil {
			return nil, fmt.Errorf("elasticsearch: read ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("elasticsearch: ca_file %q holds no PEM certificate; "+
				"use the cluster's CA certificate (http_ca.crt on a default install)", e.CAFile)
		}
		cfg.RootCAs = pool
	}
	if e.Certificate != "" {
		cert, err := tls.LoadX509KeyPair(e.Certificate, e.Key)
		if err != nil {
			return nil, fmt.Errorf("elasticsearch: load client certificate %q and key %q: %w",
				e.Certificate, e.Key, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
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
