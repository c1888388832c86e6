package security

import (
	"context"
	"crypto/x509"
	"fmt"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/audit"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

// wait bounds every wait for the operator; it only stops a hung test.
const wait = 30 * time.Second

// tenant is one team's namespace: a CA Issuer "auto" under an Automatic policy and a CA Issuer
// "manual" under a Manual policy, both naming the tenant's requester; the Manual policy names
// the tenant's approver group. Each tenant has its own CA.
type tenant struct {
	ns                       string
	root                     *testpki.CA
	autoPolicy, manualPolicy string
	autoSigner, manualSigner string
	requesterName            string
	approverName             string
	approverGroup            string
	requester, approver      client.Client
}

// newTenants makes two tenants, fresh for each test so that no test sees another's CSRs.
func newTenants(t *testing.T) (a, b *tenant) {
	t.Helper()
	return newTenant(t), newTenant(t)
}

func newTenant(t *testing.T) *tenant {
	t.Helper()
	ns := env.Namespace(t)
	tn := &tenant{
		ns: ns, root: testpki.NewRootCA(t, testpki.ECDSA, "CA of "+ns),
		autoPolicy: "auto-" + ns, manualPolicy: "manual-" + ns,
		requesterName: "requester-" + ns, approverName: "approver-" + ns, approverGroup: "approvers-" + ns,
	}
	env.Create(t, tn.root.Secret(ns, "ca"))
	for _, name := range []string{"auto", "manual"} {
		env.Create(t, &cmapi.Issuer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: "ca"}}}})
	}
	auto := policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindIssuer, Namespace: ns, Name: "auto"}
	manual := policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindIssuer, Namespace: ns, Name: "manual"}
	tn.autoSigner, tn.manualSigner = auto.SignerName(), manual.SignerName()
	requesters := policyv1alpha1.Subjects{Users: []string{tn.requesterName}}
	allowed := policyv1alpha1.Allowed{DNSNames: []string{"*.example.com"}}
	env.Create(t, &policyv1alpha1.SignerPolicy{ObjectMeta: metav1.ObjectMeta{Name: tn.autoPolicy},
		Spec: policyv1alpha1.SignerPolicySpec{IssuerRef: &auto, Requesters: requesters, Allowed: allowed}})
	env.Create(t, &policyv1alpha1.SignerPolicy{ObjectMeta: metav1.ObjectMeta{Name: tn.manualPolicy},
		Spec: policyv1alpha1.SignerPolicySpec{IssuerRef: &manual, Requesters: requesters, Allowed: allowed,
			Approval: policyv1alpha1.Approval{Mode: policyv1alpha1.ApprovalManual,
				Approvers: &policyv1alpha1.Subjects{Groups: []string{tn.approverGroup}}}}})
	env.WaitForPolicyReady(t, tn.autoPolicy, wait)
	env.WaitForPolicyReady(t, tn.manualPolicy, wait)
	tn.requester = env.User(t, tn.requesterName)
	tn.approver = env.User(t, tn.approverName, tn.approverGroup)
	return tn
}

// submit creates a CSR for an allowed name as the requester.
func (tn *tenant) submit(t *testing.T, signerName string) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	key := testpki.NewKey(t, testpki.ECDSA)
	return env.SubmitCSR(t, tn.requester, harness.CSR{SignerName: signerName,
		Request: testpki.RequestPEM(t, key, &x509.CertificateRequest{DNSNames: []string{"web.example.com"}})})
}

// issuedBy waits for the CSR's certificate and checks which CA signed it.
func issuedBy(t *testing.T, c *certificatesv1.CertificateSigningRequest, root *testpki.CA) {
	t.Helper()
	got := env.WaitForCSR(t, c.Name, wait, func(c *certificatesv1.CertificateSigningRequest) error {
		if len(c.Status.Certificate) == 0 {
			return fmt.Errorf("no certificate: %+v", c.Status.Conditions)
		}
		return nil
	})
	if err := testpki.ParseChain(t, got.Status.Certificate)[0].CheckSignatureFrom(root.Cert); err != nil {
		t.Errorf("CSR %s was not signed by the expected CA: %v", c.Name, err)
	}
}

// refusedWith waits for a Denied or Failed condition with the given reason and returns its
// message, and checks that no certificate came with it.
func refusedWith(t *testing.T, name string, typ certificatesv1.RequestConditionType, reason string) string {
	t.Helper()
	got := env.WaitForCSR(t, name, wait, harness.HasCondition(typ))
	cond := harness.Condition(got, typ)
	if cond.Reason != reason {
		t.Errorf("CSR %s is %s with reason %s, want %s: %s", name, typ, cond.Reason, reason, cond.Message)
	}
	if len(got.Status.Certificate) > 0 {
		t.Errorf("CSR %s is %s but carries a certificate", name, typ)
	}
	return cond.Message
}

// neverIssued checks, once the operator has finished with the CSR, that it holds no
// certificate and no governance record of an issuance.
func neverIssued(t *testing.T, name string) {
	t.Helper()
	var c certificatesv1.CertificateSigningRequest
	if err := env.Admin.Get(context.Background(), client.ObjectKey{Name: name}, &c); err != nil {
		t.Fatal(err)
	}
	if len(c.Status.Certificate) > 0 {
		t.Errorf("CSR %s was issued a certificate", name)
	}
	for _, r := range records.For(name) {
		if r.Event == audit.EventIssued {
			t.Errorf("CSR %s has an Issued governance record: %+v", name, r)
		}
	}
}

func mustContain(t *testing.T, what, msg string, fragments ...string) {
	t.Helper()
	for _, f := range fragments {
		if !strings.Contains(msg, f) {
			t.Errorf("%s does not contain %q: %s", what, f, msg)
		}
	}
}
