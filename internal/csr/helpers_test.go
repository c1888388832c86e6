package csr

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
	"errors"
	"strings"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// keyAlgorithms are the key types cert-manager issues for; every request test
// runs against each of them.
var keyAlgorithms = []string{"RSA", "ECDSA", "Ed25519"}

func newKey(t testing.TB, alg string) crypto.Signer {
	t.Helper()
	var (
		key crypto.Signer
		err error
	)
	switch alg {
	case "RSA":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ECDSA":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "Ed25519":
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("unknown key algorithm %q", alg)
	}
	if err != nil {
		t.Fatalf("generating %s key: %v", alg, err)
	}
	return key
}

// requestDER signs tmpl with key; a nil tmpl gets a plain CommonName request.
func requestDER(t testing.TB, key crypto.Signer, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	if tmpl == nil {
		tmpl = &x509.CertificateRequest{Subject: pkix.Name{CommonName: "test"}}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatalf("creating request: %v", err)
	}
	return der
}

func requestPEM(t testing.TB, key crypto.Signer, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: requestDER(t, key, tmpl)})
}

func csrWithAnnotations(annotations map[string]string) *certificatesv1.CertificateSigningRequest {
	return &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "test", Annotations: annotations},
	}
}

// wantFieldError fails unless err is a *field.Error on path whose message
// mentions every fragment.
func wantFieldError(t *testing.T, err error, path string, fragments ...string) {
	t.Helper()
	var fe *field.Error
	if !errors.As(err, &fe) {
		t.Fatalf("error = %v (%T), want a *field.Error on %s", err, err, path)
	}
	if fe.Field != path {
		t.Errorf("error field = %q, want %q (error: %v)", fe.Field, path, err)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not mention %q", err, f)
		}
	}
}
