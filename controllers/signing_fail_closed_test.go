//go:build !unit

package controllers_test

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"strings"
	"testing"
	"time"

	"github.com/cert-manager/cert-manager/pkg/util/pki"
	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

// Attacks on signing: a person holding approve rights approves what the requester's own policy
// does not allow. Each issuer is governed by a narrow Manual policy for its requester and a broad
// Automatic one for another team only; whatever the person approves, the requester gets no more
// than the narrow policy allows, for CA and SelfSigned Issuers and ClusterIssuers alike.

// narrowForRequester is the requester's own policy: no CA, server auth, 24 hours, *.m.example.com.
func narrowForRequester(p *policyv1alpha1.SignerPolicy) {
	p.Spec.AllowCA = false
	p.Spec.Usages = []policyv1alpha1.KeyUsage{"digital signature", "key encipherment", "server auth"}
	p.Spec.Duration = &policyv1alpha1.DurationBounds{Max: &metav1.Duration{Duration: 24 * time.Hour}}
	p.Spec.Allowed = policyv1alpha1.Allowed{DNSNames: []string{"*.m.example.com"}}
	p.Spec.PrivateKey = &policyv1alpha1.PrivateKeyPolicy{ECDSA: &policyv1alpha1.ECDSAKeyPolicy{MinSize: 256}}
}

// broadForAnotherTeam governs the same issuer for a group the requester is not in.
func broadForAnotherTeam(iut issuerUnderTest) *policyv1alpha1.SignerPolicy {
	p := broadPolicy(iut.signerName, "unused")
	p.Name = "other-team." + p.Name
	p.Spec.Requesters = policyv1alpha1.Subjects{Groups: []string{"team-b"}}
	p.Spec.Approval.Mode = policyv1alpha1.ApprovalAutomatic
	p.Spec.Duration = &policyv1alpha1.DurationBounds{Max: &metav1.Duration{Duration: 87600 * time.Hour}}
	p.Spec.Allowed.DNSNames = append(p.Spec.Allowed.DNSNames, "*.b.example.com", "*.m.example.com")
	p.Spec.Allowed.OrganizationalUnits = []string{"*", "system:masters"}
	p.Spec.Allowed.CommonName = append(p.Spec.Allowed.CommonName, "system:masters")
	p.Spec.Allowed.EmailAddresses = []string{"*@evil.com"}
	return p
}

func TestAPersonsApprovalNeverWidensTheRequestersPolicy(t *testing.T) {
	nameConstraints, err := pki.MarshalNameConstraints(&pki.NameConstraints{PermittedDNSDomains: []string{"m.example.com"}}, true)
	if err != nil {
		t.Fatal(err)
	}
	emailAttribute := pkix.AttributeTypeAndValue{Type: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, Value: "evil@evil.com"}
	web := x509.CertificateRequest{DNSNames: []string{"web.m.example.com"}}
	with := func(edit func(*x509.CertificateRequest)) x509.CertificateRequest {
		r := web
		edit(&r)
		return r
	}
	attacks := []struct {
		name    string
		tc      signingCase
		mention []string
	}{
		{name: "the CA flag", mention: []string{"spec.allowCA"},
			tc: signingCase{tmpl: web, annotations: map[string]string{"experimental.cert-manager.io/request-is-ca": "true"}}},
		{name: "client auth", mention: []string{"spec.usages", "client auth"},
			tc: signingCase{tmpl: web, usages: []certificatesv1.KeyUsage{"digital signature", "client auth"}}},
		{name: "a name only the other team may have", mention: []string{"spec.allowed.dnsNames", "x.b.example.com"},
			tc: signingCase{tmpl: with(func(r *x509.CertificateRequest) { r.DNSNames = []string{"x.b.example.com"} })}},
		{name: "CN=system:masters", mention: []string{"system:masters"},
			tc: signingCase{tmpl: with(func(r *x509.CertificateRequest) { r.Subject.CommonName = "system:masters" })}},
		{name: "OU=system:masters", mention: []string{"system:masters"},
			tc: signingCase{tmpl: with(func(r *x509.CertificateRequest) { r.Subject.OrganizationalUnit = []string{"system:masters"} })}},
		{name: "an emailAddress subject attribute", mention: []string{"spec.allowed.emailAddresses", "evil@evil.com"},
			tc: signingCase{tmpl: with(func(r *x509.CertificateRequest) { r.Subject.ExtraNames = []pkix.AttributeTypeAndValue{emailAttribute} })}},
		{name: "a NUL inside a DNS label", mention: []string{"spec.allowed.dnsNames", `a\x00b.m.example.com`},
			tc: signingCase{tmpl: with(func(r *x509.CertificateRequest) { r.DNSNames = []string{"a\x00b.m.example.com"} })}},
		{name: "a space inside a DNS label", mention: []string{"spec.allowed.dnsNames", "a b.m.example.com"},
			tc: signingCase{tmpl: with(func(r *x509.CertificateRequest) { r.DNSNames = []string{"a b.m.example.com"} })}},
		{name: "an underscore in a DNS label", mention: []string{"spec.allowed.dnsNames", "a_b.m.example.com"},
			tc: signingCase{tmpl: with(func(r *x509.CertificateRequest) { r.DNSNames = []string{"a_b.m.example.com"} })}},
		{name: "a key algorithm only the other team may use", mention: []string{"spec.privateKey", "rsa"},
			tc: signingCase{tmpl: web, alg: testpki.RSA}},
		{name: "a locality the policy does not name", mention: []string{"spec.allowed.localities", "Gotham"},
			tc: signingCase{tmpl: with(func(r *x509.CertificateRequest) { r.Subject.Locality = []string{"Gotham"} })}},
		{name: "a critical NameConstraints extension", mention: []string{"2.5.29.30"},
			tc: signingCase{tmpl: with(func(r *x509.CertificateRequest) { r.ExtraExtensions = []pkix.Extension{nameConstraints} })}},
	}
	for _, kind := range []policyv1alpha1.IssuerKind{policyv1alpha1.IssuerKindIssuer, policyv1alpha1.IssuerKindClusterIssuer} {
		for _, selfSigned := range []bool{false, true} {
			iut := newIssuerUnderTest(t, kind, selfSigned, narrowForRequester)
			other := broadForAnotherTeam(iut)
			env.GovernWithPolicy(t, other)
			t.Run(iut.name, func(t *testing.T) {
				for _, attack := range attacks {
					t.Run(attack.name, func(t *testing.T) {
						t.Parallel()
						c, _ := iut.submit(t, attack.tc)
						got := env.WaitForCSR(t, c.Name, wait, failedWith("PolicyViolation"))
						msg := harness.Condition(got, certificatesv1.CertificateFailed).Message
						for _, m := range append(attack.mention, "governs.") {
							if !strings.Contains(msg, m) {
								t.Errorf("PolicyViolation message %q does not mention %q", msg, m)
							}
						}
					})
				}
				// What the narrow policy allows is signed, for no longer than its max, although
				// the person approved 90 days and the other team may have ten years.
				t.Run("within the requester's policy, clamped to its max", func(t *testing.T) {
					t.Parallel()
					tc := signingCase{tmpl: web, annotations: map[string]string{"experimental.cert-manager.io/request-duration": "2160h"}}
					c, key := iut.submit(t, tc)
					got := env.WaitForCSR(t, c.Name, wait, harness.Issued)
					tc.duration = 24 * time.Hour
					verifyCertificate(t, iut, tc, got, key)
				})
			})
		}
	}
}

