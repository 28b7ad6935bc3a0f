//go:build !linux

package host_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// TestPluginTransportIsMutualTLS launches a plugin process the way the
// host does (wire.Launch) and shows that the connection is mutual TLS:
// the plugin announces a server certificate in its handshake, the host's
// own client works, and a client without the host's certificate (plain
// gRPC, TLS without a client certificate, TLS with another certificate)
// is refused.
func TestPluginTransportIsMutualTLS(t *testing.T) {
	p, parts := launchRecorded(t)
	if len(parts) < 6 {
		t.Fatalf("handshake %q has no server certificate: the host did not ask for mutual TLS", parts)
	}
	network, addr := parts[2], parts[3]
	der, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil {
		t.Fatalf("server certificate in the handshake: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("server certificate in the handshake: %v", err)
	}
	t.Logf("plugin serves gRPC on %s %s with a %s certificate valid until %s",
		network, addr, cert.PublicKeyAlgorithm, cert.NotAfter.Format(time.DateOnly))

	// The host's client, which holds the certificate the plugin trusts,
	// gets through.
	hostGetsThrough(t, p)

	// Anyone else does not.
	target := addr
	if network == "unix" {
		target = "unix://" + addr
	}
	stranger := selfSignedClient(t)
	for _, tc := range []struct {
		name  string
		creds credentials.TransportCredentials
	}{
		{"plain gRPC", insecure.NewCredentials()},
		{"TLS without a client certificate", credentials.NewTLS(&tls.Config{InsecureSkipVerify: true})},
		{"TLS with a certificate the plugin does not trust", credentials.NewTLS(&tls.Config{
			InsecureSkipVerify: true, Certificates: []tls.Certificate{stranger}})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(tc.creds))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: "plugin"})
			if err == nil {
				t.Fatal("the plugin answered a client without the host's certificate")
			}
			t.Logf("refused: %v", err)
		})
	}

	// And the same raw TLS handshake fails at the plugin's end.
	raw, err := tls.Dial(network, addr, &tls.Config{InsecureSkipVerify: true})
	if err == nil {
		_ = raw.SetDeadline(time.Now().Add(3 * time.Second))
		_, err = raw.Read(make([]byte, 1))
		raw.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("TLS without a client certificate: got %v, want the plugin to demand one", err)
	}
}

// selfSignedClient is a client certificate nobody here trusts.
func selfSignedClient(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames:  []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		IsCA:        true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
