package controllers

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/policy"
	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

func fakeCache(t *testing.T, objs ...client.Object) client.Reader {
	t.Helper()
	scheme, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	return fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).Build()
}

func policyWith(name string, generation int64, mode policyv1alpha1.ApprovalMode, ready *metav1.Condition) *policyv1alpha1.SignerPolicy {
	p := &policyv1alpha1.SignerPolicy{ObjectMeta: metav1.ObjectMeta{Name: name, Generation: generation}}
	p.Spec.Approval.Mode = mode
	if ready != nil {
		p.Status.Conditions = []metav1.Condition{*ready}
	}
	return p
}

// The policies gauge counts what the cache holds, each policy once, the way the evaluator sees it:
// a Ready condition about an older spec is Unknown, an unknown approval mode is Manual.
func TestPoliciesGaugeCountsByReadyAndApproval(t *testing.T) {
	ready := func(status metav1.ConditionStatus, generation int64) *metav1.Condition {
		return &metav1.Condition{Type: policyv1alpha1.ConditionReady, Status: status, ObservedGeneration: generation, Reason: "R"}
	}
	cache := fakeCache(t,
		policyWith("in-force", 1, policyv1alpha1.ApprovalAutomatic, ready(metav1.ConditionTrue, 1)),
		policyWith("defaulted-mode", 2, "", ready(metav1.ConditionTrue, 2)),
		policyWith("edited-since", 3, policyv1alpha1.ApprovalManual, ready(metav1.ConditionTrue, 2)),
		policyWith("no-issuer", 1, policyv1alpha1.ApprovalAutomatic, ready(metav1.ConditionFalse, 1)),
		policyWith("new", 1, "Sometimes", nil),
	)
	want := `
# HELP signerpolicy_policies SignerPolicies, by Ready status (True: in force for its current spec; False; Unknown: not yet or not since its last edit evaluated) and approval mode (Automatic, Manual).
# TYPE signerpolicy_policies gauge
signerpolicy_policies{approval="Automatic",ready="False"} 1
signerpolicy_policies{approval="Automatic",ready="True"} 2
signerpolicy_policies{approval="Automatic",ready="Unknown"} 0
signerpolicy_policies{approval="Manual",ready="False"} 0
signerpolicy_policies{approval="Manual",ready="True"} 0
signerpolicy_policies{approval="Manual",ready="Unknown"} 2
`
	if err := testutil.CollectAndCompare(newPolicyCollector(cache, logr.Discard()), strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

// The approved-but-unsigned gauges count only approved CSRs for cert-manager issuers that are
// still owed a certificate, and age the oldest from its approval.
func TestApprovedUnsignedGaugesCountWhatIsOwed(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	csrFor := func(name, signerName string, approvedAgo time.Duration, more ...certificatesv1.RequestConditionType) *certificatesv1.CertificateSigningRequest {
		c := &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: signerName}}
		if approvedAgo > 0 {
			c.Status.Conditions = append(c.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
				Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, LastUpdateTime: metav1.NewTime(now.Add(-approvedAgo)),
			})
		}
		for _, typ := range more {
			c.Status.Conditions = append(c.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{Type: typ, Status: corev1.ConditionTrue})
		}
		return c
	}
	cache := fakeCache(t,
		csrFor("owed-long", "issuers.cert-manager.io/team-a.ca", time.Hour),
		csrFor("owed-short", "issuers.cert-manager.io/team-a.ca", time.Minute),
		csrFor("owed-cluster", "clusterissuers.cert-manager.io/root", 30*time.Second),
		csrFor("not-approved", "issuers.cert-manager.io/team-a.ca", 0),
		csrFor("failed", "issuers.cert-manager.io/team-a.ca", 2*time.Hour, certificatesv1.CertificateFailed),
		csrFor("kubelet", "kubernetes.io/kubelet-serving", 3*time.Hour),
	)
	want := `
# HELP signerpolicy_csr_approved_unsigned Approved CSRs for cert-manager issuers that are not yet issued, failed or denied, by issuer kind.
# TYPE signerpolicy_csr_approved_unsigned gauge
signerpolicy_csr_approved_unsigned{issuer_kind="ClusterIssuer"} 1
signerpolicy_csr_approved_unsigned{issuer_kind="Issuer"} 2
# HELP signerpolicy_csr_approved_unsigned_oldest_seconds Seconds since the oldest approved, not yet issued, failed or denied CSR for a cert-manager issuer was approved, by issuer kind (0 when there is none).
# TYPE signerpolicy_csr_approved_unsigned_oldest_seconds gauge
signerpolicy_csr_approved_unsigned_oldest_seconds{issuer_kind="ClusterIssuer"} 30
signerpolicy_csr_approved_unsigned_oldest_seconds{issuer_kind="Issuer"} 3600
`
	c := newUnsignedCollector(cache, clocktesting.NewFakePassiveClock(now), logr.Discard())
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

