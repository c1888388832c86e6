package signertest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cert-manager/cert-manager/pkg/util/pki"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// KeyAlgorithm names a key type cert-manager issues for.
type KeyAlgorithm string

// The key types tests run against.
const (
	RSA     KeyAlgorithm = "RSA"
	ECDSA   KeyAlgorithm = "ECDSA"
	Ed25519 KeyAlgorithm = "Ed25519"
)

// KeyAlgorithms returns every KeyAlgorithm, for tests that loop over them.
func KeyAlgorithms() []KeyAlgorithm { return []KeyAlgorithm{RSA, ECDSA, Ed25519} }

// NewKey generates an RSA 2048, ECDSA P-256 or Ed25519 key.
func NewKey(t testing.TB, alg KeyAlgorithm) crypto.Signer {
	t.Helper()
	var (
		key crypto.Signer
		err error
	)
	switch alg {
	case RSA:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case ECDSA:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case Ed25519:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("unknown key algorithm %q", alg)
	}
	if err != nil {
		t.Fatalf("generating %s key: %v", alg, err)
	}
	return key
}

// KeyPEM encodes key as a PKCS#8 PEM block, as cert-manager writes tls.key by default.
func KeyPEM(t testing.TB, key crypto.Signer) []byte {
	t.Helper()
	data, err := pki.EncodePKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("encoding private key: %v", err)
	}
	return data
}

// RequestPEM returns a PKCS#10 request for tmpl signed by key; a nil tmpl asks for CommonName
// "test" only.
func RequestPEM(t testing.TB, key crypto.Signer, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: RequestDER(t, key, tmpl)})
}

// RequestDER is RequestPEM before the PEM encoding, for tests that tamper with the DER.
func RequestDER(t testing.TB, key crypto.Signer, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	if tmpl == nil {
		tmpl = &x509.CertificateRequest{Subject: pkix.Name{CommonName: "test"}}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatalf("creating certificate request: %v", err)
	}
	return der
}

// ParseRequest decodes a PEM PKCS#10 request, as the signing gate does before a signer sees it
// (signer.Request.Parsed).
func ParseRequest(t testing.TB, requestPEM []byte) *x509.CertificateRequest {
	t.Helper()
	parsed, err := pki.DecodeX509CertificateRequestBytes(requestPEM)
	if err != nil {
		t.Fatalf("parsing certificate request: %v", err)
	}
	return parsed
}

// EveryNameTemplate asks for every kind of name a certificate can carry, so that a test can check
// each reaches it.
func EveryNameTemplate(t testing.TB) *x509.CertificateRequest {
	t.Helper()
	uri, err := url.Parse("spiffe://cluster.local/ns/team-a/sa/app")
	if err != nil {
		t.Fatal(err)
	}
	return &x509.CertificateRequest{
		Subject:        pkix.Name{CommonName: "app.team-a.svc", Organization: []string{"Team A"}},
		DNSNames:       []string{"app.team-a.svc", "app.example.com"},
		IPAddresses:    []net.IP{net.ParseIP("10.0.0.1").To4(), net.ParseIP("2001:db8::1")},
		URIs:           []*url.URL{uri},
		EmailAddresses: []string{"app@example.com"},
	}
}

// CA is a certificate authority for tests and for the stand-in servers they talk to.
type CA struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
	KeyPEM  []byte
}

// NewRootCA returns a self-signed CA valid for a day.
func NewRootCA(t testing.TB, alg KeyAlgorithm, commonName string) *CA {
	t.Helper()
	ca, err := newCA(commonName, nil, NewKey(t, alg), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// NewIntermediate returns a CA signed by ca, valid for a day.
func (ca *CA) NewIntermediate(t testing.TB, alg KeyAlgorithm, commonName string) *CA {
	t.Helper()
	intermediate, err := newCA(commonName, ca, NewKey(t, alg), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return intermediate
}

// NewAuthority is NewRootCA, or NewIntermediate when parent is set, for code that runs before any
// test does and so has no test to fail: the stand-in servers a TestMain starts. Its key is ECDSA
// P-256. It is valid for validity, which a stand-in that refuses lifetimes beyond its CA's must
// choose.
func NewAuthority(commonName string, parent *CA, validity time.Duration) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return newCA(commonName, parent, key, validity)
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
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
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
	if keyPEM, err = pki.EncodePKCS8PrivateKey(key); err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
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
	return &CA{Cert: cert, Key: key, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), KeyPEM: keyPEM}, nil
}

// newSerial is a random 128-bit serial number, so that no two certificates of a run share one.
func newSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
}

// ExpectNoKeyMaterial fails the test if err's message shows any part of the given PEM keys:
// a PEM header, or any 16 consecutive characters of a key's base64 body.
func ExpectNoKeyMaterial(t testing.TB, err error, keyPEMs ...[]byte) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	if strings.Contains(msg, "PRIVATE KEY") {
		t.Errorf("error message shows a private key PEM header: %q", msg)
	}
	const window = 16
	for _, keyPEM := range keyPEMs {
		var body strings.Builder
		for line := range strings.Lines(string(keyPEM)) {
			if !strings.HasPrefix(line, "-----") {
				body.WriteString(strings.TrimSpace(line))
			}
		}
		b := body.String()
		for i := 0; i+window <= len(b); i++ {
			if strings.Contains(msg, b[i:i+window]) {
				t.Errorf("error message shows key material %q: %q", b[i:i+window], msg)
				return
			}
		}
	}
}

// ParseChain decodes a signer's PEM chain, leaf first.
func ParseChain(t testing.TB, chain signer.PEMChain) []*x509.Certificate {
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
