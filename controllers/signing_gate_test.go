//go:build !unit

package controllers_test

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"github.com/cert-manager/cert-manager/pkg/util/pki"
	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

// An Issuer with no status at all is signed for: every issuer of TestSigningMatrix is one, as no
// cert-manager runs in these tests to set its conditions. The tests here cover the rest of the
// shared gate that the matrix does not reach.

// setIssuerReady writes the Issuer's cert-manager Ready condition through the status
// subresource, as cert-manager's issuer controller would.
func setIssuerReady(t *testing.T, ns, name string, status cmmeta.ConditionStatus, message string) {
	t.Helper()
	harness.Eventually(t, wait, func() error {
		var issuer cmapi.Issuer
		if err := env.Admin.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &issuer); err != nil {
			return err
		}
		now := metav1.Now()
		issuer.Status.Conditions = []cmapi.IssuerCondition{{
			Type: cmapi.IssuerConditionReady, Status: status, Reason: "TestSetsReadiness", Message: message, LastTransitionTime: &now,
		}}
		return env.Admin.Status().Update(context.Background(), &issuer)
	})
}

// stillWaiting fails the test if, for the whole of d, the CSR is ever Failed or issued.
func stillWaiting(t *testing.T, name string, d time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var c certificatesv1.CertificateSigningRequest
		if err := env.Admin.Get(context.Background(), client.ObjectKey{Name: name}, &c); err != nil {
			t.Fatal(err)
		}
		if harness.Condition(&c, certificatesv1.CertificateFailed) != nil || len(c.Status.Certificate) > 0 {
			t.Fatalf("CSR should still be waiting, has certificate %t and conditions %+v", len(c.Status.Certificate) > 0, c.Status.Conditions)
		}
	}
}

func TestIssuerNotReadyHoldsTheCSRUntilItIsReady(t *testing.T) {
	ns := env.Namespace(t)
	const name = "flaky"
	root := testpki.NewRootCA(t, testpki.ECDSA, "flaky CA")
	env.Create(t, caIssuer(ns, name))
	setIssuerReady(t, ns, name, cmmeta.ConditionFalse, "the CA Secret failed verification")
	user := "requester-" + ns
	env.GrantCSRCreate(t, user)
	env.GrantReference(t, ns, name, harness.UserSubject(user))
	iut := issuerUnderTest{signerName: "issuers.cert-manager.io/" + ns + "." + name, secretNamespace: ns, ca: root, requester: env.User(t, user)}
	governed(t, iut.signerName, user)

	// The CA Secret is created only after the operator reported IssuerNotReady: until then the
	// CSR cannot be signed even if the operator's cache has not yet seen the Ready=False status,
	// so the event proves the cache has, and nothing but readiness holds the CSR afterwards.
	c, key := iut.submit(t, webCSR)
	ev := waitForEvent(t, c, "IssuerNotReady")
	if !strings.Contains(ev.Note, "the CA Secret failed verification") {
		t.Errorf("IssuerNotReady event %q does not carry the issuer's message", ev.Note)
	}
	env.Create(t, root.Secret(ns, name))
	stillWaiting(t, c.Name, 2*time.Second)

	setIssuerReady(t, ns, name, cmmeta.ConditionTrue, "Signing CA verified")
	got := env.WaitForCSR(t, c.Name, wait, harness.Issued)
	verifyCertificate(t, iut, webCSR, got, key)
}

// caIssuerWithoutReference is a CA Issuer named "ca" in ns with its Secret, governed by a policy
// edited by mutate, and the name of a user who may create CSRs but whose `reference` on the
// issuer, and client, are left to the test and the policy.
func caIssuerWithoutReference(t *testing.T, ns string, mutate func(*policyv1alpha1.SignerPolicy)) (iut issuerUnderTest, user string) {
	t.Helper()
	const name = "ca"
	iut = issuerUnderTest{signerName: "issuers.cert-manager.io/" + ns + "." + name, secretNamespace: ns,
		ca: testpki.NewRootCA(t, testpki.ECDSA, "Test Root "+ns)}
	env.Create(t, caIssuer(ns, name))
	env.Create(t, iut.ca.Secret(ns, name))
	user = "requester-" + ns
	env.GrantCSRCreate(t, user)
	governed(t, iut.signerName, user, mutate)
	return iut, user
}

