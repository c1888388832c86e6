//go:build !unit

package controllers_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/csr"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

// tenant is a namespace with a CA Issuer and a Ready Automatic policy letting one user request
// certificates for *.example.com from it.
type tenant struct {
	ns, user, policy, signerName string
}

func newTenant(t testing.TB, mutate ...func(*policyv1alpha1.SignerPolicy)) tenant {
	t.Helper()
	ns := env.Namespace(t)
	env.Create(t, caIssuer(ns, "ca"))
	tn := tenant{ns: ns, user: "alice-" + ns, policy: policyName(t), signerName: "issuers.cert-manager.io/" + ns + ".ca"}
	p := policyFor(tn.policy, policyv1alpha1.IssuerReference{Kind: "Issuer", Namespace: ns, Name: "ca"})
	p.Spec.Requesters = policyv1alpha1.Subjects{Users: []string{tn.user}}
	p.Spec.Allowed.DNSNames = []string{"*.example.com"}
	for _, m := range mutate {
		m(p)
	}
	env.Create(t, p)
	readyStatus(t, tn.policy, metav1.ConditionTrue)
	return tn
}

func dnsCSR(t testing.TB, dnsNames ...string) []byte {
	return testpki.RequestPEM(t, testpki.NewKey(t, testpki.ECDSA), &x509.CertificateRequest{DNSNames: dnsNames})
}

func approvedBy(policy string) func(*certificatesv1.CertificateSigningRequest) error {
	return func(c *certificatesv1.CertificateSigningRequest) error {
		cond := harness.Condition(c, certificatesv1.CertificateApproved)
		if cond == nil {
			return fmt.Errorf("not approved: %+v", c.Status.Conditions)
		}
		if cond.Reason != "SignerPolicyApproved" || !strings.Contains(cond.Message, fmt.Sprintf("%q", policy)) {
			return fmt.Errorf("approved with %s: %q, want reason SignerPolicyApproved naming %q", cond.Reason, cond.Message, policy)
		}
		return nil
	}
}

func deniedNaming(field string) func(*certificatesv1.CertificateSigningRequest) error {
	return func(c *certificatesv1.CertificateSigningRequest) error {
		cond := harness.Condition(c, certificatesv1.CertificateDenied)
		if cond == nil {
			return fmt.Errorf("not denied: %+v", c.Status.Conditions)
		}
		if cond.Reason != "SignerPolicyDenied" || !strings.Contains(cond.Message, field) {
			return fmt.Errorf("denied with %s: %q, want reason SignerPolicyDenied naming %s", cond.Reason, cond.Message, field)
		}
		return nil
	}
}

func TestRequesterNamedInPolicyIsApproved(t *testing.T) {
	tn := newTenant(t)
	alice := env.User(t, tn.user)
	c := env.SubmitCSR(t, alice, harness.CSR{SignerName: tn.signerName, Request: dnsCSR(t, "web.example.com")})

	got := env.WaitForCSR(t, c.Name, wait, approvedBy(tn.policy))
	if got.Spec.Username != tn.user {
		t.Errorf("spec.username = %q; the CSR must be created by the requester's own client", got.Spec.Username)
	}
}

func TestRequesterNotNamedIsDenied(t *testing.T) {
	tn := newTenant(t)
	stranger := "mallory-" + tn.ns
	env.GrantCSRCreate(t, stranger)
	c := env.SubmitCSR(t, env.User(t, stranger), harness.CSR{SignerName: tn.signerName, Request: dnsCSR(t, "web.example.com")})
	env.WaitForCSR(t, c.Name, wait, deniedNaming("spec.requesters"))
}

