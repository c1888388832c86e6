//go:build !unit

package controllers_test

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

// issuerUnderTest is one issuer of the matrix: a CA or SelfSigned Issuer or ClusterIssuer,
// and what the tests need to submit CSRs to it and verify what it signs.
type issuerUnderTest struct {
	name       string
	signerName string
	// secretNamespace is where the issuer's Secrets live (its namespace, or the cluster
	// resource namespace for a ClusterIssuer).
	secretNamespace string
	// ca is the CA a CA issuer signs with; nil for SelfSigned.
	ca *testpki.CA
	// requester may reference the issuer.
	requester client.Client
}

func (iut issuerUnderTest) selfSigned() bool { return iut.ca == nil }

// newIssuerUnderTest creates the issuer, its CA Secret for a CA issuer, a requester with
// `reference` on it (RBAC made by hand: these tests are about signing, not policies), and a
// Ready Manual policy for the requester as broad as the matrix needs, edited by mutate, since
// nothing is signed for a signer no policy governs.
func newIssuerUnderTest(t *testing.T, kind policyv1alpha1.IssuerKind, selfSigned bool, mutate ...func(*policyv1alpha1.SignerPolicy)) issuerUnderTest {
	t.Helper()
	iut, user := newUngovernedIssuerUnderTest(t, kind, selfSigned)
	governed(t, iut.signerName, user, mutate...)
	return iut
}

// newUngovernedIssuerUnderTest is newIssuerUnderTest without the policy, and the requester's name.
func newUngovernedIssuerUnderTest(t *testing.T, kind policyv1alpha1.IssuerKind, selfSigned bool) (issuerUnderTest, string) {
	t.Helper()
	ns := env.Namespace(t)
	name := "issuer-" + ns
	iut := issuerUnderTest{name: fmt.Sprintf("%s/%s", kind, map[bool]string{true: "SelfSigned", false: "CA"}[selfSigned])}
	cfg := cmapi.IssuerConfig{SelfSigned: &cmapi.SelfSignedIssuer{}}
	if !selfSigned {
		iut.ca = testpki.NewRootCA(t, testpki.ECDSA, "Test Root "+ns)
		cfg = cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: name}}
	}
	spec := cmapi.IssuerSpec{IssuerConfig: cfg}
	if kind == policyv1alpha1.IssuerKindIssuer {
		env.Create(t, &cmapi.Issuer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: spec})
		iut.signerName, iut.secretNamespace = "issuers.cert-manager.io/"+ns+"."+name, ns
	} else {
		env.Create(t, &cmapi.ClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec})
		iut.signerName, iut.secretNamespace = "clusterissuers.cert-manager.io/"+name, clusterResourceNamespace
	}
	if iut.ca != nil {
		env.Create(t, iut.ca.Secret(iut.secretNamespace, name))
	}
	user := "requester-" + ns
	env.GrantCSRCreate(t, user)
	if kind == policyv1alpha1.IssuerKindIssuer {
		env.GrantReference(t, ns, name, harness.UserSubject(user))
	}
	iut.requester = env.User(t, user)
	return iut, user
}

// broadPolicy governs signerName for user as widely as the signing tests need, with Manual
// approval so that the tests' own approvals are what approves. Its name derives from the signer,
// so each issuer of a test gets its own.
func broadPolicy(signerName, user string) *policyv1alpha1.SignerPolicy {
	ref := policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindClusterIssuer, Name: strings.TrimPrefix(signerName, "clusterissuers.cert-manager.io/")}
	if rest, ok := strings.CutPrefix(signerName, "issuers.cert-manager.io/"); ok {
		ns, name, _ := strings.Cut(rest, ".")
		ref = policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindIssuer, Namespace: ns, Name: name}
	}
	p := policyFor("governs."+strings.ReplaceAll(signerName, "/", "."), ref)
	p.Spec.Requesters = policyv1alpha1.Subjects{Users: []string{user}}
	p.Spec.Approval.Mode = policyv1alpha1.ApprovalManual
	p.Spec.AllowCA = true
	p.Spec.Usages = []policyv1alpha1.KeyUsage{"digital signature", "key encipherment", "data encipherment", "cert sign", "crl sign", "server auth", "client auth"}
	p.Spec.Allowed = policyv1alpha1.Allowed{
		CommonName:     []string{"*", "*.*", "*.*.*", "* *"},
		DNSNames:       []string{"example.com", "*.example.com"},
		IPAddresses:    []string{"10.0.0.0/8"},
		URIs:           []string{"spiffe://cluster.local/ns/*/sa/*"},
		EmailAddresses: []string{"*@example.com"},
	}
	return p
}

