//go:build !unit

package controllers_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/audit"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

// recordOf waits for the CSR's one record of event and returns it.
func recordOf(t *testing.T, c *certificatesv1.CertificateSigningRequest, event string) audit.Record {
	t.Helper()
	var found audit.Record
	harness.Eventually(t, wait, func() error {
		var of []audit.Record
		for _, r := range records.For(c.Name) {
			if r.Event == event && r.CSRUID == string(c.UID) {
				of = append(of, r)
			}
		}
		if len(of) != 1 {
			return fmt.Errorf("%d %s records for CSR %s, want 1: %+v", len(of), event, c.Name, records.For(c.Name))
		}
		found = of[0]
		return nil
	})
	return found
}

// approvedBy is the check of a record's approver: who the API server authenticated.
func approverIs(t *testing.T, r audit.Record, source, username string, group string) {
	t.Helper()
	a := r.Approver
	if a == nil || a.Source != source {
		t.Fatalf("%s record's approver = %+v, want source %s", r.Event, a, source)
	}
	if username == "" {
		if a.Identity != nil {
			t.Errorf("%s record names approver %+v, want none", r.Event, a.Identity)
		}
		return
	}
	if a.Identity == nil || a.Identity.Username != username || (group != "" && !slices.Contains(a.Identity.Groups, group)) {
		t.Errorf("%s record's approver = %+v, want %s in group %s", r.Event, a.Identity, username, group)
	}
}

// A person's `kubectl certificate approve` and `deny` are recorded once each, with the person's
// identity as the API server authenticated it (seen by the operator's observing webhook), the
// condition's reason and message, and the policy and RBAC concerned; the certificate that follows
// the approval names the same approver.
func TestAPersonsApprovalAndDenialAreRecordedWithTheirIdentity(t *testing.T) {
	group := "security-" + policyName(t)
	iut := newIssuerUnderTest(t, policyv1alpha1.IssuerKindIssuer, false, func(p *policyv1alpha1.SignerPolicy) {
		p.Spec.Approval.Approvers = &policyv1alpha1.Subjects{Groups: []string{group}}
	})
	sam := env.User(t, "sam-"+policyName(t), group)
	approved := env.SubmitCSR(t, iut.requester, harness.CSR{SignerName: iut.signerName, Request: dnsCSR(t, "web.example.com")})
	denied := env.SubmitCSR(t, iut.requester, harness.CSR{SignerName: iut.signerName, Request: dnsCSR(t, "db.example.com")})
	recordOf(t, approved, audit.EventManualReview)

	harness.Eventually(t, wait, func() error { return harness.Approve(sam, approved.Name) })
	harness.Eventually(t, wait, func() error { return harness.Deny(sam, denied.Name) })

	a := recordOf(t, approved, audit.EventApproved)
	approverIs(t, a, audit.ApproverWebhook, "sam-"+policyName(t), group)
	if a.Reason != "KubectlApprove" || a.Message != "approved by a person" || a.Policy == "" || len(a.RBAC) == 0 {
		t.Errorf("approval record = %+v, want the person's reason and message, and the policy's RBAC", a)
	}
	d := recordOf(t, denied, audit.EventDenied)
	approverIs(t, d, audit.ApproverWebhook, "sam-"+policyName(t), group)
	if d.Reason != "KubectlDeny" || d.Policy != a.Policy || len(d.RBAC) == 0 {
		t.Errorf("denial record = %+v, want the person's reason and the policy's RBAC", d)
	}
	env.WaitForCSR(t, approved.Name, wait, harness.Issued)
	issued := recordOf(t, approved, audit.EventIssued)
	approverIs(t, issued, audit.ApproverWebhook, "sam-"+policyName(t), group)
	if issued.Certificate == nil || issued.Policy != a.Policy {
		t.Errorf("issuance record = %+v", issued)
	}
}

