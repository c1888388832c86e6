package pebble

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"time"

	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

// serverTLS is the TLS identity of Pebble's listeners and of the proxy: a throwaway CA made
// for the test run and a certificate for 127.0.0.1 and localhost that it signed. Generating it
// keeps Pebble's own test certificates out of the repository, and lets the signer trust the
// directory through spec.acme.caBundle like a real private CA.
type serverTLS struct {
	caPEM    []byte
	certFile string
	keyFile  string
	cert     tls.Certificate
}

func newServerTLS(dir string) (*serverTLS, error) {
	ca, err := testpki.NewAuthority("ACME test listener CA", nil, 24*time.Hour)
	if err != nil {
		return nil, err
	}
	certPEM, keyPEM, err := ca.ServingKeyPair()
	if err != nil {
		return nil, err
	}
	// Pebble, a process of its own, reads its listeners' key pair from files.
	s := &serverTLS{
		caPEM:    ca.CertPEM,
		certFile: filepath.Join(dir, "listener.crt"),
		keyFile:  filepath.Join(dir, "listener.key"),
	}
	if err := os.WriteFile(s.certFile, certPEM, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(s.keyFile, keyPEM, 0o600); err != nil {
		return nil, err
	}
	if s.cert, err = tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return nil, fmt.Errorf("loading the listener key pair: %w", err)
	}
	return s, nil
}

// clientConfig trusts only the test CA.
func (s *serverTLS) clientConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.caPEM)
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}
