// Package venafi provides stand-ins for Venafi TLS Protect Datacenter (TPP) and Venafi Cloud
// (TLS Protect Cloud / VaaS) for tests. Both are commercial services that cannot run here, so
// each server speaks the REST endpoints that vcert v5.12.3's connectors call, with the paths,
// verbs, headers and JSON they use, and signs with a test CA. They are driven through the real
// vcert client by the signer under test.
//
// Besides issuing, the servers record what they received (custom fields, requested validity,
// how many requests each CSR caused) and can be told to answer "pending", to reject, or to fail
// with HTTP 500, so that tests can observe every outcome the signer has to handle.
package venafi

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

// LoopbackTLS is a serving certificate for 127.0.0.1 and localhost, signed by its own CA, that
// several test servers can share. A suite that has to trust its servers before they exist (the
// operator's signer is built once, when the manager starts) creates one and trusts CAPEM.
type LoopbackTLS struct {
	// CAPEM is the PEM certificate of the CA that signed the serving certificate.
	CAPEM []byte
	// Pool holds that CA alone.
	Pool *x509.CertPool
	cert tls.Certificate
}

// NewLoopbackTLS creates a CA and a serving certificate it signed for the loopback addresses.
func NewLoopbackTLS() (*LoopbackTLS, error) {
	ca, err := testpki.NewAuthority("Venafi test servers TLS CA", nil, caValidity)
	if err != nil {
		return nil, err
	}
	certPEM, keyPEM, err := ca.ServingKeyPair()
	if err != nil {
		return nil, fmt.Errorf("creating the loopback serving certificate: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	return &LoopbackTLS{CAPEM: ca.CertPEM, Pool: ca.Pool(), cert: cert}, nil
}

// serverConfig is the TLS configuration of a server presenting the loopback certificate.
func (l *LoopbackTLS) serverConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{l.cert}, MinVersion: tls.VersionTLS12}
}

// caValidity is how long the servers' CAs are valid: they outlive any certificate a test asks
// them for, as a real issuing CA does.
const caValidity = 5 * 365 * 24 * time.Hour

// issuingCA signs enrolled CSRs with an intermediate under its own root, so that issued chains
// have a certificate besides the leaf.
type issuingCA struct {
	root, intermediate *testpki.CA
}

func newIssuingCA(name string) (*issuingCA, error) {
	root, err := testpki.NewAuthority(name+" Root CA", nil, caValidity)
	if err != nil {
		return nil, err
	}
	intermediate, err := testpki.NewAuthority(name+" Issuing CA", root, caValidity)
	if err != nil {
		return nil, err
	}
	return &issuingCA{root: root, intermediate: intermediate}, nil
}

// sign issues a certificate for the PEM CSR valid until notAfter, and returns the leaf, the
// intermediate and the root, in that order. Subject and SANs come from the CSR; the usages are
// those of a TLS certificate, as a typical Venafi zone template sets them.
func (ca *issuingCA) sign(csrPEM []byte, notAfter time.Time) ([]*x509.Certificate, error) {
	csr, err := parseCSR(csrPEM)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:   newSerial(),
		Subject:        csr.Subject,
		DNSNames:       csr.DNSNames,
		IPAddresses:    csr.IPAddresses,
		URIs:           csr.URIs,
		EmailAddresses: csr.EmailAddresses,
		NotBefore:      time.Now().Add(-time.Minute),
		NotAfter:       notAfter,
		KeyUsage:       x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.intermediate.Cert, csr.PublicKey, ca.intermediate.Key)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return []*x509.Certificate{leaf, ca.intermediate.Cert, ca.root.Cert}, nil
}

// parseCSR decodes and verifies a PEM PKCS#10 request, as a CA would before signing it.
func parseCSR(csrPEM []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(csrPEM)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("PKCS10 is not a PEM CERTIFICATE REQUEST")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("PKCS10: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("PKCS10 signature: %w", err)
	}
	return csr, nil
}

// csrKey identifies a CSR by its DER bytes, whatever PEM wrapping it arrived in, so requests
// can be counted per CSR.
func csrKey(csrPEM []byte) string {
	block, _ := pem.Decode(csrPEM)
	if block == nil {
		return string(csrPEM)
	}
	return string(block.Bytes)
}

func encodeChain(certs []*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

func newSerial() *big.Int {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		// crypto/rand does not fail on supported platforms; a fixed serial only weakens a test CA.
		return big.NewInt(time.Now().UnixNano())
	}
	return serial
}

// newID returns a random identifier in the GUID shape both services use.
func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
