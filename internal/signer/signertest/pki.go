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
	"math/big"
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
	if tmpl == nil {
		tmpl = &x509.CertificateRequest{Subject: pkix.Name{CommonName: "test"}}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatalf("creating certificate request: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// CA is a certificate authority for tests.
type CA struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
	KeyPEM  []byte
}

// NewRootCA returns a self-signed CA valid for a day.
func NewRootCA(t testing.TB, alg KeyAlgorithm, commonName string) *CA {
	t.Helper()
	key := NewKey(t, alg)
	return newCA(t, caTemplate(t, commonName), nil, key)
}

// NewIntermediate returns a CA signed by ca.
func (ca *CA) NewIntermediate(t testing.TB, alg KeyAlgorithm, commonName string) *CA {
	t.Helper()
	return newCA(t, caTemplate(t, commonName), ca, NewKey(t, alg))
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

func caTemplate(t testing.TB, commonName string) *x509.Certificate {
	t.Helper()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		t.Fatalf("generating serial number: %v", err)
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
}

// newCA signs tmpl with parent's key, or self-signs it when parent is nil.
func newCA(t testing.TB, tmpl *x509.Certificate, parent *CA, key crypto.Signer) *CA {
	t.Helper()
	issuerCert, issuerKey := tmpl, key
	if parent != nil {
		issuerCert, issuerKey = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuerCert, key.Public(), issuerKey)
	if err != nil {
		t.Fatalf("creating CA certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parsing CA certificate: %v", err)
	}
	return &CA{
		Cert:    cert,
		Key:     key,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  KeyPEM(t, key),
	}
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