func TestDisallowedRequestsAreDeniedNamingTheField(t *testing.T) {
	tn := newTenant(t, func(p *policyv1alpha1.SignerPolicy) {
		p.Spec.Duration = &policyv1alpha1.DurationBounds{Max: &metav1.Duration{Duration: 48 * time.Hour}}
		p.Spec.Usages = []policyv1alpha1.KeyUsage{"digital signature", "key encipherment", "server auth"}
	})
	alice := env.User(t, tn.user)
	smallRSA, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		csr   harness.CSR
		field string
	}{
		{"DNS name outside the patterns", harness.CSR{Request: dnsCSR(t, "web.evil.com")}, "spec.allowed.dnsNames"},
		{"usage not allowed", harness.CSR{Request: dnsCSR(t, "web.example.com"),
			Usages: []certificatesv1.KeyUsage{"digital signature", "client auth"}}, "spec.usages"},
		{"duration over max", harness.CSR{Request: dnsCSR(t, "web.example.com"),
			Annotations: map[string]string{"experimental.cert-manager.io/request-duration": "72h"}}, "spec.duration.max"},
		{"CA flag not allowed", harness.CSR{Request: dnsCSR(t, "web.example.com"),
			Annotations: map[string]string{"experimental.cert-manager.io/request-is-ca": "true"}}, "spec.allowCA"},
		{"RSA key too small", harness.CSR{Request: testpki.RequestPEM(t, smallRSA, &x509.CertificateRequest{DNSNames: []string{"web.example.com"}})},
			"spec.privateKey"},
		{"garbage duration annotation", harness.CSR{Request: dnsCSR(t, "web.example.com"),
			Annotations: map[string]string{"experimental.cert-manager.io/request-duration": "soon"}}, "experimental.cert-manager.io/request-duration"},
		{"subject impersonating system:masters", harness.CSR{Request: testpki.RequestPEM(t, testpki.NewKey(t, testpki.ECDSA), &x509.CertificateRequest{
			Subject: pkix.Name{Organization: []string{"system:masters"}}, DNSNames: []string{"web.example.com"}})}, "spec.allowed.organizations"},
		// Names no DNS can hold, which '*' of *.example.com used to match like any other label.
		{"NUL inside a DNS label", harness.CSR{Request: dnsCSR(t, "a\x00b.example.com")}, "spec.allowed.dnsNames"},
		{"space inside a DNS label", harness.CSR{Request: dnsCSR(t, "a b.example.com")}, "spec.allowed.dnsNames"},
		{"underscore in a DNS label", harness.CSR{Request: dnsCSR(t, "a_b.example.com")}, "spec.allowed.dnsNames"},
		{"subject OU impersonating system:masters", harness.CSR{Request: testpki.RequestPEM(t, testpki.NewKey(t, testpki.ECDSA), &x509.CertificateRequest{
			Subject: pkix.Name{OrganizationalUnit: []string{"system:masters"}}, DNSNames: []string{"web.example.com"}})}, "spec.allowed.organizationalUnits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.csr.SignerName = tn.signerName
			c := env.SubmitCSR(t, alice, tt.csr)
			env.WaitForCSR(t, c.Name, wait, deniedNaming(tt.field))
		})
	}
}

func TestEitherOfTwoPoliciesOnOneSignerApproves(t *testing.T) {
	tn := newTenant(t, func(p *policyv1alpha1.SignerPolicy) { p.Spec.Allowed.DNSNames = []string{"a.example.com"} })
	second := tn.policy + "-b"
	p := policyFor(second, policyv1alpha1.IssuerReference{Kind: "Issuer", Namespace: tn.ns, Name: "ca"})
	p.Spec.Requesters = policyv1alpha1.Subjects{Users: []string{tn.user}}
	p.Spec.Allowed.DNSNames = []string{"b.example.com"}
	env.Create(t, p)
	readyStatus(t, second, metav1.ConditionTrue)

	alice := env.User(t, tn.user)
	a := env.SubmitCSR(t, alice, harness.CSR{SignerName: tn.signerName, Request: dnsCSR(t, "a.example.com")})
	b := env.SubmitCSR(t, alice, harness.CSR{SignerName: tn.signerName, Request: dnsCSR(t, "b.example.com")})
	env.WaitForCSR(t, a.Name, wait, approvedBy(tn.policy))
	env.WaitForCSR(t, b.Name, wait, approvedBy(second))
}