// governed puts broadPolicy, edited by mutate, in force for signerName and waits until it is.
func governed(t *testing.T, signerName, user string, mutate ...func(*policyv1alpha1.SignerPolicy)) {
	t.Helper()
	p := broadPolicy(signerName, user)
	for _, m := range mutate {
		m(p)
	}
	env.GovernWithPolicy(t, p)
}

// signingCase is one CSR of the matrix and what its certificate must say.
type signingCase struct {
	name        string
	alg         testpki.KeyAlgorithm
	tmpl        x509.CertificateRequest
	usages      []certificatesv1.KeyUsage
	annotations map[string]string
	expiration  *int32
	isCA        bool
	duration    time.Duration
}

func signingMatrix() []signingCase {
	day := 24 * time.Hour
	ip := net.ParseIP("10.0.0.7")
	uri, _ := url.Parse("spiffe://cluster.local/ns/a/sa/web")
	label63 := strings.Repeat("a", 63) + ".example.com"
	caAnnotation := map[string]string{"experimental.cert-manager.io/request-is-ca": "true"}
	return []signingCase{
		{name: "RSA key, one DNS name", alg: testpki.RSA, tmpl: x509.CertificateRequest{DNSNames: []string{"web.example.com"}}},
		{name: "ECDSA key, one DNS name", tmpl: x509.CertificateRequest{DNSNames: []string{"web.example.com"}}},
		{name: "Ed25519 key, one DNS name", alg: testpki.Ed25519, tmpl: x509.CertificateRequest{DNSNames: []string{"web.example.com"}}},
		{name: "CN only", tmpl: x509.CertificateRequest{Subject: pkix.Name{CommonName: "web"}}},
		{name: "CN and IP", tmpl: x509.CertificateRequest{Subject: pkix.Name{CommonName: "web"}, IPAddresses: []net.IP{ip}}},
		{name: "IP only", tmpl: x509.CertificateRequest{IPAddresses: []net.IP{ip}}},
		{name: "DNS and IP", tmpl: x509.CertificateRequest{DNSNames: []string{"web.example.com"}, IPAddresses: []net.IP{ip}}},
		{name: "two email SANs", tmpl: x509.CertificateRequest{EmailAddresses: []string{"a@example.com", "b@example.com"}}},
		{name: "CN and URI", tmpl: x509.CertificateRequest{Subject: pkix.Name{CommonName: "web"}, URIs: []*url.URL{uri}}},
		{name: "URI only", tmpl: x509.CertificateRequest{URIs: []*url.URL{uri}}},
		{name: "two DNS names, one in the CN", tmpl: x509.CertificateRequest{Subject: pkix.Name{CommonName: "a.example.com"}, DNSNames: []string{"a.example.com", "b.example.com"}}},
		{name: "distinct CN and DNS name", tmpl: x509.CertificateRequest{Subject: pkix.Name{CommonName: "web"}, DNSNames: []string{"b.example.com"}}},
		{name: "duration from the annotation", tmpl: x509.CertificateRequest{DNSNames: []string{"web.example.com"}},
			annotations: map[string]string{"experimental.cert-manager.io/request-duration": "896h"}, duration: 896 * time.Hour},
		{name: "duration from expirationSeconds", tmpl: x509.CertificateRequest{DNSNames: []string{"web.example.com"}},
			expiration: ptr.To[int32](3333), duration: 3333 * time.Second},
		{name: "default duration", tmpl: x509.CertificateRequest{DNSNames: []string{"web.example.com"}}, duration: 90 * day},
		{name: "CA certificate", tmpl: x509.CertificateRequest{Subject: pkix.Name{CommonName: "Team CA"}}, annotations: caAnnotation, isCA: true},
		{name: "signing CA, 10000h, cert sign", tmpl: x509.CertificateRequest{Subject: pkix.Name{CommonName: "Signing CA"}},
			annotations: map[string]string{"experimental.cert-manager.io/request-is-ca": "true", "experimental.cert-manager.io/request-duration": "10000h"},
			usages:      []certificatesv1.KeyUsage{"cert sign", "crl sign", "digital signature"}, isCA: true, duration: 10000 * time.Hour},
		{name: "wildcard", tmpl: x509.CertificateRequest{DNSNames: []string{"*.example.com"}}},
		{name: "wildcard and apex", tmpl: x509.CertificateRequest{DNSNames: []string{"*.example.com", "example.com"}}},
		{name: "arbitrary usages", tmpl: x509.CertificateRequest{DNSNames: []string{"web.example.com"}},
			usages: []certificatesv1.KeyUsage{"server auth", "client auth", "digital signature", "data encipherment"}},
		{name: "63-character DNS label", tmpl: x509.CertificateRequest{DNSNames: []string{label63}}},
	}
}