// The SubjectAccessReview must carry the requester's groups from the CSR: a requester allowed
// only through a group is allowed. The policy names the group, so the reference Role it
// generates is the group's only.
func TestReferenceGrantedToARequesterGroupIsEnough(t *testing.T) {
	ns := env.Namespace(t)
	group := "issuer-users-" + ns
	iut, user := caIssuerWithoutReference(t, ns, func(p *policyv1alpha1.SignerPolicy) {
		p.Spec.Requesters = policyv1alpha1.Subjects{Groups: []string{group}}
	})
	iut.requester = env.User(t, user, group)
	// The user alone, without the group, has no grant: only the group can make signing pass.
	harness.Eventually(t, wait, func() error {
		if !mayReference(t, user, ns, "ca", group) {
			return fmt.Errorf("the group's grant has not reached the authorizer yet")
		}
		return nil
	})
	if mayReference(t, user, ns, "ca") || mayReference(t, user, ns, "*") {
		t.Fatal("the requester may reference the issuer without its group, so the test would not show the groups are sent")
	}

	c, key := iut.submit(t, webCSR)
	if !slices.Contains(c.Spec.Groups, group) {
		t.Fatalf("CSR spec.groups = %v, want it to hold %s", c.Spec.Groups, group)
	}
	got := env.WaitForCSR(t, c.Name, wait, harness.Issued)
	verifyCertificate(t, iut, webCSR, got, key)
}

// The reverse of TestIsCAAnnotationDisagreeingWithBasicConstraintsFails: the annotation asks
// for a CA, the PKCS#10 request encodes BasicConstraints CA=false. cert-manager refuses a
// request whose encoded CA flag disagrees with the requested one, in either direction; here the
// requester's policy, applied in full at signing, refuses it first.
func TestIsCAAnnotationOnARequestEncodingCAFalseFails(t *testing.T) {
	for _, selfSigned := range []bool{false, true} {
		iut := newIssuerUnderTest(t, policyv1alpha1.IssuerKindIssuer, selfSigned)
		t.Run(iut.name, func(t *testing.T) {
			ext, err := pki.MarshalBasicConstraints(false, nil)
			if err != nil {
				t.Fatal(err)
			}
			tc := signingCase{tmpl: x509.CertificateRequest{Subject: pkix.Name{CommonName: "not a CA"}, ExtraExtensions: []pkix.Extension{ext}},
				annotations: map[string]string{"experimental.cert-manager.io/request-is-ca": "true"}}
			c, _ := iut.submit(t, tc)
			got := env.WaitForCSR(t, c.Name, wait, failedWith("PolicyViolation"))
			if msg := harness.Condition(got, certificatesv1.CertificateFailed).Message; !strings.Contains(msg, "request-is-ca") {
				t.Errorf("PolicyViolation message %q does not name the annotation", msg)
			}
		})
	}
}

// A request without a BasicConstraints extension says nothing about being a CA, so the
// annotation alone decides (csr.BasicConstraintsIsCA): the certificate is a CA.
func TestIsCAAnnotationOnARequestWithoutBasicConstraintsIssuesACA(t *testing.T) {
	for _, selfSigned := range []bool{false, true} {
		iut := newIssuerUnderTest(t, policyv1alpha1.IssuerKindIssuer, selfSigned)
		t.Run(iut.name, func(t *testing.T) {
			tc := signingCase{tmpl: x509.CertificateRequest{Subject: pkix.Name{CommonName: "Team CA"}},
				annotations: map[string]string{"experimental.cert-manager.io/request-is-ca": "true"}, isCA: true}
			c, key := iut.submit(t, tc)
			got := env.WaitForCSR(t, c.Name, wait, harness.Issued)
			verifyCertificate(t, iut, tc, got, key) // checks leaf.IsCA == true
		})
	}
}