func TestNoDenialWhileAGoverningPolicyIsNotReady(t *testing.T) {
	ns := env.Namespace(t)
	name := policyName(t)
	user := "alice-" + ns
	p := policyFor(name, policyv1alpha1.IssuerReference{Kind: "Issuer", Namespace: ns, Name: "late"})
	p.Spec.Requesters = policyv1alpha1.Subjects{Users: []string{user}}
	env.Create(t, p)
	readyStatus(t, name, metav1.ConditionFalse)

	// The CSR would be denied (no DNS names are allowed), but its policy is not Ready yet.
	c := env.SubmitCSR(t, env.User(t, user), harness.CSR{SignerName: "issuers.cert-manager.io/" + ns + ".late", Request: dnsCSR(t, "web.example.com")})
	waitForEvent(t, c, "WaitingForSignerPolicy")
	got := env.WaitForCSR(t, c.Name, wait, harness.HasCondition(csr.ConditionWaiting))
	if !csr.IsPending(got) {
		t.Fatalf("CSR decided while its policy was not Ready: %+v", got.Status.Conditions)
	}
	if cond := csr.Condition(got, csr.ConditionWaiting); cond.Reason != "WaitingForSignerPolicy" || !strings.Contains(cond.Message, "to become Ready") {
		t.Errorf("the requester reads %+v, want why the CSR waits", cond)
	}

	env.Create(t, caIssuer(ns, "late"))
	env.WaitForCSR(t, c.Name, wait, deniedNaming("spec.allowed.dnsNames"))
}

func TestManualModeLeavesTheDecisionToNamedApprovers(t *testing.T) {
	approver := "security-" + policyName(t)
	tn := newTenant(t, func(p *policyv1alpha1.SignerPolicy) {
		p.Spec.Approval = policyv1alpha1.Approval{Mode: policyv1alpha1.ApprovalManual, Approvers: &policyv1alpha1.Subjects{Groups: []string{approver}}}
	})
	c := env.SubmitCSR(t, env.User(t, tn.user), harness.CSR{SignerName: tn.signerName, Request: dnsCSR(t, "web.example.com")})
	ev := waitForEvent(t, c, "SignerPolicyEvaluated")
	if !strings.Contains(ev.Note, "manual") || !strings.Contains(ev.Note, tn.policy) {
		t.Errorf("evaluation event %q does not tell the approver which policy allows it", ev.Note)
	}

	// Someone who is not an approver is refused by the API server itself.
	outsider := env.User(t, "eve-"+tn.ns)
	if err := harness.Approve(outsider, c.Name); !apierrors.IsForbidden(err) {
		t.Fatalf("approval by a user the policy does not name: err = %v, want Forbidden", err)
	}
	// Requesting and approving are separate powers: the requester cannot approve her own CSR.
	if err := harness.Approve(env.User(t, tn.user), c.Name); !apierrors.IsForbidden(err) {
		t.Fatalf("approval by the requester: err = %v, want Forbidden", err)
	}
	// `kubectl certificate approve` is a get followed by an update of /approval.
	person := env.User(t, "bob-"+tn.ns, approver)
	harness.ApproveEventually(t, 10*time.Second, person, c.Name)
	got := env.WaitForCSR(t, c.Name, wait, harness.HasCondition(certificatesv1.CertificateApproved))
	if cond := harness.Condition(got, certificatesv1.CertificateApproved); cond.Reason != "KubectlApprove" {
		t.Errorf("approved with reason %s, want the approver's own", cond.Reason)
	}
}