// submit sends a CSR for tc to the issuer (storing the key for SelfSigned) and approves it as
// a person would.
func (iut issuerUnderTest) submit(t *testing.T, tc signingCase) (*certificatesv1.CertificateSigningRequest, crypto.Signer) {
	t.Helper()
	alg := tc.alg
	if alg == "" {
		alg = testpki.ECDSA
	}
	key := testpki.NewKey(t, alg)
	annotations := map[string]string{}
	for k, v := range tc.annotations {
		annotations[k] = v
	}
	if iut.selfSigned() {
		secret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: iut.secretNamespace, GenerateName: "key-"},
			Data:       map[string][]byte{"tls.key": testpki.KeyPEM(t, key)},
		}
		env.Create(t, secret)
		annotations["experimental.cert-manager.io/private-key-secret-name"] = secret.Name
	}
	c := env.SubmitCSR(t, iut.requester, harness.CSR{
		SignerName: iut.signerName, Request: testpki.RequestPEM(t, key, &tc.tmpl),
		Usages: tc.usages, Annotations: annotations, ExpirationSeconds: tc.expiration,
	})
	// The approval controller says on the CSR why it waits for a person (the Manual policy), so an
	// approval made at once may meet that write and is tried again, as kubectl's would be.
	harness.ApproveEventually(t, wait, env.Admin, c.Name)
	return c, key
}

func TestSigningMatrix(t *testing.T) {
	for _, kind := range []policyv1alpha1.IssuerKind{policyv1alpha1.IssuerKindIssuer, policyv1alpha1.IssuerKindClusterIssuer} {
		for _, selfSigned := range []bool{false, true} {
			iut := newIssuerUnderTest(t, kind, selfSigned)
			t.Run(iut.name, func(t *testing.T) {
				for _, tc := range signingMatrix() {
					t.Run(tc.name, func(t *testing.T) {
						t.Parallel()
						c, key := iut.submit(t, tc)
						got := env.WaitForCSR(t, c.Name, wait, harness.Issued)
						verifyCertificate(t, iut, tc, got, key)
					})
				}
			})
		}
	}
}

