//go:build !unit

package controllers_test

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/cert-manager/cert-manager/pkg/util/pki"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/csr"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

// failedWith is harness.FailedWith that also insists the Failed CSR carries no certificate: a
// refusal at signing must never deliver one.
func failedWith(reason string) func(*certificatesv1.CertificateSigningRequest) error {
	failed := harness.FailedWith(reason)
	return func(c *certificatesv1.CertificateSigningRequest) error {
		if err := failed(c); err != nil {
			return err
		}
		if len(c.Status.Certificate) > 0 {
			return fmt.Errorf("Failed CSR carries a certificate")
		}
		return nil
	}
}

var webCSR = signingCase{tmpl: x509.CertificateRequest{DNSNames: []string{"web.example.com"}}}

func TestRequesterWithoutReferenceFailsDeniedReference(t *testing.T) {
	iut := newIssuerUnderTest(t, policyv1alpha1.IssuerKindIssuer, false)
	stranger := "stranger-" + policyName(t)
	env.GrantCSRCreate(t, stranger)
	iut.requester = env.User(t, stranger)
	c, _ := iut.submit(t, webCSR)
	got := env.WaitForCSR(t, c.Name, wait, failedWith("DeniedReference"))
	if msg := harness.Condition(got, certificatesv1.CertificateFailed).Message; !strings.Contains(msg, stranger) {
		t.Errorf("DeniedReference message %q does not name the requester", msg)
	}
}

func TestDurationUnderTenMinutesFailsInvalidDuration(t *testing.T) {
	iut := newIssuerUnderTest(t, policyv1alpha1.IssuerKindClusterIssuer, false)
	tc := webCSR
	tc.annotations = map[string]string{"experimental.cert-manager.io/request-duration": "5m"}
	c, _ := iut.submit(t, tc)
	env.WaitForCSR(t, c.Name, wait, failedWith("InvalidDuration"))
}

func TestUnparsableDurationFailsErrorParseDuration(t *testing.T) {
	iut := newIssuerUnderTest(t, policyv1alpha1.IssuerKindClusterIssuer, false)
	tc := webCSR
	tc.annotations = map[string]string{"experimental.cert-manager.io/request-duration": "a fortnight"}
	c, _ := iut.submit(t, tc)
	env.WaitForCSR(t, c.Name, wait, failedWith("ErrorParseDuration"))
}

func TestIsCAAnnotationDisagreeingWithBasicConstraintsFails(t *testing.T) {
	for _, selfSigned := range []bool{false, true} {
		iut := newIssuerUnderTest(t, policyv1alpha1.IssuerKindIssuer, selfSigned)
		t.Run(iut.name, func(t *testing.T) {
			ext, err := pki.MarshalBasicConstraints(true, nil)
			if err != nil {
				t.Fatal(err)
			}
			tc := signingCase{tmpl: x509.CertificateRequest{Subject: pkix.Name{CommonName: "not a CA"}, ExtraExtensions: []pkix.Extension{ext}}}
			c, _ := iut.submit(t, tc) // the annotation is absent: the request says CA, the CSR says not
			// The requester's policy, which signing applies in full, refuses the disagreement
			// before the signer's own check would.
			got := env.WaitForCSR(t, c.Name, wait, failedWith("PolicyViolation"))
			if msg := harness.Condition(got, certificatesv1.CertificateFailed).Message; !strings.Contains(msg, "BasicConstraints extension says CA=true") {
				t.Errorf("PolicyViolation message %q does not say the request encodes CA=true", msg)
			}
		})
	}
}

func TestCASecretCreatedAfterTheCSRIsUsedOnceItExists(t *testing.T) {
	ns := env.Namespace(t)
	root := testpki.NewRootCA(t, testpki.ECDSA, "late CA")
	env.Create(t, &cmapi.Issuer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "late"},
		Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: "late-ca"}}}})
	user := "requester-" + ns
	env.GrantCSRCreate(t, user)
	env.GrantReference(t, ns, "late", harness.UserSubject(user))
	iut := issuerUnderTest{signerName: "issuers.cert-manager.io/" + ns + ".late", secretNamespace: ns, ca: root, requester: env.User(t, user)}
	governed(t, iut.signerName, user)

	c, key := iut.submit(t, webCSR)
	waitForEvent(t, c, "SecretMissing")
	env.Create(t, root.Secret(ns, "late-ca"))
	got := env.WaitForCSR(t, c.Name, wait, harness.Issued)
	verifyCertificate(t, iut, webCSR, got, key)
}

