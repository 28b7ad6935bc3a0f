package elasticsearch

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mdrsflow/mdrsflow/plugins/outputs/elasticsearch/estest"
	"github.com/mdrsflow/mdrsflow/sdk"
)

func TestTLS(t *testing.T) {
	srv := estest.New(t, estest.WithTLS())
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	writeFile(t, caFile, string(srv.CertificatePEM()))

	tests := []struct {
		name     string
		settings string
		status   sdk.Status
		reason   string // substring of the Retry reason
		log      string // substring of the logs
	}{
		{"verification on by default", "", sdk.Retry, "certificate signed by unknown authority",
			"cluster unreachable at start"},
		{"ca_file", fmt.Sprintf("ca_file: %q\n", caFile), sdk.Delivered, "", `"msg":"connected"`},
		{"insecure_skip_verify", "insecure_skip_verify: true\n", sdk.Delivered, "",
			"tls certificate verification is off"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs syncBuffer
			e := start(t, hostSettings(srv, tc.settings), slog.New(slog.NewJSONHandler(&logs, nil)))
			before := srv.Count()

			res := e.Write(context.Background(), records("t", tc.name, 3))

			for _, r := range res {
				if r.Status != tc.status || !strings.Contains(r.Reason, tc.reason) {
					t.Errorf("got %v %q, want %v %q", r.Status, r.Reason, tc.status, tc.reason)
				}
			}
			stored := srv.Count() - before
			if want := map[sdk.Status]int{sdk.Delivered: 3}[tc.status]; stored != want {
				t.Errorf("server stored %d, want %d", stored, want)
			}
			if !strings.Contains(logs.String(), tc.log) {
				t.Errorf("logs lack %q:\n%s", tc.log, logs.String())
			}
		})
	}
}

// mtlsProxy is an HTTPS server that requires a client certificate and
// passes requests on to srv. It returns its URL and its CA file.
func mtlsProxy(t *testing.T, srv *estest.Server) (string, string) {
	u, _ := url.Parse(srv.URL)
	p := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(u))
	p.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	p.Config.ErrorLog = log.New(io.Discard, "", 0)
	p.StartTLS()
	t.Cleanup(p.Close)
	ca := filepath.Join(t.TempDir(), "proxy-ca.pem")
	writeFile(t, ca, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE",
		Bytes: p.Certificate().Raw})))
	return p.URL, ca
}

// clientCert writes a self-signed client certificate and its key.
func clientCert(t *testing.T) (certFile, keyFile string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mdrsflow-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	writeFile(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY",
		Bytes: kder})))
	return certFile, keyFile
}

func TestClientCertificate(t *testing.T) {
	srv := estest.New(t)
	proxyURL, ca := mtlsProxy(t, srv)
	cert, key := clientCert(t)
	base := fmt.Sprintf("hosts: [%q]\nca_file: %q\n", proxyURL, ca)

	t.Run("with certificate", func(t *testing.T) {
		e := start(t, base+fmt.Sprintf("certificate: %q\nkey: %q\n", cert, key), nil)
		res := e.Write(context.Background(), records("t", "d", 2))
		if countStatus(res, sdk.Delivered) != 2 {
			t.Errorf("results %v", res)
		}
	})
	t.Run("without certificate", func(t *testing.T) {
		e := start(t, base, nil)
		res := e.Write(context.Background(), records("t", "e", 2))
		if countStatus(res, sdk.Retry) != 2 {
			t.Errorf("results %v, want retry", res)
		}
	})
	t.Run("key does not match", func(t *testing.T) {
		_, other := clientCert(t)
		e := build(t, base+fmt.Sprintf("certificate: %q\nkey: %q\n", cert, other))
		err := e.Start(context.Background(), sdk.Env{})
		if err == nil || !strings.Contains(err.Error(), "load client certificate") {
			t.Errorf("Start() = %v", err)
		}
		if err := e.Close(); err != nil {
			t.Errorf("close after failed start: %v", err)
		}
	})
	t.Run("missing ca file", func(t *testing.T) {
		e := build(t, fmt.Sprintf("hosts: [%q]\nca_file: nowhere.pem\n", proxyURL))
		err := e.Start(context.Background(), sdk.Env{})
		if err == nil || !strings.Contains(err.Error(), "read ca_file: open nowhere.pem") {
			t.Errorf("Start() = %v", err)
		}
	})
}
