package controllers

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// policyObservation is what the SignerPolicy controller learned about the policy and the issuer
// it references.
type policyObservation struct {
	found bool
	// typ is the issuer's configured type; empty when the issuer configures none we know.
	typ signer.IssuerType
	// invalid are the faults of the policy the schema cannot refuse, such as a rule that does
	// not compile.
	invalid field.ErrorList
}

// readyCondition computes the policy's Ready condition from what was observed about its issuer
// and whether its RBAC could be applied.
// It is pure so that every reason can be tested in a table without a client.
func readyCondition(p *policyv1alpha1.SignerPolicy, obs policyObservation, rbacErr error, supported map[signer.IssuerType]bool) metav1.Condition {
	c := metav1.Condition{Type: policyv1alpha1.ConditionReady, ObservedGeneration: p.Generation}
	ref := p.Spec.IssuerRef
	switch {
	case len(obs.invalid) > 0:
		c.Status, c.Reason = metav1.ConditionFalse, policyv1alpha1.ReasonInvalidPolicy
		// Compiler messages quote the rule, so many broken rules could exceed what a condition
		// message may hold, and the status write would then fail for good.
		c.Message = truncate(obs.invalid.ToAggregate().Error())
	case !obs.found:
		c.Status, c.Reason = metav1.ConditionFalse, policyv1alpha1.ReasonIssuerNotFound
		c.Message = fmt.Sprintf("spec.issuerRef: %s not found", ref)
	case obs.typ == "" || !supported[obs.typ]:
		c.Status, c.Reason = metav1.ConditionFalse, policyv1alpha1.ReasonUnsupportedIssuerType
		typ := string(obs.typ)
		if typ == "" {
			typ = "none of ca, selfSigned, vault, venafi or acme"
		}
		c.Message = fmt.Sprintf("spec.issuerRef: %s is configured for %s, which this operator does not sign for", ref, typ)
	case rbacErr != nil:
		c.Status, c.Reason = metav1.ConditionFalse, policyv1alpha1.ReasonRBACFailed
		c.Message = "generating RBAC: " + rbacErr.Error()
	default:
		c.Status, c.Reason = metav1.ConditionTrue, policyv1alpha1.ReasonReady
		c.Message = fmt.Sprintf("CSRs with signerName %s are governed by this policy", ref.SignerName())
	}
	return c
}

// readyTurned says whether moving from the previous Ready condition (nil when there was none) to
// next is a turn worth an event, and of which type: a policy coming into force is Normal, one
// falling out of force (or never getting there) is a Warning, because CSRs of its signer are then
// neither approved by it nor bounded by it. A changed message under the same reason is no turn.
func readyTurned(previous *metav1.Condition, next metav1.Condition) (eventType string, turned bool) {
	if previous != nil && previous.Status == next.Status && previous.Reason == next.Reason {
		return "", false
	}
	if next.Status == metav1.ConditionTrue {
		return corev1.EventTypeNormal, true
	}
	return corev1.EventTypeWarning, true
}