// verifyCertificate checks the issued certificate field by field against the request.
func verifyCertificate(t *testing.T, iut issuerUnderTest, tc signingCase, c *certificatesv1.CertificateSigningRequest, key crypto.Signer) {
	t.Helper()
	chain := testpki.ParseChain(t, c.Status.Certificate)
	leaf := chain[0]
	if !leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public()) {
		t.Error("the certificate does not carry the CSR's public key")
	}
	if leaf.Subject.CommonName != tc.tmpl.Subject.CommonName {
		t.Errorf("CN = %q, want %q", leaf.Subject.CommonName, tc.tmpl.Subject.CommonName)
	}
	if !slices.Equal(leaf.DNSNames, tc.tmpl.DNSNames) || !slices.Equal(leaf.EmailAddresses, tc.tmpl.EmailAddresses) ||
		fmt.Sprint(leaf.IPAddresses) != fmt.Sprint(tc.tmpl.IPAddresses) || fmt.Sprint(leaf.URIs) != fmt.Sprint(tc.tmpl.URIs) {
		t.Errorf("SANs = %v %v %v %v, want %v %v %v %v", leaf.DNSNames, leaf.IPAddresses, leaf.URIs, leaf.EmailAddresses,
			tc.tmpl.DNSNames, tc.tmpl.IPAddresses, tc.tmpl.URIs, tc.tmpl.EmailAddresses)
	}
	if leaf.IsCA != tc.isCA {
		t.Errorf("IsCA = %v, want %v", leaf.IsCA, tc.isCA)
	}
	wantKU, wantEKU := expectedUsages(tc.usages)
	if leaf.KeyUsage != wantKU || !slices.Equal(leaf.ExtKeyUsage, wantEKU) {
		t.Errorf("KU/EKU = %b %v, want %b %v", leaf.KeyUsage, leaf.ExtKeyUsage, wantKU, wantEKU)
	}
	duration := tc.duration
	if duration == 0 {
		duration = 90 * 24 * time.Hour
	}
	if want := c.CreationTimestamp.Add(duration); leaf.NotAfter.Sub(want).Abs() > 30*time.Second {
		t.Errorf("notAfter = %s, want within 30s of %s (creation + %s)", leaf.NotAfter, want, duration)
	}
	root := leaf
	if iut.selfSigned() {
		if !bytes.Equal(leaf.RawIssuer, leaf.RawSubject) {
			t.Error("a SelfSigned certificate's issuer differs from its subject")
		}
	} else {
		root = iut.ca.Cert
	}
	if err := testpki.VerifyChain(chain, root, x509.ExtKeyUsageAny); err != nil {
		t.Errorf("chain does not verify to the CA: %v", err)
	}
}

// expectedUsages maps CSR usages to x509 ones, independently of the code under test; no
// usages means cert-manager's default of digital signature and key encipherment. The CSR
// helper used by SubmitCSR defaults spec.usages when none are given.
func expectedUsages(usages []certificatesv1.KeyUsage) (x509.KeyUsage, []x509.ExtKeyUsage) {
	if usages == nil {
		usages = []certificatesv1.KeyUsage{"digital signature", "key encipherment", "server auth"}
	}
	kus := map[certificatesv1.KeyUsage]x509.KeyUsage{
		"digital signature": x509.KeyUsageDigitalSignature, "key encipherment": x509.KeyUsageKeyEncipherment,
		"data encipherment": x509.KeyUsageDataEncipherment, "cert sign": x509.KeyUsageCertSign, "crl sign": x509.KeyUsageCRLSign,
	}
	ekus := map[certificatesv1.KeyUsage]x509.ExtKeyUsage{"server auth": x509.ExtKeyUsageServerAuth, "client auth": x509.ExtKeyUsageClientAuth}
	var ku x509.KeyUsage
	var eku []x509.ExtKeyUsage
	for _, u := range usages {
		ku |= kus[u]
		if e, ok := ekus[u]; ok {
			eku = append(eku, e)
		}
	}
	return ku, eku
}
