package selfsigned_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"slices"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/selfsigned"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/signertest"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

const (
	namespace = "cert-manager"
	keySecret = "app-key"
)

func clusterIssuer() *cmapi.ClusterIssuer {
	return &cmapi.ClusterIssuer{
		ObjectMeta: metav1.ObjectMeta{Name: "selfsigned"},
		Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{SelfSigned: &cmapi.SelfSignedIssuer{
			CRLDistributionPoints: []string{"http://crl.example.com/self.crl"},
		}}},
	}
}

func keySecretFor(t *testing.T, key crypto.Signer) *corev1.Secret {
	t.Helper()
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: keySecret},
		Data:       map[string][]byte{corev1.TLSPrivateKeyKey: testpki.KeyPEM(t, key)},
	}
}

func newRequest(t *testing.T, key crypto.Signer, tmpl *x509.CertificateRequest) signer.Request {
	t.Helper()
	usages := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageServerAuth}
	return signer.Request{
		CSR: &certificatesv1.CertificateSigningRequest{
			ObjectMeta: metav1.ObjectMeta{Name: "app", Annotations: map[string]string{selfsigned.PrivateKeyAnnotation: keySecret}},
			Spec:       certificatesv1.CertificateSigningRequestSpec{Request: testpki.RequestPEM(t, key, tmpl), Usages: usages},
		},
		Issuer:            clusterIssuer(),
		ResourceNamespace: namespace,
		Duration:          12 * time.Hour,
		Usages:            usages,
	}
}

func readerWith(objs ...client.Object) client.Reader {
	return fake.NewClientBuilder().WithObjects(objs...).Build()
}

func TestSignForEachKeyAlgorithm(t *testing.T) {
	for _, alg := range testpki.KeyAlgorithms() {
		t.Run(string(alg), func(t *testing.T) {
			key := testpki.NewKey(t, alg)
			req := newRequest(t, key, testpki.EveryNameTemplate(t))
			start := time.Now()
			chain, err := selfsigned.New(readerWith(keySecretFor(t, key))).Sign(context.Background(), req)
			end := time.Now()
			if err != nil {
				t.Fatalf("Sign error = %v", err)
			}
			certs := testpki.ParseChain(t, chain)
			if len(certs) != 1 {
				t.Fatalf("chain has %d certificates, want the self-signed one alone", len(certs))
			}
			cert := certs[0]
			checkSelfSigned(t, cert)
			signertest.ExpectMatchesRequest(t, cert, key, req, start, end)
			if want := clusterIssuer().Spec.SelfSigned.CRLDistributionPoints; !slices.Equal(cert.CRLDistributionPoints, want) {
				t.Errorf("CRL distribution points = %v, want %v", cert.CRLDistributionPoints, want)
			}
		})
	}
}

func TestSignCARequest(t *testing.T) {
	key := testpki.NewKey(t, testpki.ECDSA)
	req := newRequest(t, key, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "my root"}})
	req.IsCA = true
	req.Usages = []certificatesv1.KeyUsage{certificatesv1.UsageCertSign, certificatesv1.UsageCRLSign, certificatesv1.UsageDigitalSignature}
	start := time.Now()
	chain, err := selfsigned.New(readerWith(keySecretFor(t, key))).Sign(context.Background(), req)
	if err != nil {
		t.Fatalf("Sign error = %v", err)
	}
	cert := testpki.ParseChain(t, chain)[0]
	checkSelfSigned(t, cert)
	signertest.ExpectMatchesRequest(t, cert, key, req, start, time.Now())
	// A self-signed CA is a root: it must verify against itself.
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("self-signed CA does not verify as a root: %v", err)
	}
}

// An Issuer keeps private key Secrets in its own namespace, which is the resource namespace.
func TestSignReadsTheResourceNamespace(t *testing.T) {
	key := testpki.NewKey(t, testpki.RSA)
	secret := keySecretFor(t, key)
	secret.Namespace = "team-a"
	req := newRequest(t, key, nil)
	req.ResourceNamespace = "team-a"
	if _, err := selfsigned.New(readerWith(secret)).Sign(context.Background(), req); err != nil {
		t.Fatalf("Sign error = %v", err)
	}
}

func checkSelfSigned(t *testing.T, cert *x509.Certificate) {
	t.Helper()
	if !bytes.Equal(cert.RawIssuer, cert.RawSubject) {
		t.Errorf("issuer %q differs from subject %q", cert.Issuer, cert.Subject)
	}
	// CheckSignatureFrom would insist on a CA parent; a self-signed leaf is checked directly.
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
		t.Errorf("certificate is not signed by its own key: %v", err)
	}
}
