package ca_test

import (
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
	"github.com/signerpolicy/signer-policy-operator/internal/signer/ca"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/signertest"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

const (
	namespace  = "team-a"
	secretName = "ca-key-pair"
)

func issuer() *cmapi.Issuer {
	return &cmapi.Issuer{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "ca"},
		Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{CA: &cmapi.CAIssuer{
			SecretName:             secretName,
			CRLDistributionPoints:  []string{"http://crl.example.com/ca.crl"},
			OCSPServers:            []string{"http://ocsp.example.com"},
			IssuingCertificateURLs: []string{"http://aia.example.com/ca.crt"},
		}}},
	}
}

func newRequest(t *testing.T, key crypto.Signer, tmpl *x509.CertificateRequest) signer.Request {
	t.Helper()
	requestPEM := testpki.RequestPEM(t, key, tmpl)
	usages := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth, certificatesv1.UsageClientAuth}
	return signer.Request{
		CSR: &certificatesv1.CertificateSigningRequest{
			ObjectMeta: metav1.ObjectMeta{Name: "app"},
			Spec:       certificatesv1.CertificateSigningRequestSpec{Request: requestPEM, Usages: usages},
		},
		Issuer:            issuer(),
		ResourceNamespace: namespace,
		Duration:          36 * time.Hour,
		Usages:            usages,
	}
}

func readerWith(objs ...client.Object) client.Reader {
	return fake.NewClientBuilder().WithObjects(objs...).Build()
}

func sign(t *testing.T, r client.Reader, req signer.Request) (signer.PEMChain, time.Time, time.Time, error) {
	t.Helper()
	start := time.Now()
	chain, err := ca.New(r).Sign(context.Background(), req)
	return chain, start, time.Now(), err
}

func TestSignForEachKeyAlgorithm(t *testing.T) {
	for _, caAlg := range testpki.KeyAlgorithms() {
		root := testpki.NewRootCA(t, caAlg, "root "+string(caAlg))
		r := readerWith(root.Secret(namespace, secretName))
		for _, alg := range testpki.KeyAlgorithms() {
			t.Run(string(caAlg)+" CA signs "+string(alg), func(t *testing.T) {
				key := testpki.NewKey(t, alg)
				req := newRequest(t, key, testpki.EveryNameTemplate(t))
				chain, start, end, err := sign(t, r, req)
				if err != nil {
					t.Fatalf("Sign error = %v", err)
				}
				certs := testpki.ParseChain(t, chain)
				// cert-manager's ChainPEM leaves out a self-signed root, so only the leaf.
				if len(certs) != 1 {
					t.Fatalf("chain has %d certificates, want the leaf alone", len(certs))
				}
				verify(t, certs, root.Cert)
				checkLeaf(t, certs[0], key, req, start, end)
				checkIssuerURLs(t, certs[0], req.Issuer.GetSpec().CA)
			})
		}
	}
}

func TestSignCARequest(t *testing.T) {
	root := testpki.NewRootCA(t, testpki.ECDSA, "root")
	key := testpki.NewKey(t, testpki.ECDSA)
	req := newRequest(t, key, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "sub-ca"}})
	req.IsCA = true
	req.Usages = []certificatesv1.KeyUsage{certificatesv1.UsageCertSign, certificatesv1.UsageCRLSign}
	chain, start, end, err := sign(t, readerWith(root.Secret(namespace, secretName)), req)
	if err != nil {
		t.Fatalf("Sign error = %v", err)
	}
	certs := testpki.ParseChain(t, chain)
	verify(t, certs, root.Cert)
	checkLeaf(t, certs[0], key, req, start, end)
}

func TestSignDefaultUsages(t *testing.T) {
	root := testpki.NewRootCA(t, testpki.ECDSA, "root")
	key := testpki.NewKey(t, testpki.RSA)
	req := newRequest(t, key, nil)
	req.Usages, req.CSR.Spec.Usages = nil, nil
	chain, _, _, err := sign(t, readerWith(root.Secret(namespace, secretName)), req)
	if err != nil {
		t.Fatalf("Sign error = %v", err)
	}
	leaf := testpki.ParseChain(t, chain)[0]
	if leaf.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment || len(leaf.ExtKeyUsage) != 0 {
		t.Errorf("usages = %b, %v; want digital signature and key encipherment only", leaf.KeyUsage, leaf.ExtKeyUsage)
	}
}

// An intermediate CA's chain is returned after the leaf, so clients that trust only the root
// can verify; the root itself stays out, as in cert-manager.
func TestSignReturnsIntermediates(t *testing.T) {
	root := testpki.NewRootCA(t, testpki.RSA, "root")
	intermediate := root.NewIntermediate(t, testpki.ECDSA, "intermediate")
	inCACrt := intermediate.Secret(namespace, secretName)
	inCACrt.Data["ca.crt"] = root.CertPEM
	inTLSCrt := intermediate.Secret(namespace, secretName)
	inTLSCrt.Data[corev1.TLSCertKey] = slices.Concat(intermediate.CertPEM, root.CertPEM)

	for name, secret := range map[string]*corev1.Secret{
		"root in ca.crt":         inCACrt,
		"root in tls.crt":        inTLSCrt,
		"root nowhere in Secret": intermediate.Secret(namespace, secretName),
	} {
		t.Run(name, func(t *testing.T) {
			key := testpki.NewKey(t, testpki.Ed25519)
			req := newRequest(t, key, testpki.EveryNameTemplate(t))
			chain, start, end, err := sign(t, readerWith(secret), req)
			if err != nil {
				t.Fatalf("Sign error = %v", err)
			}
			certs := testpki.ParseChain(t, chain)
			if len(certs) != 2 || !certs[1].Equal(intermediate.Cert) {
				t.Fatalf("chain has %d certificates, want the leaf and the intermediate", len(certs))
			}
			verify(t, certs, root.Cert)
			checkLeaf(t, certs[0], key, req, start, end)
		})
	}
}

