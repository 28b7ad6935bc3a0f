package elasticsearch

import (
	"crypto/x509"
	"errors"
	"fmt"
)

// withTLSAdvice returns err with what to set appended when it is a failed
// certificate check, so that the operator does not need to know Go's x509
// messages to fix it; other errors are returned as they are. Verification
// stays on by default: the advice names the safe fix first.
func withTLSAdvice(err error) error {
	var (
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
		advice  string
	)
	switch {
	case errors.As(err, &unknown):
		advice = "the cluster's certificate is not signed by a CA this host trusts: set ca_file to " +
			"the CA certificate that signed it (http_ca.crt on a default install); " +
			"insecure_skip_verify: true turns verification off, for tests only"
	case errors.As(err, &host):
		advice = "the cluster's certificate is not for this host name: " +
			"write a name in hosts that the certificate lists"
	case errors.As(err, &invalid):
		advice = "the cluster's certificate is not valid now (expired or not yet valid): " +
			"renew it, or check this host's clock"
	default:
		return err
	}
	return fmt.Errorf("%w; %s", err, advice)
}
