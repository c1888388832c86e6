package acme_test

import (
	"context"
	"crypto/x509"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cert-manager/cert-manager/pkg/util/pki"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/acme"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

// The reasons fail-closed signing gives, spelled out because they are what users read and
// alert on, whichever package defines them.
const (
	reasonPolicyViolation           = "PolicyViolation"
	reasonIssuedCertificateMismatch = "IssuedCertificateMismatch"
	reasonNoSignerPolicy            = "NoSignerPolicy"
)

// An administrator's approval does not widen what the requester's own policy allows, and the
// refusal comes before the ACME server is asked: an order, once placed, has told the CA the name
// and counts against its rate limits.
func TestApprovedNameOutsideThePolicyFailsPolicyViolationWithoutAnOrder(t *testing.T) {
	t.Parallel()
	iss := newUngovernedIssuer(t, baseSpec(peers.pebble, httpSolver()), false)
	env.GovernWithPolicy(t, iss.policy(policyv1alpha1.Allowed{DNSNames: []string{"*.allowed.acme.test"}}))
	// Pebble would validate this name like any other under acme.test; only the policy forbids it.
	name := unique() + ".denied.acme.test"
	c, _ := iss.submit(t, request{tmpl: x509.CertificateRequest{DNSNames: []string{name}}})

	got := env.WaitForCSR(t, c.Name, issueTimeout, refused(t, reasonPolicyViolation, name+" is outside the requester's policy"))
	msg := harness.Condition(got, certificatesv1.CertificateFailed).Message
	if !strings.Contains(msg, "spec.allowed.dnsNames") || !strings.Contains(msg, `"`+name+`"`) {
		t.Errorf("Failed message %q does not name the policy field and the refused name %q", msg, name)
	}
	expectNoOrder(t, got, iss, name)
}

// Pebble decides the extended key usages of what it issues and grants server auth only. A CSR
// whose policy and approval include client auth must not come back without it unnoticed: a client
// would find out only when the TLS handshake fails.
func TestUsageTheACMEServerDoesNotGrantFailsIssuedCertificateMismatch(t *testing.T) {
	t.Parallel()
	iss := newUngovernedIssuer(t, baseSpec(peers.pebble, httpSolver()), false)
	p := iss.policy(policyv1alpha1.Allowed{DNSNames: []string{"*.usages.acme.test"}})
	p.Spec.Usages = []policyv1alpha1.KeyUsage{"digital signature", "server auth", "client auth"}
	env.GovernWithPolicy(t, p)
	key := testpki.NewKey(t, testpki.ECDSA)
	c := env.SubmitCSR(t, iss.requester, harness.CSR{
		SignerName: iss.signerName,
		Request:    testpki.RequestPEM(t, key, &x509.CertificateRequest{DNSNames: []string{unique() + ".usages.acme.test"}}),
		Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth, certificatesv1.UsageClientAuth},
	})
	harness.ApproveEventually(t, 10*time.Second, env.Admin, c.Name)

	got := env.WaitForCSR(t, c.Name, issueTimeout, refused(t, reasonIssuedCertificateMismatch, "client auth was approved"))
	if msg := harness.Condition(got, certificatesv1.CertificateFailed).Message; !strings.Contains(msg, "client auth") {
		t.Errorf("Failed message %q does not say that the certificate lacks client auth", msg)
	}
}

// Signing fails closed: an approved CSR for an issuer no policy governs waits, saying why, and
// nothing is ordered; the policy that appears later gets the same CSR issued, with no new CSR.
func TestUngovernedClusterIssuerSignsOnlyOnceAPolicyAllows(t *testing.T) {
	t.Parallel()
	iss := newUngovernedIssuer(t, baseSpec(peers.pebble, httpSolver()), true)
	name := unique() + ".ungoverned.acme.test"
	r := request{tmpl: x509.CertificateRequest{DNSNames: []string{name}}}
	c, key := iss.submit(t, r)

	ev := env.WaitForEvent(t, c, reasonNoSignerPolicy)
	if ev.Type != corev1.EventTypeWarning {
		t.Errorf("%s event of type %s, want Warning", reasonNoSignerPolicy, ev.Type)
	}
	var held certificatesv1.CertificateSigningRequest
	if err := env.Admin.Get(context.Background(), client.ObjectKeyFromObject(c), &held); err != nil {
		t.Fatal(err)
	}
	if harness.Condition(&held, certificatesv1.CertificateApproved) == nil || harness.Condition(&held, certificatesv1.CertificateFailed) != nil ||
		len(held.Status.Certificate) > 0 {
		t.Fatalf("ungoverned CSR: conditions %+v, certificate %d bytes; want it approved, not Failed, not issued",
			held.Status.Conditions, len(held.Status.Certificate))
	}
	expectNoOrder(t, &held, iss, name)

	env.GovernWithPolicy(t, iss.policy(policyv1alpha1.Allowed{DNSNames: []string{"*.ungoverned.acme.test"}}))
	verifyIssued(t, waitIssued(t, c), key, iss.root(t, 0), r)
}

// refused is a WaitForCSR check for a Failed condition with reason. A delivered certificate stops
// the test at once, with what it holds and why none should have been delivered.
func refused(t *testing.T, reason, why string) func(*certificatesv1.CertificateSigningRequest) error {
	return func(c *certificatesv1.CertificateSigningRequest) error {
		if len(c.Status.Certificate) > 0 {
			chain, err := pki.DecodeX509CertificateChainBytes(c.Status.Certificate)
			if err != nil {
				t.Fatalf("CSR %s was issued, and status.certificate does not decode (%v), although %s", c.Name, err, why)
			}
			leaf := chain[0]
			t.Fatalf("CSR %s was issued for DNS names %v, server auth %t, client auth %t, although %s", c.Name, leaf.DNSNames,
				slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth), slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth), why)
		}
		return harness.FailedWith(reason)(c)
	}
}

// expectNoOrder checks that no ACME order exists for the CSR: none recorded on it, where the
// signer stores every order it creates, and none created at Pebble for name.
func expectNoOrder(t *testing.T, c *certificatesv1.CertificateSigningRequest, iss *acmeIssuer, name string) {
	t.Helper()
	if url := c.Annotations[acme.OrderURLAnnotation]; url != "" {
		t.Errorf("CSR %s records the ACME order %s", c.Name, url)
	}
	if n := iss.server.Proxy.NewOrders(name); n != 0 {
		t.Errorf("Pebble created %d orders for %s, want none", n, name)
	}
}
