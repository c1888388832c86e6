//go:build !unit

package controllers_test

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"strings"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

// A rule over the requester's identity, as the API server authenticated it, tells apart what the
// patterns alone cannot: every service account of the namespace may ask for names of its own
// namespace's service domain, and none for another namespace's.
func TestValidationRulesDecideWithTheRequestersIdentity(t *testing.T) {
	const message = "DNS names must lie in the requester's own namespace"
	tn := newTenant(t, func(p *policyv1alpha1.SignerPolicy) {
		p.Spec.Requesters = policyv1alpha1.Subjects{Groups: []string{"system:serviceaccounts:" + p.Spec.IssuerRef.Namespace}}
		p.Spec.Allowed.DNSNames = []string{"*.*.svc"}
		p.Spec.Validations = []policyv1alpha1.Validation{{
			Rule:    `request.dnsNames.all(n, n.endsWith("." + requester.serviceAccount.namespace + ".svc"))`,
			Message: message,
		}}
	})
	web := env.User(t, "system:serviceaccount:"+tn.ns+":web", "system:serviceaccounts", "system:serviceaccounts:"+tn.ns)

	own := env.SubmitCSR(t, web, harness.CSR{SignerName: tn.signerName, Request: dnsCSR(t, "web."+tn.ns+".svc")})
	env.WaitForCSR(t, own.Name, wait, approvedBy(tn.policy))

	other := env.SubmitCSR(t, web, harness.CSR{SignerName: tn.signerName, Request: dnsCSR(t, "web."+tn.ns+".svc", "api.kube-system.svc")})
	got := env.WaitForCSR(t, other.Name, wait, deniedNaming("spec.validations[0].rule"))
	if msg := harness.Condition(got, certificatesv1.CertificateDenied).Message; !strings.Contains(msg, message) {
		t.Errorf("denial %q does not carry the rule's message", msg)
	}
}

// A rule that does not compile keeps the policy from being Ready, with the compiler's words, and
// the policy comes into force once the rule is mended.
func TestPolicyWithARuleThatDoesNotCompileIsNotReady(t *testing.T) {
	ns := env.Namespace(t)
	env.Create(t, caIssuer(ns, "ca"))
	name := policyName(t)
	p := policyFor(name, policyv1alpha1.IssuerReference{Kind: "Issuer", Namespace: ns, Name: "ca"})
	p.Spec.Validations = []policyv1alpha1.Validation{{Rule: `true`}, {Rule: `request.hostnames.exists(h, h == "x")`}}
	env.Create(t, p)

	p = readyStatus(t, name, metav1.ConditionFalse)
	c := meta.FindStatusCondition(p.Status.Conditions, policyv1alpha1.ConditionReady)
	if c.Reason != policyv1alpha1.ReasonInvalidPolicy || !strings.Contains(c.Message, "spec.validations[1].rule") || !strings.Contains(c.Message, "hostnames") {
		t.Fatalf("Ready = %s %q, want InvalidPolicy naming spec.validations[1].rule and the unknown field", c.Reason, c.Message)
	}
	p.Spec.Validations[1].Rule = `request.dnsNames.exists(h, h == "x")`
	if err := env.Admin.Update(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	readyStatus(t, name, metav1.ConditionTrue)
}

func TestRequiredAttributesAreEnforced(t *testing.T) {
	tn := newTenant(t, func(p *policyv1alpha1.SignerPolicy) {
		p.Spec.Allowed.CommonName = []string{"*"}
		p.Spec.Allowed.Required = []policyv1alpha1.AttributeName{"dnsNames"}
	})
	alice := env.User(t, tn.user)
	cnOnly := testpki.RequestPEM(t, testpki.NewKey(t, testpki.ECDSA), &x509.CertificateRequest{Subject: pkix.Name{CommonName: "web"}})
	c := env.SubmitCSR(t, alice, harness.CSR{SignerName: tn.signerName, Request: cnOnly})
	got := env.WaitForCSR(t, c.Name, wait, deniedNaming("spec.allowed.dnsNames"))
	if msg := harness.Condition(got, certificatesv1.CertificateDenied).Message; !strings.Contains(msg, "requires at least one value of dnsNames") {
		t.Errorf("denial %q does not say the attribute is required", msg)
	}
	withName := env.SubmitCSR(t, alice, harness.CSR{SignerName: tn.signerName, Request: dnsCSR(t, "web.example.com")})
	env.WaitForCSR(t, withName.Name, wait, approvedBy(tn.policy))
}