func TestSelfSignedSecretCreatedLateOrFixedIsUsed(t *testing.T) {
	iut := newIssuerUnderTest(t, policyv1alpha1.IssuerKindIssuer, true)
	key := testpki.NewKey(t, testpki.ECDSA)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: iut.secretNamespace, Name: "late-key"},
		Data: map[string][]byte{"tls.key": []byte("not a key")}}
	c := env.SubmitCSR(t, iut.requester, harness.CSR{
		SignerName: iut.signerName, Request: testpki.RequestPEM(t, key, &webCSR.tmpl),
		Annotations: map[string]string{"experimental.cert-manager.io/private-key-secret-name": "late-key"},
	})
	if err := harness.Approve(env.Admin, c.Name); err != nil {
		t.Fatal(err)
	}
	waitForEvent(t, c, "SecretMissing")
	env.Create(t, secret)
	ev := waitForEvent(t, c, "SecretInvalidData")
	if strings.Contains(ev.Note, "not a key") {
		t.Errorf("event leaks the Secret's content: %q", ev.Note)
	}
	secret.Data["tls.key"] = testpki.KeyPEM(t, key)
	if err := env.Admin.Update(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	got := env.WaitForCSR(t, c.Name, wait, harness.Issued)
	verifyCertificate(t, iut, webCSR, got, key)
}

func TestSelfSignedWithTheWrongKeyFailsErrorKeyMatch(t *testing.T) {
	iut := newIssuerUnderTest(t, policyv1alpha1.IssuerKindClusterIssuer, true)
	other := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: iut.secretNamespace, GenerateName: "other-"},
		Data: map[string][]byte{"tls.key": testpki.KeyPEM(t, testpki.NewKey(t, testpki.ECDSA))}}
	env.Create(t, other)
	c := env.SubmitCSR(t, iut.requester, harness.CSR{
		SignerName: iut.signerName, Request: testpki.RequestPEM(t, testpki.NewKey(t, testpki.ECDSA), &webCSR.tmpl),
		Annotations: map[string]string{"experimental.cert-manager.io/private-key-secret-name": other.Name},
	})
	if err := harness.Approve(env.Admin, c.Name); err != nil {
		t.Fatal(err)
	}
	env.WaitForCSR(t, c.Name, wait, failedWith("ErrorKeyMatch"))
}

func TestSelfSignedWithoutTheKeyAnnotationFailsMissingAnnotation(t *testing.T) {
	iut := newIssuerUnderTest(t, policyv1alpha1.IssuerKindIssuer, true)
	c := env.SubmitCSR(t, iut.requester, harness.CSR{SignerName: iut.signerName, Request: dnsCSR(t, "web.example.com")})
	if err := harness.Approve(env.Admin, c.Name); err != nil {
		t.Fatal(err)
	}
	env.WaitForCSR(t, c.Name, wait, failedWith("MissingAnnotation"))
}

// A person may approve a CSR the policy would have refused, but signing still holds it to the
// governing policy's bounds.
func TestPersonApprovingWhatThePolicyForbidsFailsPolicyViolation(t *testing.T) {
	iut := newIssuerUnderTest(t, policyv1alpha1.IssuerKindClusterIssuer, false, func(p *policyv1alpha1.SignerPolicy) { p.Spec.AllowCA = false })

	tc := signingCase{tmpl: x509.CertificateRequest{Subject: pkix.Name{CommonName: "Rogue CA"}},
		annotations: map[string]string{"experimental.cert-manager.io/request-is-ca": "true"}}
	c, _ := iut.submit(t, tc)
	got := env.WaitForCSR(t, c.Name, wait, failedWith("PolicyViolation"))
	if msg := harness.Condition(got, certificatesv1.CertificateFailed).Message; !strings.Contains(msg, "spec.allowCA") {
		t.Errorf("PolicyViolation message %q does not name spec.allowCA", msg)
	}
}

func TestPolicyMaxClampsTheDuration(t *testing.T) {
	iut := newIssuerUnderTest(t, policyv1alpha1.IssuerKindClusterIssuer, false, func(p *policyv1alpha1.SignerPolicy) {
		p.Spec.Duration = &policyv1alpha1.DurationBounds{Max: &metav1.Duration{Duration: 48 * 3600e9}}
	})

	tc := webCSR
	tc.annotations = map[string]string{"experimental.cert-manager.io/request-duration": "720h"}
	c, key := iut.submit(t, tc)
	got := env.WaitForCSR(t, c.Name, wait, harness.Issued)
	tc.duration = 48 * 3600e9
	verifyCertificate(t, iut, tc, got, key)
}

