//go:build !unit

package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

// conditionReason waits until the policy's condition of type has reason, and returns the policy.
func conditionReason(t *testing.T, name, condType, reason string) *policyv1alpha1.SignerPolicy {
	t.Helper()
	var p policyv1alpha1.SignerPolicy
	harness.Eventually(t, wait, func() error {
		if err := env.Admin.Get(context.Background(), client.ObjectKey{Name: name}, &p); err != nil {
			return err
		}
		if c := meta.FindStatusCondition(p.Status.Conditions, condType); c == nil || c.Reason != reason || c.ObservedGeneration != p.Generation {
			return fmt.Errorf("%s is %+v, want reason %s", condType, c, reason)
		}
		return nil
	})
	return &p
}

// A Manual policy learns, with a Warning, when an Automatic policy comes to share its signer, and
// that it names no approvers; the Automatic policy's arrival and departure move the Manual one's
// status without the Manual one changing.
func TestManualPolicyIsWarnedOfAnAutomaticPolicyOnItsSigner(t *testing.T) {
	ns := env.Namespace(t)
	env.Create(t, caIssuer(ns, "ca"))
	ref := policyv1alpha1.IssuerReference{Kind: "Issuer", Namespace: ns, Name: "ca"}
	manualName := policyName(t)
	manual := policyFor(manualName, ref)
	manual.Spec.Approval.Mode = policyv1alpha1.ApprovalManual
	env.Create(t, manual)
	conditionReason(t, manualName, policyv1alpha1.ConditionSignerShared, policyv1alpha1.ReasonSignerExclusive)
	conditionReason(t, manualName, policyv1alpha1.ConditionApproversNamed, policyv1alpha1.ReasonNoApprovers)
	env.WaitForEvent(t, manual, policyv1alpha1.ReasonNoApprovers)

	automatic := policyFor(manualName+"-auto", ref)
	env.Create(t, automatic)
	got := conditionReason(t, manualName, policyv1alpha1.ConditionSignerShared, policyv1alpha1.ReasonAutomaticPolicyOnSigner)
	if want := []policyv1alpha1.OtherPolicy{{Name: automatic.Name, Mode: policyv1alpha1.ApprovalAutomatic}}; !slices.Equal(got.Status.OtherPolicies, want) {
		t.Errorf("status.otherPolicies = %v, want %v", got.Status.OtherPolicies, want)
	}
	ev := env.WaitForEvent(t, manual, policyv1alpha1.ReasonAutomaticPolicyOnSigner)
	if ev.Type != "Warning" || !strings.Contains(ev.Note, automatic.Name) {
		t.Errorf("event %s %q, want a Warning naming %s", ev.Type, ev.Note, automatic.Name)
	}
	// The Automatic one is told of the Manual one, without a warning.
	conditionReason(t, automatic.Name, policyv1alpha1.ConditionSignerShared, policyv1alpha1.ReasonOtherPoliciesOnSigner)

	if err := env.Admin.Delete(context.Background(), automatic); err != nil {
		t.Fatal(err)
	}
	got = conditionReason(t, manualName, policyv1alpha1.ConditionSignerShared, policyv1alpha1.ReasonSignerExclusive)
	if len(got.Status.OtherPolicies) != 0 {
		t.Errorf("status.otherPolicies = %v after the other policy went", got.Status.OtherPolicies)
	}
	if c := meta.FindStatusCondition(got.Status.Conditions, policyv1alpha1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("the warnings must not take the policy out of force: Ready %+v", c)
	}
}
