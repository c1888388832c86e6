// Package pki builds the keys, PKCS#10 requests and certificate authorities that the tests, the
// stand-in servers, the demo and the benchmark need, in Go, so that none of them needs openssl.
//
// Each builder has an error-returning form, for code that has no test to fail (the demo, the
// benchmark, the stand-in servers a TestMain starts), and a testing.TB form built on it that fails
// the test instead. The package imports nothing of the operator's, so the in-package tests of any
// package, internal/csr's included, can use it without an import cycle.
package pki

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
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/cert-manager/cert-manager/pkg/util/pki"
)

// KeyAlgorithm names a key type cert-manager issues for.
type KeyAlgorithm string

// The key types tests run against: RSA is 2048 bits, ECDSA is P-256. ECDSAP384 is for what wants a
// stronger key than the default; KeyAlgorithms leaves it out.
const (
	RSA       KeyAlgorithm = "RSA"
	ECDSA     KeyAlgorithm = "ECDSA"
	Ed25519   KeyAlgorithm = "Ed25519"
	ECDSAP384 KeyAlgorithm = "ECDSA-P384"
)

// KeyAlgorithms returns RSA, ECDSA and Ed25519, for tests that loop over the key types.
func KeyAlgorithms() []KeyAlgorithm { return []KeyAlgorithm{RSA, ECDSA, Ed25519} }

// GenerateKey generates an RSA 2048, ECDSA P-256 or P-384, or Ed25519 key.
func GenerateKey(alg KeyAlgorithm) (crypto.Signer, error) {
	var (
		key crypto.Signer
		err error
	)
	switch alg {
	case RSA:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case ECDSA:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case ECDSAP384:
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case Ed25519:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("unknown key algorithm %q", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("generating %s key: %w", alg, err)
	}
	return key, nil
}

// NewKey is GenerateKey for a test.
func NewKey(t testing.TB, alg KeyAlgorithm) crypto.Signer {
	t.Helper()
	return must(GenerateKey(alg))(t)
}

// EncodeKey encodes key as a PKCS#8 PEM block, as cert-manager writes tls.key by default.
func EncodeKey(key crypto.Signer) ([]byte, error) {
	data, err := pki.EncodePKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding private key: %w", err)
	}
	return data, nil
}

// KeyPEM is EncodeKey for a test.
func KeyPEM(t testing.TB, key crypto.Signer) []byte {
	t.Helper()
	return must(EncodeKey(key))(t)
}

// CreateRequest returns a DER PKCS#10 request for tmpl signed by key; a nil tmpl asks for
// CommonName "test" only.
func CreateRequest(key crypto.Signer, tmpl *x509.CertificateRequest) ([]byte, error) {
	if tmpl == nil {
		tmpl = &x509.CertificateRequest{Subject: pkix.Name{CommonName: "test"}}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, fmt.Errorf("creating certificate request: %w", err)
	}
	return der, nil
}

// CreateRequestPEM is CreateRequest PEM-encoded, as spec.request of a CertificateSigningRequest
// holds it.
func CreateRequestPEM(key crypto.Signer, tmpl *x509.CertificateRequest) ([]byte, error) {
	der, err := CreateRequest(key, tmpl)
	if err != nil {
		return nil, err
	}
	return encodeRequest(der), nil
}

// RequestDER is CreateRequest for a test, for tests that tamper with the DER.
func RequestDER(t testing.TB, key crypto.Signer, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	return must(CreateRequest(key, tmpl))(t)
}

// RequestPEM is CreateRequestPEM for a test.
func RequestPEM(t testing.TB, key crypto.Signer, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	return encodeRequest(RequestDER(t, key, tmpl))
}

func encodeRequest(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
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

// must turns an error-returning builder into its testing.TB form: must(GenerateKey(alg))(t)
// fails t with GenerateKey's error, or returns the key.
func must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
