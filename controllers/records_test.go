//go:build !unit

package controllers_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
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

// withApprover is an issuer of kind under a Manual policy whose approvers are a group, and sam,
// one of them.
func withApprover(t *testing.T, kind policyv1alpha1.IssuerKind) (iut issuerUnderTest, sam client.Client, group string) {
	t.Helper()
	group = "security-" + policyName(t)
	iut = newIssuerUnderTest(t, kind, false, func(p *policyv1alpha1.SignerPolicy) {
		p.Spec.Approval.Approvers = &policyv1alpha1.Subjects{Groups: []string{group}}
	})
	return iut, env.User(t, "sam-"+policyName(t), group), group
}

// approverIs is the check of a record's approver: who the API server authenticated.
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
	iut, sam, group := withApprover(t, policyv1alpha1.IssuerKindIssuer)
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

// The webhook is not needed for an approval to land: a person's approval made while the operator
// is down (its webhook unreachable) still works, and is recorded once the operator is back, with
// the approver unknown rather than guessed.
func TestApprovalsWorkWithTheWebhookDownAndAreRecordedWithAnUnknownApprover(t *testing.T) {
	iut, sam, _ := withApprover(t, policyv1alpha1.IssuerKindClusterIssuer)
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

	iut, sam, group := withApprover(t, policyv1alpha1.IssuerKindIssuer)
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

// Anyone who reaches the webhook's port can post it a review; the API server's calls cannot be
// told from others'. A review forged to say that someone without the right to approve wrote the
// very condition a real approver then writes names nobody on the record; the real approver is
// named, as the API server authenticated them.
func TestAForgedReviewCannotNameSomeoneWhoMayNotApprove(t *testing.T) {
	ctx := context.Background()
	iut, sam, group := withApprover(t, policyv1alpha1.IssuerKindIssuer)
	c := env.SubmitCSR(t, iut.requester, harness.CSR{SignerName: iut.signerName, Request: dnsCSR(t, "web.example.com")})
	recordOf(t, c, audit.EventManualReview)

	now := metav1.NewTime(time.Now().Truncate(time.Second))
	condition := certificatesv1.CertificateSigningRequestCondition{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue,
		Reason: "KubectlApprove", Message: "approved by a person", LastUpdateTime: now, LastTransitionTime: now}
	var got certificatesv1.CertificateSigningRequest
	if err := env.Admin.Get(ctx, client.ObjectKeyFromObject(c), &got); err != nil {
		t.Fatal(err)
	}
	forged := got.DeepCopy()
	forged.Status.Conditions = append(forged.Status.Conditions, condition)
	postReview(t, &got, forged, authenticationv1.UserInfo{Username: "mallory-" + policyName(t), Groups: []string{"system:authenticated"}})

	got.Status.Conditions = append(got.Status.Conditions, condition)
	if err := sam.SubResource("approval").Update(ctx, &got); err != nil {
		t.Fatal(err)
	}
	approverIs(t, recordOf(t, c, audit.EventApproved), audit.ApproverWebhook, "sam-"+policyName(t), group)
}

// postReview sends the webhook an AdmissionReview as anyone on the network could, over TLS with
// the webhook's CA.
func postReview(t *testing.T, old, now *certificatesv1.CertificateSigningRequest, user authenticationv1.UserInfo) {
	t.Helper()
	ctx := context.Background()
	var vwc admissionregistrationv1.ValidatingWebhookConfiguration
	if err := env.Admin.Get(ctx, client.ObjectKey{Name: "signer-policy-approval-observer"}, &vwc); err != nil {
		t.Fatal(err)
	}
	raw := func(c *certificatesv1.CertificateSigningRequest) runtime.RawExtension {
		data, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		return runtime.RawExtension{Raw: data}
	}
	body, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: "forged", Operation: admissionv1.Update, SubResource: "approval",
			Kind:     metav1.GroupVersionKind{Group: "certificates.k8s.io", Version: "v1", Kind: "CertificateSigningRequest"},
			Resource: metav1.GroupVersionResource{Group: "certificates.k8s.io", Version: "v1", Resource: "certificatesigningrequests"},
			Name:     now.Name, Object: raw(now), OldObject: raw(old), UserInfo: user},
	})
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(vwc.Webhooks[0].ClientConfig.CABundle)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}, Timeout: 10 * time.Second}
	resp, err := hc.Post(ptr.Deref(vwc.Webhooks[0].ClientConfig.URL, ""), "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the webhook answered the forged review with %d", resp.StatusCode)
	}
}