// failingReader is a cache that cannot be read.
type failingReader struct{ client.Reader }

func (failingReader) List(_ context.Context, _ client.ObjectList, _ ...client.ListOption) error {
	return errors.New("cache not synced")
}

// A cache that cannot be read leaves the gauges out of the scrape rather than failing it.
func TestUnreadableCacheLeavesGaugesOut(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newPolicyCollector(failingReader{}, logr.Discard()), newUnsignedCollector(failingReader{}, clocktesting.NewFakePassiveClock(time.Now()), logr.Discard()))
	families, err := reg.Gather()
	if err != nil || len(families) != 0 {
		t.Errorf("gathering gave %d families and %v, want none and no error", len(families), err)
	}
}

// Decisions and signing outcomes carry bounded labels derived from the CSR and the decision.
func TestDecisionAndSigningLabels(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	issuerCSR := &certificatesv1.CertificateSigningRequest{Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: "issuers.cert-manager.io/ns.ca"}}
	clusterCSR := &certificatesv1.CertificateSigningRequest{Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: "clusterissuers.cert-manager.io/root"}}
	otherCSR := &certificatesv1.CertificateSigningRequest{Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: "example.com/signer"}}
	m.decided(issuerCSR, policy.Decision{Result: policy.Approve, Policy: "web"})
	m.decided(issuerCSR, policy.Decision{Result: policy.Deny})
	m.decided(otherCSR, policy.Decision{Result: policy.NotGoverned})
	m.signed(clusterCSR, &grant{typ: signer.TypeSelfSigned}, "issued", ReasonCertificateIssued)
	m.signed(issuerCSR, &grant{}, "failed", ReasonPolicyViolation)
	want := `
# HELP signerpolicy_csr_decisions_total Evaluations of pending CSRs by the approval controller, by result (approve, deny: written to the CSR; manual, wait, notgoverned: left pending), the SignerPolicy the decision is about (the allowing one, else the first that names the requester, else 'none') and the kind of issuer the CSR asks.
# TYPE signerpolicy_csr_decisions_total counter
signerpolicy_csr_decisions_total{issuer_kind="Issuer",policy="none",result="deny"} 1
signerpolicy_csr_decisions_total{issuer_kind="Issuer",policy="web",result="approve"} 1
signerpolicy_csr_decisions_total{issuer_kind="none",policy="none",result="notgoverned"} 1
# HELP signerpolicy_csr_signing_total Outcomes of signing approved CSRs, by issuer kind and type, result (issued, failed, pending, error) and reason (the Failed condition's or the pending signer's reason; CertificateIssued; SigningRetry).
# TYPE signerpolicy_csr_signing_total counter
signerpolicy_csr_signing_total{issuer_kind="ClusterIssuer",issuer_type="SelfSigned",reason="CertificateIssued",result="issued"} 1
signerpolicy_csr_signing_total{issuer_kind="Issuer",issuer_type="unknown",reason="PolicyViolation",result="failed"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "signerpolicy_csr_decisions_total", "signerpolicy_csr_signing_total"); err != nil {
		t.Error(err)
	}
}