// The operator's own decisions name the operator as approver, with the identity it runs as, and so
// does the record of the certificate that follows its approval.
func TestAutomaticDecisionsNameTheOperatorAsApprover(t *testing.T) {
	iut := newIssuerUnderTest(t, policyv1alpha1.IssuerKindIssuer, false, func(p *policyv1alpha1.SignerPolicy) {
		p.Spec.Approval.Mode = policyv1alpha1.ApprovalAutomatic
	})
	signed := env.SubmitCSR(t, iut.requester, harness.CSR{SignerName: iut.signerName, Request: dnsCSR(t, "web.example.com")})
	approverIs(t, recordOf(t, signed, audit.EventApproved), audit.ApproverOperator, harness.OperatorServiceAccount, "system:serviceaccounts")
	env.WaitForCSR(t, signed.Name, wait, harness.Issued)
	approverIs(t, recordOf(t, signed, audit.EventIssued), audit.ApproverOperator, harness.OperatorServiceAccount, "")

	tn := newTenant(t)
	alice := env.User(t, tn.user)
	c := env.SubmitCSR(t, alice, harness.CSR{SignerName: tn.signerName, Request: dnsCSR(t, "web.example.com")})
	approverIs(t, recordOf(t, c, audit.EventApproved), audit.ApproverOperator, harness.OperatorServiceAccount, "system:serviceaccounts")
	denied := env.SubmitCSR(t, alice, harness.CSR{SignerName: tn.signerName, Request: dnsCSR(t, "web.evil.com")})
	d := recordOf(t, denied, audit.EventDenied)
	approverIs(t, d, audit.ApproverOperator, harness.OperatorServiceAccount, "")
	// The denial concerns the requester's own policy: its RBAC is on the record.
	if d.Policy != tn.policy || len(d.RBAC) == 0 {
		t.Errorf("denial record = %+v, want policy %s and its RBAC", d, tn.policy)
	}
}

// A CSR decided by someone else on a signer the operator governs is recorded even when no policy
// concerns it, and the webhook that observed it is not needed for the approval to land: an
// approval made while the operator is down (its webhook unreachable) still works, and is recorded
// once the operator is back, with the approver unknown rather than guessed.
func TestApprovalsWorkWithTheWebhookDownAndAreRecordedWithAnUnknownApprover(t *testing.T) {
	group := "security-" + policyName(t)
	iut := newIssuerUnderTest(t, policyv1alpha1.IssuerKindClusterIssuer, false, func(p *policyv1alpha1.SignerPolicy) {
		p.Spec.Approval.Approvers = &policyv1alpha1.Subjects{Groups: []string{group}}
	})
	sam := env.User(t, "sam-"+policyName(t), group)
	c := env.SubmitCSR(t, iut.requester, harness.CSR{SignerName: iut.signerName, Request: dnsCSR(t, "web.example.com")})
	recordOf(t, c, audit.EventManualReview)

	if err := env.StopManager(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = env.StartManager(managerOptions())
		}
	})
	// The webhook's port is closed now; failurePolicy Ignore lets the approval through at once.
	start := time.Now()
	if err := harness.Approve(sam, c.Name); err != nil {
		t.Fatalf("approval with the webhook down: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("approval with the webhook down took %s", took)
	}
	var got certificatesv1.CertificateSigningRequest
	if err := env.Admin.Get(context.Background(), client.ObjectKeyFromObject(c), &got); err != nil || harness.Condition(&got, certificatesv1.CertificateApproved) == nil {
		t.Fatalf("approval did not land with the webhook down: %v %+v", err, got.Status.Conditions)
	}
	if err := env.StartManager(managerOptions()); err != nil {
		t.Fatal(err)
	}
	restarted = true
	approverIs(t, recordOf(t, c, audit.EventApproved), audit.ApproverUnknown, "", "")
	env.WaitForCSR(t, c.Name, wait, harness.Issued)
	recordOf(t, c, audit.EventIssued)
}