func TestCSRsOfUngovernedSignersAreLeftUntouched(t *testing.T) {
	tn := newTenant(t)
	alice := env.User(t, tn.user)
	env.GrantCSRCreate(t, tn.user)
	others := []*certificatesv1.CertificateSigningRequest{
		env.SubmitCSR(t, alice, harness.CSR{SignerName: "kubernetes.io/kube-apiserver-client", Request: testpki.RequestPEM(t,
			testpki.NewKey(t, testpki.ECDSA), &x509.CertificateRequest{Subject: pkix.Name{CommonName: "web"}}),
			Usages: []certificatesv1.KeyUsage{"client auth"}}),
		env.SubmitCSR(t, alice, harness.CSR{SignerName: "issuers.cert-manager.io/" + tn.ns + ".ungoverned", Request: dnsCSR(t, "web.example.com")}),
		env.SubmitCSR(t, alice, harness.CSR{SignerName: "clusterissuers.cert-manager.io/nobody", Request: dnsCSR(t, "web.example.com")}),
	}
	// A governed CSR submitted after them is decided; by then the others have been seen too.
	governed := env.SubmitCSR(t, alice, harness.CSR{SignerName: tn.signerName, Request: dnsCSR(t, "web.example.com")})
	env.WaitForCSR(t, governed.Name, wait, approvedBy(tn.policy))
	time.Sleep(time.Second)
	for _, o := range others {
		var got certificatesv1.CertificateSigningRequest
		if err := env.Admin.Get(context.Background(), client.ObjectKeyFromObject(o), &got); err != nil {
			t.Fatal(err)
		}
		// Undecided: a CSR of a cert-manager signer no policy governs is told so after a while
		// (the Waiting condition), and any other is not touched at all.
		if !csr.IsPending(&got) || (csr.Condition(&got, csr.ConditionWaiting) != nil && !strings.Contains(got.Spec.SignerName, "cert-manager.io/")) {
			t.Errorf("CSR for %s was touched: %+v", got.Spec.SignerName, got.Status.Conditions)
		}
	}
}

func TestDecisionsAreRecordedAsEventsAndGovernanceRecords(t *testing.T) {
	tn := newTenant(t)
	alice := env.User(t, tn.user, "team-a")
	c := env.SubmitCSR(t, alice, harness.CSR{SignerName: tn.signerName, Request: dnsCSR(t, "web.example.com"),
		Annotations: map[string]string{"experimental.cert-manager.io/request-duration": "24h"}})
	ev := waitForEvent(t, c, "SignerPolicyApproved")
	if ev.Type != corev1.EventTypeNormal || !strings.Contains(ev.Note, tn.policy) {
		t.Errorf("approval event = %s %q, want Normal naming the policy", ev.Type, ev.Note)
	}
	recs := records.For(c.Name)
	if len(recs) != 1 {
		t.Fatalf("%d governance records for the approval, want 1: %+v", len(recs), recs)
	}
	r := recs[0]
	if r.Event != "Approved" || r.CSRUID != string(c.UID) || r.Requester.Username != tn.user || !slices.Contains(r.Requester.Groups, "team-a") ||
		r.SignerName != tn.signerName || r.Policy != tn.policy || r.Reason != "SignerPolicyApproved" || r.RequestedLifetime != "24h0m0s" ||
		len(r.Usages) != 3 || len(r.RBAC) != 4 {
		t.Errorf("governance record = %+v", r)
	}

	denied := env.SubmitCSR(t, alice, harness.CSR{SignerName: tn.signerName, Request: dnsCSR(t, "web.evil.com")})
	env.WaitForCSR(t, denied.Name, wait, deniedNaming("spec.allowed.dnsNames"))
	harness.Eventually(t, wait, func() error {
		if recs := records.For(denied.Name); len(recs) != 1 || recs[0].Event != "Denied" || !strings.Contains(recs[0].Message, "spec.allowed.dnsNames") {
			return fmt.Errorf("governance records for the denial: %+v", recs)
		}
		return nil
	})
}

func waitForEvent(t *testing.T, c *certificatesv1.CertificateSigningRequest, reason string) *eventsv1.Event {
	t.Helper()
	return env.WaitForEvent(t, c, reason)
}