// The signer must not change the issuer it was given: it usually comes from the cache.
func TestSignLeavesIssuerAlone(t *testing.T) {
	root := testpki.NewRootCA(t, testpki.ECDSA, "root")
	req := newRequest(t, testpki.NewKey(t, testpki.ECDSA), nil)
	before := req.Issuer.(*cmapi.Issuer).DeepCopy()
	if _, _, _, err := sign(t, readerWith(root.Secret(namespace, secretName)), req); err != nil {
		t.Fatalf("Sign error = %v", err)
	}
	if got := req.Issuer.(*cmapi.Issuer); !equalIssuers(got, before) {
		t.Errorf("issuer changed by Sign: %+v", got.Spec.CA)
	}
}

func equalIssuers(a, b *cmapi.Issuer) bool {
	return a.Spec.CA.SecretName == b.Spec.CA.SecretName &&
		slices.Equal(a.Spec.CA.CRLDistributionPoints, b.Spec.CA.CRLDistributionPoints) &&
		slices.Equal(a.Spec.CA.OCSPServers, b.Spec.CA.OCSPServers) &&
		slices.Equal(a.Spec.CA.IssuingCertificateURLs, b.Spec.CA.IssuingCertificateURLs)
}

func verify(t *testing.T, certs []*x509.Certificate, root *x509.Certificate) {
	t.Helper()
	if err := testpki.VerifyChain(certs, root, x509.ExtKeyUsageAny); err != nil {
		t.Errorf("issued certificate does not verify to the CA: %v", err)
	}
}

// checkLeaf checks that the certificate carries what the request asked for and the gate decided,
// and that it is valid from no later than its signing, so that it is usable once delivered.
func checkLeaf(t *testing.T, cert *x509.Certificate, key crypto.Signer, req signer.Request, start, end time.Time) {
	t.Helper()
	signertest.ExpectMatchesRequest(t, cert, key, req, start, end)
	if cert.NotBefore.After(end) {
		t.Errorf("NotBefore = %v is in the future", cert.NotBefore)
	}
}

func checkIssuerURLs(t *testing.T, cert *x509.Certificate, spec *cmapi.CAIssuer) {
	t.Helper()
	if !slices.Equal(cert.CRLDistributionPoints, spec.CRLDistributionPoints) {
		t.Errorf("CRL distribution points = %v, want %v", cert.CRLDistributionPoints, spec.CRLDistributionPoints)
	}
	if !slices.Equal(cert.OCSPServer, spec.OCSPServers) {
		t.Errorf("OCSP servers = %v, want %v", cert.OCSPServer, spec.OCSPServers)
	}
	if !slices.Equal(cert.IssuingCertificateURL, spec.IssuingCertificateURLs) {
		t.Errorf("issuing certificate URLs = %v, want %v", cert.IssuingCertificateURL, spec.IssuingCertificateURLs)
	}
}

// One signer signs many CSRs with a key pair it parsed and checked once: every chain after the
// first has the same intermediates as cert-manager built for the first, and a changed Secret (a
// rotated CA) signs the next CSR.
func TestSignReusesTheKeyPairUntilTheSecretChanges(t *testing.T) {
	root := testpki.NewRootCA(t, testpki.RSA, "root")
	intermediate := root.NewIntermediate(t, testpki.ECDSA, "intermediate")
	secret := intermediate.Secret(namespace, secretName)
	secret.Data["ca.crt"] = root.CertPEM
	c := fake.NewClientBuilder().WithObjects(secret).Build()
	s := ca.New(c)
	for i := range 3 {
		chain, err := s.Sign(context.Background(), newRequest(t, testpki.NewKey(t, testpki.ECDSA), nil))
		if err != nil {
			t.Fatalf("signing %d: %v", i, err)
		}
		certs := testpki.ParseChain(t, chain)
		if len(certs) != 2 || !certs[1].Equal(intermediate.Cert) {
			t.Fatalf("signing %d: chain has %d certificates, want the leaf and the intermediate", i, len(certs))
		}
		verify(t, certs, root.Cert)
	}

	rotated := testpki.NewRootCA(t, testpki.ECDSA, "rotated")
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(secret), secret); err != nil {
		t.Fatal(err)
	}
	secret.Data = rotated.Secret(namespace, secretName).Data
	if err := c.Update(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	chain, err := s.Sign(context.Background(), newRequest(t, testpki.NewKey(t, testpki.ECDSA), nil))
	if err != nil {
		t.Fatal(err)
	}
	certs := testpki.ParseChain(t, chain)
	if len(certs) != 1 {
		t.Fatalf("after rotation to a root, chain has %d certificates, want the leaf alone", len(certs))
	}
	verify(t, certs, rotated.Cert)
}