func TestMalformedSignerNameIsIgnoredAndOthersProceed(t *testing.T) {
	iut := newIssuerUnderTest(t, policyv1alpha1.IssuerKindClusterIssuer, false)
	bad := env.SubmitCSR(t, iut.requester, harness.CSR{SignerName: "issuers.cert-manager.io/no-dot-here", Request: dnsCSR(t, "web.example.com")})
	if err := harness.Approve(env.Admin, bad.Name); err != nil {
		t.Fatal(err)
	}
	ev := waitForEvent(t, bad, "InvalidSignerName")
	if !strings.Contains(ev.Note, "spec.signerName") {
		t.Errorf("event %q does not name spec.signerName", ev.Note)
	}
	good, _ := iut.submit(t, webCSR)
	env.WaitForCSR(t, good.Name, wait, harness.Issued)
	var got certificatesv1.CertificateSigningRequest
	if err := env.Admin.Get(context.Background(), client.ObjectKeyFromObject(bad), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Status.Certificate) > 0 || harness.Condition(&got, certificatesv1.CertificateFailed) != nil {
		t.Errorf("malformed signerName CSR was acted on: %+v", got.Status)
	}
}

func TestUnapprovedCSRWaitsAndIsSignedAfterApproval(t *testing.T) {
	iut := newIssuerUnderTest(t, policyv1alpha1.IssuerKindIssuer, false)
	key := testpki.NewKey(t, testpki.ECDSA)
	c := env.SubmitCSR(t, iut.requester, harness.CSR{SignerName: iut.signerName, Request: testpki.RequestPEM(t, key, &webCSR.tmpl)})
	// Its policy is Manual: the CSR says it waits for a person, and nothing is signed before.
	waiting := env.WaitForCSR(t, c.Name, wait, harness.HasCondition(csr.ConditionWaiting))
	if cond := csr.Condition(waiting, csr.ConditionWaiting); cond.Reason != "SignerPolicyEvaluated" || len(waiting.Status.Certificate) > 0 {
		t.Fatalf("an unapproved CSR under a Manual policy: %+v, certificate %d bytes", cond, len(waiting.Status.Certificate))
	}
	if err := harness.Approve(env.Admin, c.Name); err != nil {
		t.Fatal(err)
	}
	got := env.WaitForCSR(t, c.Name, wait, harness.Issued)
	verifyCertificate(t, iut, webCSR, got, key)
	waitForEvent(t, got, "CertificateIssued")
	block, _ := pem.Decode(got.Status.Certificate)
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	fingerprint := sha256.Sum256(leaf.Raw)
	r := recordOf(t, got, "Issued")
	if r.Certificate == nil || r.Certificate.Serial != leaf.SerialNumber.Text(16) || r.Certificate.SHA256Fingerprint != hex.EncodeToString(fingerprint[:]) ||
		r.Issuer == nil || r.Issuer.Type != "CA" || r.GrantedLifetime != "2160h0m0s" {
		t.Errorf("the governance record of the issuance does not match the certificate: %+v", r)
	}
}

func TestIssuerCreatedAfterTheCSRIsUsed(t *testing.T) {
	ns := env.Namespace(t)
	user := "requester-" + ns
	env.GrantCSRCreate(t, user)
	iut := issuerUnderTest{signerName: "clusterissuers.cert-manager.io/late-" + ns, secretNamespace: clusterResourceNamespace, requester: env.User(t, user)}
	// Not Ready until the issuer exists: the policy coming into force is part of what the
	// issuer's creation must set off.
	env.Create(t, broadPolicy(iut.signerName, user))
	iut.ca = testpki.NewRootCA(t, testpki.ECDSA, "late")
	env.Create(t, iut.ca.Secret(clusterResourceNamespace, "late-"+ns))
	c, key := iut.submit(t, webCSR)
	waitForEvent(t, c, "IssuerNotFound")
	env.Create(t, &cmapi.ClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: "late-" + ns},
		Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: "late-" + ns}}}})
	got := env.WaitForCSR(t, c.Name, wait, harness.Issued)
	verifyCertificate(t, iut, webCSR, got, key)
}
