package harness

import (
	"context"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

// policyReadyTimeout bounds the wait for the policy controller to apply a policy's RBAC and
// report it Ready.
const policyReadyTimeout = 30 * time.Second

// ManualPolicy is a SignerPolicy letting requester ask the issuer ref for what allowed permits,
// with the default usages, lifetimes and keys. Its approval is Manual, so the operator only
// reports its evaluation and the approval a test makes by hand is the one that counts; signing
// still holds the CSR to the policy.
func ManualPolicy(ref policyv1alpha1.IssuerReference, requester string, allowed policyv1alpha1.Allowed) *policyv1alpha1.SignerPolicy {
	return &policyv1alpha1.SignerPolicy{
		ObjectMeta: metav1.ObjectMeta{GenerateName: ref.Name + "-"},
		Spec: policyv1alpha1.SignerPolicySpec{
			IssuerRef:  &ref,
			Requesters: policyv1alpha1.Subjects{Users: []string{requester}},
			Approval:   policyv1alpha1.Approval{Mode: policyv1alpha1.ApprovalManual},
			Allowed:    allowed,
		},
	}
}

// GovernWithPolicy creates p as the admin, deletes it when the test ends, and waits until the
// operator reports it Ready for its current generation. Signing fails closed for a signer that no
// Ready policy governs, so a CSR submitted before then would not be signed for the reason the
// test means to exercise. p's issuer must exist for the policy to become Ready.
func (e *Env) GovernWithPolicy(t testing.TB, p *policyv1alpha1.SignerPolicy) {
	t.Helper()
	e.Create(t, p)
	e.WaitForPolicyReady(t, p.Name, policyReadyTimeout)
}

// WaitForPolicyReady waits up to timeout until the operator reports the named SignerPolicy Ready
// for its current generation: from then on it is in force, its RBAC applied and its signer
// governed, whatever the test does next.
func (e *Env) WaitForPolicyReady(t testing.TB, name string, timeout time.Duration) {
	t.Helper()
	Eventually(t, timeout, func() error {
		var got policyv1alpha1.SignerPolicy
		if err := e.Admin.Get(context.Background(), client.ObjectKey{Name: name}, &got); err != nil {
			return err
		}
		c := meta.FindStatusCondition(got.Status.Conditions, policyv1alpha1.ConditionReady)
		if c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != got.Generation {
			return fmt.Errorf("SignerPolicy %s (generation %d) is not Ready: %+v", got.Name, got.Generation, c)
		}
		return nil
	})
}
