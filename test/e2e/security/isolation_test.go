package security

import (
	"context"
	"strings"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/controllers"
	"github.com/signerpolicy/signer-policy-operator/internal/csr"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

// TestAutomaticApprovalDeniesTheOtherTenantsRequester: a requester's CSR to the other tenant's
// Automatic issuer is denied, naming spec.requesters and the requester, and never signed; the
// same requester's CSR to their own issuer is issued, so the denial is about the tenant and not
// about the request.
func TestAutomaticApprovalDeniesTheOtherTenantsRequester(t *testing.T) {
	a, b := newTenants(t)
	for _, pair := range [][2]*tenant{{a, b}, {b, a}} {
		from, to := pair[0], pair[1]
		own := from.submit(t, from.autoSigner)
		cross := from.submit(t, to.autoSigner)
		issuedBy(t, own, from.root)
		msg := refusedWith(t, cross.Name, certificatesv1.CertificateDenied, controllers.ReasonDenied)
		mustContain(t, "the denial", msg, "spec.requesters", from.requesterName, to.autoPolicy)
		neverIssued(t, cross.Name)
	}
}

// TestTheOtherTenantsApproverCannotApprove: a requester's CSR to the other tenant's Manual
// issuer stays pending (the operator records that the policy does not allow it), and neither
// the requester's own approver nor the requester can approve it: the API server's
// CertificateApproval admission refuses them, because their approve grant names only their own
// signerName, or nothing. Each approver can still approve a CSR for their own tenant's signer.
func TestTheOtherTenantsApproverCannotApprove(t *testing.T) {
	a, b := newTenants(t)
	for _, pair := range [][2]*tenant{{a, b}, {b, a}} {
		from, to := pair[0], pair[1]
		cross := from.submit(t, to.manualSigner)
		ev := env.WaitForEvent(t, cross, controllers.ReasonEvaluated)
		mustContain(t, "the evaluation event", ev.Note, "spec.requesters", from.requesterName)

		for who, as := range map[string]client.Client{"the requester's own approver": from.approver, "the requester": from.requester} {
			err := harness.Approve(as, cross.Name)
			if !apierrors.IsForbidden(err) {
				t.Errorf("%s approving a CSR for the other tenant's signer: got %v, want Forbidden", who, err)
			}
		}
		var got certificatesv1.CertificateSigningRequest
		if err := env.Admin.Get(context.Background(), client.ObjectKeyFromObject(cross), &got); err != nil {
			t.Fatal(err)
		}
		// Undecided: the operator's Waiting condition says why, nothing more.
		if !csr.IsPending(&got) {
			t.Errorf("CSR %s changed state: %+v", cross.Name, got.Status.Conditions)
		}
		if w := csr.Condition(&got, csr.ConditionWaiting); w == nil || !strings.Contains(w.Message, "spec.requesters") {
			t.Errorf("CSR %s does not tell its requester why it waits: %+v", cross.Name, got.Status.Conditions)
		}
		neverIssued(t, cross.Name)

		// The same approver may approve their own tenant's CSR: the refusal above is about the
		// signer, not a broken grant.
		own := from.submit(t, from.manualSigner)
		env.WaitForEvent(t, own, controllers.ReasonEvaluated)
		harness.ApproveEventually(t, wait, from.approver, own.Name)
		issuedBy(t, own, from.root)
	}
}

// TestPersonApprovingACrossTenantCSRIsFailedDeniedReference: approval is not the last line.
// When someone who may approve for the signer anyway approves a CSR from the other tenant's
// requester (a cluster admin, or the signer's own tenant's approver), the signing gate's
// SubjectAccessReview finds that the requester may not reference the issuer, and the CSR is
// Failed DeniedReference, naming the requester, and never signed.
func TestPersonApprovingACrossTenantCSRIsFailedDeniedReference(t *testing.T) {
	a, b := newTenants(t)
	for who, approver := range map[string]client.Client{"cluster admin": env.Admin, "the issuer's own approver": b.approver} {
		cross := a.submit(t, b.manualSigner)
		env.WaitForEvent(t, cross, controllers.ReasonEvaluated)
		harness.ApproveEventually(t, wait, approver, cross.Name)
		msg := refusedWith(t, cross.Name, certificatesv1.CertificateFailed, controllers.ReasonDeniedReference)
		mustContain(t, "the DeniedReference message after "+who+" approved", msg, a.requesterName, b.ns)
		neverIssued(t, cross.Name)
	}
}

// TestRequestersAndApproversCannotCreateOrEditSignerPolicies: policies are the platform team's
// (GitOps); neither a requester nor an approver may create one naming themselves on the other
// tenant's issuer, add themselves to an existing one, or delete one.
func TestRequestersAndApproversCannotCreateOrEditSignerPolicies(t *testing.T) {
	a, b := newTenants(t)
	for who, as := range map[string]client.Client{"requester": a.requester, "approver": a.approver} {
		grab := &policyv1alpha1.SignerPolicy{ObjectMeta: metav1.ObjectMeta{Name: "grab-" + a.ns},
			Spec: policyv1alpha1.SignerPolicySpec{
				IssuerRef:  &policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindIssuer, Namespace: b.ns, Name: "auto"},
				Requesters: policyv1alpha1.Subjects{Users: []string{a.requesterName}},
			}}
		if err := as.Create(context.Background(), grab); !apierrors.IsForbidden(err) {
			_ = env.Admin.Delete(context.Background(), grab)
			t.Errorf("%s creating a SignerPolicy: got %v, want Forbidden", who, err)
		}
		target := &policyv1alpha1.SignerPolicy{ObjectMeta: metav1.ObjectMeta{Name: b.autoPolicy}}
		addSelf := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"requesters":{"users":["`+a.requesterName+`"]}}}`))
		if err := as.Patch(context.Background(), target, addSelf); !apierrors.IsForbidden(err) {
			t.Errorf("%s patching the other tenant's SignerPolicy: got %v, want Forbidden", who, err)
		}
		ownTarget := &policyv1alpha1.SignerPolicy{ObjectMeta: metav1.ObjectMeta{Name: a.autoPolicy}}
		if err := as.Patch(context.Background(), ownTarget, addSelf); !apierrors.IsForbidden(err) {
			t.Errorf("%s patching their own tenant's SignerPolicy: got %v, want Forbidden", who, err)
		}
		if err := as.Delete(context.Background(), ownTarget); !apierrors.IsForbidden(err) {
			t.Errorf("%s deleting their own tenant's SignerPolicy: got %v, want Forbidden", who, err)
		}
	}
	// The refusals changed nothing.
	var p policyv1alpha1.SignerPolicy
	if err := env.Admin.Get(context.Background(), client.ObjectKey{Name: b.autoPolicy}, &p); err != nil {
		t.Fatal(err)
	}
	if users := p.Spec.Requesters.Users; len(users) != 1 || users[0] != b.requesterName {
		t.Errorf("the other tenant's policy now names %v", users)
	}
}
