package policy

import (
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

// Evaluate decides a CSR against every policy; only those governing req.SignerName count.
func Evaluate(policies []v1alpha1.SignerPolicy, req Request) Decision {
	governing := governingPolicies(policies, req.SignerName)
	if len(governing) == 0 {
		return Decision{Result: NotGoverned}
	}
	ev := newEvaluation(&req)
	var (
		manualAllows string
		anyManual    bool
		notReady     []string
		violations   []PolicyViolation
	)
	// governing is sorted by name, so the first allowing policy is the deterministic one.
	for _, p := range governing {
		if !isReady(p) {
			notReady = append(notReady, p.Name)
			continue
		}
		manual := isManual(p)
		anyManual = anyManual || manual
		errs := ev.check(&p.Spec)
		switch {
		case len(errs) > 0:
			violations = append(violations, PolicyViolation{Policy: p.Name, Errors: errs})
		case !manual:
			return Decision{Result: Approve, Policy: p.Name}
		case manualAllows == "":
			manualAllows = p.Name
		}
	}
	switch {
	case manualAllows != "":
		return Decision{Result: Manual, Policy: manualAllows}
	case len(notReady) > 0:
		// A policy that is not Ready may be the one that would allow the CSR once it is, and a
		// denial is final, so a refusal must wait.
		return Decision{Result: Wait, Violations: violations, NotReady: notReady}
	case anyManual:
		return Decision{Result: Manual, Violations: violations}
	}
	return Decision{Result: Deny, Violations: violations}
}

// governingPolicies returns the policies for signerName sorted by name, without reordering the
// caller's slice.
func governingPolicies(policies []v1alpha1.SignerPolicy, signerName string) []*v1alpha1.SignerPolicy {
	var governing []*v1alpha1.SignerPolicy
	for i := range policies {
		if policies[i].Spec.IssuerRef.SignerName() == signerName {
			governing = append(governing, &policies[i])
		}
	}
	slices.SortStableFunc(governing, func(a, b *v1alpha1.SignerPolicy) int {
		return strings.Compare(a.Name, b.Name)
	})
	return governing
}

// isReady requires the Ready condition to describe the current spec: a policy edited since its
// controller last looked may allow what its stale status vouches for.
func isReady(p *v1alpha1.SignerPolicy) bool {
	c := meta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionReady)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == p.Generation
}

// isManual treats any mode it does not know as Manual, so an unexpected value never lets the
// operator approve on its own.
func isManual(p *v1alpha1.SignerPolicy) bool {
	switch p.Spec.Approval.Mode {
	case "", v1alpha1.ApprovalAutomatic:
		return false
	}
	return true
}
