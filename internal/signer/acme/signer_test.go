package acme

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"
	"time"

	cmacme "github.com/cert-manager/cert-manager/pkg/apis/acme/v1"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"github.com/cert-manager/cert-manager/pkg/util/pki"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/signertest"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

// unreachable is a directory URL nothing listens on: tests that get that far see a plain,
// retryable error.
const unreachable = "https://127.0.0.1:1/directory"

func acmeIssuer(mutate func(*cmacme.ACMEIssuer)) *cmapi.Issuer {
	spec := &cmacme.ACMEIssuer{
		Server:     unreachable,
		PrivateKey: cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: "account"}},
		Solvers:    []cmacme.ACMEChallengeSolver{{HTTP01: &cmacme.ACMEChallengeSolverHTTP01{}}},
	}
	if mutate != nil {
		mutate(spec)
	}
	return &cmapi.Issuer{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: "le"}, Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{ACME: spec}}}
}

func acmeRequest(t *testing.T, issuer *cmapi.Issuer, tmpl *x509.CertificateRequest) signer.Request {
	t.Helper()
	key := testpki.NewKey(t, testpki.ECDSA)
	reqPEM := testpki.RequestPEM(t, key, tmpl)
	return signer.Request{
		CSR: &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "csr", UID: "uid"},
			Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: "issuers.cert-manager.io/" + testNamespace + "." + issuer.GetName(), Request: reqPEM}},
		Parsed: testpki.ParseRequest(t, reqPEM), Issuer: issuer, ResourceNamespace: testNamespace, Duration: time.Hour, Progress: &signertest.Progress{},
	}
}

func newTestSigner(objs ...client.Object) (*Signer, client.Client) {
	c := fake.NewClientBuilder().WithObjects(objs...).Build()
	return NewSigner(Options{Client: c, Secrets: c}), c
}

func accountSecret(t *testing.T, keyPEM []byte) *corev1.Secret {
	t.Helper()
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: "account"}, Data: map[string][]byte{corev1.TLSPrivateKeyKey: keyPEM}}
}

func TestSignRefusesBeforeAnyACMECall(t *testing.T) {
	s, _ := newTestSigner()
	dns := &x509.CertificateRequest{DNSNames: []string{"a.example.com"}}

	_, err := s.Sign(context.Background(), acmeRequest(t, acmeIssuer(nil), &x509.CertificateRequest{Subject: pkix.Name{CommonName: "b.example.com"}, DNSNames: []string{"a.example.com"}}))
	signertest.ExpectPermanent(t, err, ReasonInvalidOrder)

	notACME := &cmapi.Issuer{Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{CA: &cmapi.CAIssuer{}}}}
	if _, err := s.Sign(context.Background(), acmeRequest(t, notACME, dns)); err == nil || signerError(err) {
		t.Errorf("a CA issuer: %v, want a plain error", err)
	}

	_, err = s.Sign(context.Background(), acmeRequest(t, acmeIssuer(func(a *cmacme.ACMEIssuer) { a.DisableAccountKeyGeneration = true }), dns))
	signertest.ExpectPending(t, err, signer.ReasonSecretMissing)

	_, err = s.Sign(context.Background(), acmeRequest(t, acmeIssuer(func(a *cmacme.ACMEIssuer) { a.Server = "" }), dns))
	signertest.ExpectPending(t, err, ReasonInvalidIssuer)
}

func signerError(err error) bool {
	_, p := signer.AsPending(err)
	_, q := signer.AsPermanent(err)
	return p || q
}

func TestSignWithUnusableAccountSettings(t *testing.T) {
	dns := &x509.CertificateRequest{DNSNames: []string{"a.example.com"}}
	ed := testpki.KeyPEM(t, testpki.NewKey(t, testpki.Ed25519))
	s, _ := newTestSigner(accountSecret(t, ed))
	_, err := s.Sign(context.Background(), acmeRequest(t, acmeIssuer(nil), dns))
	signertest.ExpectPending(t, err, ReasonInvalidIssuer)
	testpki.ExpectNoKeyMaterial(t, err, ed)

	rsaPEM := testpki.KeyPEM(t, testpki.NewKey(t, testpki.RSA))
	s, _ = newTestSigner(accountSecret(t, rsaPEM))
	_, err = s.Sign(context.Background(), acmeRequest(t, acmeIssuer(func(a *cmacme.ACMEIssuer) { a.CABundle = []byte("not PEM") }), dns))
	signertest.ExpectPending(t, err, ReasonInvalidIssuer)

	s, _ = newTestSigner(accountSecret(t, []byte("garbage")))
	_, err = s.Sign(context.Background(), acmeRequest(t, acmeIssuer(nil), dns))
	signertest.ExpectPending(t, err, signer.ReasonSecretInvalidData)
}

// A missing account key is generated and stored, as cert-manager does, before the directory
// is contacted; an unreachable directory is a plain, retryable error that shows no key.
func TestSignGeneratesTheAccountKey(t *testing.T) {
	s, c := newTestSigner()
	issuer := acmeIssuer(func(a *cmacme.ACMEIssuer) { a.PrivateKey.Key = "account.pem" })
	_, signErr := s.Sign(context.Background(), acmeRequest(t, issuer, &x509.CertificateRequest{DNSNames: []string{"a.example.com"}}))
	if signErr == nil || signerError(signErr) {
		t.Fatalf("unreachable directory: %v, want a plain error", signErr)
	}
	var secret corev1.Secret
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: testNamespace, Name: "account"}, &secret); err != nil {
		t.Fatalf("the account key Secret was not created: %v", err)
	}
	key, err := pki.DecodePrivateKeyBytes(secret.Data["account.pem"])
	if err != nil {
		t.Fatalf("decoding the generated key: %v", err)
	}
	if k, ok := key.(*rsa.PrivateKey); !ok || k.N.BitLen() != accountKeySize {
		t.Errorf("generated %T, want RSA %d", key, accountKeySize)
	}
	testpki.ExpectNoKeyMaterial(t, signErr, secret.Data["account.pem"])
}
