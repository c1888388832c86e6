package controllers

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// policyObservation is what the SignerPolicy controller learned about the policy and the issuers
// it governs.
type policyObservation struct {
	issuers []observedIssuer
	// invalid are the faults of the policy the schema cannot refuse, such as a rule that does
	// not compile.
	invalid field.ErrorList
}

// readyCondition computes the policy's Ready condition from what was observed about its issuers
// and whether its RBAC could be applied.
// It is pure so that every reason can be tested in a table without a client.
func readyCondition(p *policyv1alpha1.SignerPolicy, obs policyObservation, rbacErr error, supported map[signer.IssuerType]bool) metav1.Condition {
	c := metav1.Condition{Type: policyv1alpha1.ConditionReady, ObservedGeneration: p.Generation, Status: metav1.ConditionFalse}
	var signable []string
	for _, i := range obs.issuers {
		if i.found && supported[i.typ] {
			signable = append(signable, i.ref.SignerName())
		}
	}
	ref := p.Spec.IssuerRef
	switch {
	case ref == nil && p.Spec.Issuers == nil && len(p.Spec.SignerNames) == 0:
		// The schema forbids it; a policy stored past it governs nothing and says so.
		c.Reason, c.Message = policyv1alpha1.ReasonInvalidPolicy, "spec: names none of issuerRef, issuers and signerNames, so it governs nothing"
	case len(obs.invalid) > 0:
		// Compiler messages quote the rule, so many broken rules could exceed what a condition
		// message may hold, and the status write would then fail for good.
		c.Reason, c.Message = policyv1alpha1.ReasonInvalidPolicy, truncate(obs.invalid.ToAggregate().Error())
	case len(p.Spec.SignerNames) > 0:
		// No issuer to wait for: the policy is in force once its RBAC is.
		c = signerNamesReady(c, p, rbacErr)
	case ref != nil && !obs.issuers[0].found:
		c.Reason, c.Message = policyv1alpha1.ReasonIssuerNotFound, fmt.Sprintf("spec.issuerRef: %s not found", ref)
	case ref != nil && len(signable) == 0:
		typ := string(obs.issuers[0].typ)
		if typ == "" {
			typ = "none of ca, selfSigned, vault, venafi or acme"
		}
		c.Reason = policyv1alpha1.ReasonUnsupportedIssuerType
		c.Message = fmt.Sprintf("spec.issuerRef: %s is configured for %s, which this operator does not sign for", ref, typ)
	case ref == nil && len(obs.issuers) == 0:
		c.Reason, c.Message = policyv1alpha1.ReasonIssuerNotFound, fmt.Sprintf("spec.issuers: no existing %s matches", p.Spec.Issuers.Kind)
	case ref == nil && len(obs.issuers) > maxGovernedIssuers:
		c.Reason = policyv1alpha1.ReasonTooManyIssuers
		c.Message = fmt.Sprintf("spec.issuers selects %d issuers, more than the %d a policy may govern: narrow its names or namespaces", len(obs.issuers), maxGovernedIssuers)
	case ref == nil && len(signable) == 0:
		c.Reason = policyv1alpha1.ReasonUnsupportedIssuerType
		c.Message = fmt.Sprintf("spec.issuers: none of the %d issuers it selects is configured for a type this operator signs for", len(obs.issuers))
	case rbacErr != nil:
		c.Reason, c.Message = policyv1alpha1.ReasonRBACFailed, "generating RBAC: "+rbacErr.Error()
	case ref != nil:
		c.Status, c.Reason = metav1.ConditionTrue, policyv1alpha1.ReasonReady
		c.Message = fmt.Sprintf("CSRs with signerName %s are governed by this policy", ref.SignerName())
	default:
		c.Status, c.Reason = metav1.ConditionTrue, policyv1alpha1.ReasonReady
		c.Message = truncate(fmt.Sprintf("CSRs of the %d issuers spec.issuers selects are governed by this policy (status.signerNames); it signs for %s",
			len(obs.issuers), strings.Join(signable, ", ")))
	}
	return c
}

// setStalled keeps the Stalled condition beside a Ready condition whose reason only a change to
// the policy or its issuer's configuration can lift, and removes it otherwise.
func setStalled(status *policyv1alpha1.SignerPolicyStatus, ready metav1.Condition) {
	switch ready.Reason {
	case policyv1alpha1.ReasonInvalidPolicy, policyv1alpha1.ReasonUnsupportedIssuerType, policyv1alpha1.ReasonTooManyIssuers:
		meta.SetStatusCondition(&status.Conditions, metav1.Condition{Type: policyv1alpha1.ConditionStalled, Status: metav1.ConditionTrue,
			ObservedGeneration: ready.ObservedGeneration, Reason: ready.Reason, Message: ready.Message})
	default:
		meta.RemoveStatusCondition(&status.Conditions, policyv1alpha1.ConditionStalled)
	}
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

// signerNamesReady is Ready for a policy on signer names, which has no issuer to wait for.
func signerNamesReady(c metav1.Condition, p *policyv1alpha1.SignerPolicy, rbacErr error) metav1.Condition {
	if rbacErr != nil {
		c.Reason, c.Message = policyv1alpha1.ReasonRBACFailed, "generating RBAC: "+rbacErr.Error()
		return c
	}
	c.Status, c.Reason = metav1.ConditionTrue, policyv1alpha1.ReasonReady
	c.Message = truncate(fmt.Sprintf("CSRs of %s are governed by this policy: the operator approves and denies them, and never signs them",
		strings.Join(sortedSignerNames(&p.Spec), ", ")))
	return c
}

// sortedSignerNames are spec.signerNames, sorted, as status.signerNames lists them.
func sortedSignerNames(spec *policyv1alpha1.SignerPolicySpec) []string {
	return slices.Sorted(slices.Values(spec.SignerNames))
}