// The webhook only observes: a person without the right to approve is refused by the API server
// as before, and nothing is recorded for the refused attempt.
func TestTheWebhookRefusesNothingAndRecordsNoRefusedAttempt(t *testing.T) {
	iut := newIssuerUnderTest(t, policyv1alpha1.IssuerKindIssuer, false)
	c := env.SubmitCSR(t, iut.requester, harness.CSR{SignerName: iut.signerName, Request: dnsCSR(t, "web.example.com")})
	recordOf(t, c, audit.EventManualReview)
	if err := harness.Approve(env.User(t, "eve-"+policyName(t)), c.Name); !apierrors.IsForbidden(err) {
		t.Fatalf("approval by a user with no approve right: %v, want Forbidden", err)
	}
	time.Sleep(time.Second)
	for _, r := range records.For(c.Name) {
		if r.Event == audit.EventApproved {
			t.Errorf("a refused approval was recorded: %+v", r)
		}
	}
}

// The operator provisions its webhook's certificate itself and renews it: when the CA Secret goes
// (deleted, or rotated before it expires), a new CA is made, written into the webhook
// configuration's caBundle and used to sign the serving certificate, and the API server reaches
// the webhook again, so the next person's approval is still recorded with their identity.
func TestTheWebhookCertificateIsProvisionedAndRotatedByTheOperator(t *testing.T) {
	ctx := context.Background()
	caBundle := func() ([]byte, []byte, error) {
		var secret corev1.Secret
		if err := env.Admin.Get(ctx, client.ObjectKey{Namespace: clusterResourceNamespace, Name: "signer-policy-webhook-ca"}, &secret); err != nil {
			return nil, nil, err
		}
		var vwc admissionregistrationv1.ValidatingWebhookConfiguration
		if err := env.Admin.Get(ctx, client.ObjectKey{Name: "signer-policy-approval-observer"}, &vwc); err != nil {
			return nil, nil, err
		}
		return secret.Data["ca.crt"], vwc.Webhooks[0].ClientConfig.CABundle, nil
	}
	var before []byte
	harness.Eventually(t, wait, func() error {
		ca, bundle, err := caBundle()
		if err != nil {
			return err
		}
		if len(ca) == 0 || !bytes.Equal(ca, bundle) {
			return fmt.Errorf("caBundle %d bytes, CA %d bytes: not injected", len(bundle), len(ca))
		}
		before = ca
		return nil
	})
	if err := env.Admin.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: clusterResourceNamespace, Name: "signer-policy-webhook-ca"}}); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, time.Minute, func() error {
		ca, bundle, err := caBundle()
		if err != nil {
			return err
		}
		if len(ca) == 0 || bytes.Equal(ca, before) || !bytes.Equal(ca, bundle) {
			return fmt.Errorf("no new CA in the caBundle yet")
		}
		return servedUnder(ctx, ca)
	})

	group := "security-" + policyName(t)
	iut := newIssuerUnderTest(t, policyv1alpha1.IssuerKindIssuer, false, func(p *policyv1alpha1.SignerPolicy) {
		p.Spec.Approval.Approvers = &policyv1alpha1.Subjects{Groups: []string{group}}
	})
	sam := env.User(t, "sam-"+policyName(t), group)
	c := env.SubmitCSR(t, iut.requester, harness.CSR{SignerName: iut.signerName, Request: dnsCSR(t, "web.example.com")})
	recordOf(t, c, audit.EventManualReview)
	harness.Eventually(t, wait, func() error { return harness.Approve(sam, c.Name) })
	approverIs(t, recordOf(t, c, audit.EventApproved), audit.ApproverWebhook, "sam-"+policyName(t), group)
}

// servedUnder reports whether the webhook, where its configuration says the API server reaches
// it, serves a certificate for that name that the CA verifies.
func servedUnder(ctx context.Context, ca []byte) error {
	var vwc admissionregistrationv1.ValidatingWebhookConfiguration
	if err := env.Admin.Get(ctx, client.ObjectKey{Name: "signer-policy-approval-observer"}, &vwc); err != nil {
		return err
	}
	u, err := url.Parse(ptr.Deref(vwc.Webhooks[0].ClientConfig.URL, ""))
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca)
	conn, err := tls.Dial("tcp", u.Host, &tls.Config{RootCAs: roots, ServerName: u.Hostname(), MinVersion: tls.VersionTLS12})
	if err != nil {
		return fmt.Errorf("the webhook at %s does not serve under the new CA yet: %w", u.Host, err)
	}
	return conn.Close()
}