// A signer no policy governs signs nothing, even what a cluster admin approves; a policy created
// afterwards that allows the CSR gets it signed.
func TestApprovedCSRForAnUngovernedIssuerIsSignedOnlyOnceAPolicyAllowsIt(t *testing.T) {
	for _, kind := range []policyv1alpha1.IssuerKind{policyv1alpha1.IssuerKindIssuer, policyv1alpha1.IssuerKindClusterIssuer} {
		for _, selfSigned := range []bool{false, true} {
			iut, user := newUngovernedIssuerUnderTest(t, kind, selfSigned)
			t.Run(iut.name, func(t *testing.T) {
				t.Parallel()
				tc := signingCase{tmpl: x509.CertificateRequest{DNSNames: []string{"web.example.com"}}}
				c, key := iut.submit(t, tc)
				ev := waitForEvent(t, c, "NoSignerPolicy")
				if ev.Type != "Warning" || !strings.Contains(ev.Note, iut.signerName) {
					t.Errorf("NoSignerPolicy event is %s %q, want a Warning naming the signer", ev.Type, ev.Note)
				}
				stillWaiting(t, c.Name, time.Second)
				governed(t, iut.signerName, user)
				got := env.WaitForCSR(t, c.Name, wait, harness.Issued)
				verifyCertificate(t, iut, tc, got, key)
			})
		}
	}
}

// A policy narrowed between approval and signing (the CA Secret was missing for a while) is the
// policy signing applies.
func TestAPolicyNarrowedAfterApprovalStopsTheSignature(t *testing.T) {
	ns := env.Namespace(t)
	root := testpki.NewRootCA(t, testpki.ECDSA, "late CA")
	iut := issuerUnderTest{signerName: "issuers.cert-manager.io/" + ns + ".ca", secretNamespace: ns, ca: root}
	env.Create(t, caIssuer(ns, "ca"))
	user := "requester-" + ns
	env.GrantCSRCreate(t, user)
	env.GrantReference(t, ns, "ca", harness.UserSubject(user))
	iut.requester = env.User(t, user)
	governed(t, iut.signerName, user)

	c, _ := iut.submit(t, webCSR)
	waitForEvent(t, c, "SecretMissing")
	harness.Eventually(t, wait, func() error {
		var p policyv1alpha1.SignerPolicy
		if err := env.Admin.Get(context.Background(), client.ObjectKey{Name: broadPolicy(iut.signerName, user).Name}, &p); err != nil {
			return err
		}
		p.Spec.Allowed.DNSNames = []string{"*.internal.example.com"}
		return env.Admin.Update(context.Background(), &p)
	})
	readyStatus(t, broadPolicy(iut.signerName, user).Name, metav1.ConditionTrue)
	env.Create(t, root.Secret(ns, "ca"))
	got := env.WaitForCSR(t, c.Name, wait, failedWith("PolicyViolation"))
	if msg := harness.Condition(got, certificatesv1.CertificateFailed).Message; !strings.Contains(msg, "web.example.com") {
		t.Errorf("PolicyViolation message %q does not name the refused name", msg)
	}
}
