package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/cert-manager/cert-manager/pkg/util/pki"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CA is a certificate authority for tests, for the stand-in servers they talk to, and for the
// Secrets of the demo's and the benchmark's CA issuers.
type CA struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
	KeyPEM  []byte
}

// NewAuthority returns a CA with an ECDSA P-256 key, valid from an hour ago for validity,
// self-signed or, when parent is set, signed by parent. A stand-in that refuses lifetimes beyond
// its CA's must choose validity; NewRootCA and NewIntermediate are its forms for a test.
func NewAuthority(commonName string, parent *CA, validity time.Duration) (*CA, error) {
	key, err := GenerateKey(ECDSA)
	if err != nil {
		return nil, err
	}
	return newCA(commonName, parent, key, validity)
}

// NewRootCA returns a self-signed CA with an alg key, valid for a day.
func NewRootCA(t testing.TB, alg KeyAlgorithm, commonName string) *CA {
	t.Helper()
	return must(newCA(commonName, nil, NewKey(t, alg), 24*time.Hour))(t)
}

// NewIntermediate returns a CA with an alg key signed by ca, valid for a day.
func (ca *CA) NewIntermediate(t testing.TB, alg KeyAlgorithm, commonName string) *CA {
	t.Helper()
	return must(newCA(commonName, ca, NewKey(t, alg), 24*time.Hour))(t)
}

// Pool returns a pool holding only ca, for a client or server that trusts ca alone.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Secret returns a kubernetes.io/tls Secret holding the CA's certificate and key, the shape a
// CA issuer's spec.ca.secretName points at.
func (ca *CA) Secret(namespace, name string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Type:       corev1.SecretTypeTLS,
		Data: map[string][]byte{
			corev1.TLSCertKey:       ca.CertPEM,
			corev1.TLSPrivateKeyKey: ca.KeyPEM,
		},
	}
}

// IssueKeyPair signs tmpl, which names the subject, the names and the extended usages, for a
// fresh ECDSA P-256 key, valid from an hour ago for a day, and returns the certificate and the
// key in PEM, as tls.crt and tls.key hold them.
func (ca *CA) IssueKeyPair(tmpl *x509.Certificate) (certPEM, keyPEM []byte, err error) {
	key, err := GenerateKey(ECDSA)
	if err != nil {
		return nil, nil, err
	}
	if tmpl.SerialNumber, err = newSerial(); err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(24*time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("issuing %q: %w", tmpl.Subject.CommonName, err)
	}
	if keyPEM, err = EncodeKey(key); err != nil {
		return nil, nil, err
	}
	return certificatePEM(der), keyPEM, nil
}

// ServingKeyPair issues a TLS server certificate for the loopback addresses, localhost and
// dnsNames: every stand-in server listens on 127.0.0.1, and its clients verify whichever of these
// names they dial.
func (ca *CA) ServingKeyPair(dnsNames ...string) (certPEM, keyPEM []byte, err error) {
	return ca.IssueKeyPair(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "127.0.0.1"},
		DNSNames:    append([]string{"localhost"}, dnsNames...),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
}

// ParseChain decodes a PEM chain, such as a signer returns, leaf first.
func ParseChain(t testing.TB, chain []byte) []*x509.Certificate {
	t.Helper()
	certs, err := pki.DecodeX509CertificateChainBytes(chain)
	if err != nil {
		t.Fatalf("decoding issued chain: %v", err)
	}
	return certs
}

// VerifyChain verifies an issued chain as a client of the certificate would: chain[0] against
// root, through the rest of chain as intermediates, for usage.
func VerifyChain(chain []*x509.Certificate, root *x509.Certificate, usage x509.ExtKeyUsage) error {
	roots, intermediates := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root)
	for _, c := range chain[1:] {
		intermediates.AddCert(c)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: intermediates, KeyUsages: []x509.ExtKeyUsage{usage}})
	return err
}

// newCA makes a CA certificate for key, valid from an hour ago for validity, signed by parent's
// key or, when parent is nil, by key itself.
func newCA(commonName string, parent *CA, key crypto.Signer, validity time.Duration) (*CA, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	issuerCert, issuerKey := tmpl, key
	if parent != nil {
		issuerCert, issuerKey = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuerCert, key.Public(), issuerKey)
	if err != nil {
		return nil, fmt.Errorf("creating CA %q: %w", commonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing CA %q: %w", commonName, err)
	}
	keyPEM, err := pki.EncodePKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding the key of CA %q: %w", commonName, err)
	}
	return &CA{Cert: cert, Key: key, CertPEM: certificatePEM(der), KeyPEM: keyPEM}, nil
}

func certificatePEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// newSerial is a random 128-bit serial number, so that no two certificates of a run share one.
func newSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
}
