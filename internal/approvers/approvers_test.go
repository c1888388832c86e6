package approvers

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/signerpolicy/signer-policy-operator/internal/audit"
)

var at = metav1.NewTime(time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC))

func pending() *certificatesv1.CertificateSigningRequest {
	return &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "web", UID: "uid-1"}}
}

func decided(typ certificatesv1.RequestConditionType, reason string) *certificatesv1.CertificateSigningRequest {
	c := pending()
	c.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{{
		Type: typ, Status: corev1.ConditionTrue, Reason: reason, Message: "by hand", LastUpdateTime: at,
	}}
	return c
}

func review(t *testing.T, old, now *certificatesv1.CertificateSigningRequest, user string, dryRun bool) admission.Request {
	t.Helper()
	raw := func(c *certificatesv1.CertificateSigningRequest) runtime.RawExtension {
		data, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		return runtime.RawExtension{Raw: data}
	}
	return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		Operation: admissionv1.Update, SubResource: "approval", Object: raw(now), OldObject: raw(old), DryRun: ptr.To(dryRun),
		UserInfo: authenticationv1.UserInfo{Username: user, UID: user + "-uid", Groups: []string{"security", "system:authenticated"}},
	}}
}

func TestTheWebhookAllowsEverythingAndRemembersWhoDecided(t *testing.T) {
	obs := NewObservations(clocktesting.NewFakePassiveClock(at.Time))
	w := &Webhook{Observations: obs}
	cases := []admission.Request{
		review(t, pending(), decided(certificatesv1.CertificateApproved, "KubectlApprove"), "sam", false),
		{AdmissionRequest: admissionv1.AdmissionRequest{Object: runtime.RawExtension{Raw: []byte("not json")}}},
		review(t, pending(), decided(certificatesv1.CertificateDenied, "KubectlDeny"), "mallory", true),
	}
	for i, req := range cases {
		if resp := w.Handle(context.Background(), req); !resp.Allowed {
			t.Errorf("request %d refused: %+v", i, resp.Result)
		}
	}
	got := obs.Approver(decided(certificatesv1.CertificateApproved, "KubectlApprove"), certificatesv1.CertificateApproved)
	if got.Source != audit.ApproverWebhook || got.Identity == nil || got.Identity.Username != "sam" || got.Identity.UID != "sam-uid" || len(got.Identity.Groups) != 2 {
		t.Errorf("approver = %+v, want sam as authenticated", got)
	}
	// A dry run writes nothing, so it names no one.
	if got := obs.Approver(decided(certificatesv1.CertificateDenied, "KubectlDeny"), certificatesv1.CertificateDenied); got.Source != audit.ApproverUnknown {
		t.Errorf("a dry-run denial was taken for the denial: %+v", got)
	}
}

// Only the observation of the very condition that landed counts: an attempt with another reason
// (refused later, or overwritten) is not taken for it, and two people writing the same condition
// at once are both named rather than one guessed.
func TestTheApproverIsTheOneWhoWroteThatCondition(t *testing.T) {
	obs := NewObservations(clocktesting.NewFakePassiveClock(at.Time))
	w := &Webhook{Observations: obs}
	w.Handle(context.Background(), review(t, pending(), decided(certificatesv1.CertificateApproved, "Other"), "eve", false))
	landed := decided(certificatesv1.CertificateApproved, "KubectlApprove")
	if got := obs.Approver(landed, certificatesv1.CertificateApproved); got.Source != audit.ApproverUnknown {
		t.Errorf("another condition's writer was named: %+v", got)
	}
	w.Handle(context.Background(), review(t, pending(), landed, "sam", false))
	w.Handle(context.Background(), review(t, pending(), landed, "sam", false)) // a retry
	if got := obs.Approver(landed, certificatesv1.CertificateApproved); got.Source != audit.ApproverWebhook || got.Identity.Username != "sam" {
		t.Errorf("approver = %+v, want sam", got)
	}
	w.Handle(context.Background(), review(t, pending(), landed, "ann", false))
	got := obs.Approver(landed, certificatesv1.CertificateApproved)
	if got.Source != audit.ApproverAmbiguous || len(got.Candidates) != 2 || got.Identity != nil {
		t.Errorf("approver = %+v, want both candidates and no guess", got)
	}
	// An update that leaves an existing decision as it was is no decision.
	w.Handle(context.Background(), review(t, decided(certificatesv1.CertificateDenied, "KubectlDeny"), decided(certificatesv1.CertificateDenied, "KubectlDeny"), "bob", false))
	if got := obs.Approver(decided(certificatesv1.CertificateDenied, "KubectlDeny"), certificatesv1.CertificateDenied); got.Source != audit.ApproverUnknown {
		t.Errorf("an unchanged condition was attributed: %+v", got)
	}
	obs.Forget("uid-1")
	if got := obs.Approver(landed, certificatesv1.CertificateApproved); got.Source != audit.ApproverUnknown {
		t.Errorf("a forgotten CSR still names %+v", got)
	}
}

// Memory is bounded: past the limit, what aged out goes, then the oldest tenth.
func TestObservationsAreBounded(t *testing.T) {
	clock := clocktesting.NewFakePassiveClock(at.Time)
	obs := NewObservations(clock)
	c := decided(certificatesv1.CertificateApproved, "KubectlApprove")
	for i := range maxObservations + 10 {
		clock.SetTime(at.Add(time.Duration(i) * time.Millisecond))
		c.UID = typesUID(i)
		obs.add(c.UID, &c.Status.Conditions[0], audit.Identity{Username: "sam"})
	}
	if obs.count > maxObservations || obs.count != len(obs.byCSR) {
		t.Errorf("%d observations kept (%d CSRs), bound %d", obs.count, len(obs.byCSR), maxObservations)
	}
	c.UID = typesUID(maxObservations + 9)
	if got := obs.Approver(c, certificatesv1.CertificateApproved); got.Source != audit.ApproverWebhook {
		t.Errorf("the newest observation was dropped: %+v", got)
	}
	c.UID = typesUID(0)
	if got := obs.Approver(c, certificatesv1.CertificateApproved); got.Source != audit.ApproverUnknown {
		t.Errorf("the oldest observation was kept: %+v", got)
	}
}

func typesUID(i int) types.UID { return types.UID(fmt.Sprintf("uid-%d", i)) }
