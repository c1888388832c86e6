package controllers

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

// maxOtherPolicies bounds status.otherPolicies: a signer may have a thousand policies, and
// listing them all in each would make every status, and every write of it, grow with their square.
const maxOtherPolicies = 10

// signersOf says, for messages, which signers a policy governs.
func signersOf(p *policyv1alpha1.SignerPolicy) string {
	if ref := p.Spec.IssuerRef; ref != nil {
		return "signer " + ref.SignerName()
	}
	if len(p.Spec.SignerNames) > 0 {
		return "signers " + strings.Join(p.Spec.SignerNames, ", ")
	}
	return "the signers of spec.issuers"
}

// otherPoliciesOf lists the policies in onSigner other than p, the Automatic ones first and each
// mode by name, at most maxOtherPolicies of them; onSigner are the policies governing any of p's
// signers, each once.
// It also reports whether it left any out.
func otherPoliciesOf(p *policyv1alpha1.SignerPolicy, onSigner []policyv1alpha1.SignerPolicy) ([]policyv1alpha1.OtherPolicy, bool) {
	var others []policyv1alpha1.OtherPolicy
	for _, o := range onSigner {
		if o.Name != p.Name {
			others = append(others, policyv1alpha1.OtherPolicy{Name: o.Name, Mode: modeOf(&o)})
		}
	}
	slices.SortFunc(others, compareOthers)
	if len(others) > maxOtherPolicies {
		return others[:maxOtherPolicies], true
	}
	return others, false
}

// compareOthers orders other policies Automatic first, since those change how CSRs under a Manual
// policy are approved, then by name.
func compareOthers(a, b policyv1alpha1.OtherPolicy) int {
	if a.Mode != b.Mode {
		return strings.Compare(string(a.Mode), string(b.Mode))
	}
	return strings.Compare(a.Name, b.Name)
}

// mayShow reports whether changed (a policy arriving on, leaving or changing its mode on the signer
// of neighbour, as seen before or after the change) may change what neighbour's status shows.
// signerSize is how many policies govern the signer. It spares a signer of a thousand policies a
// thousand reconciles each time one of them arrives: most neighbours list ten others already, all
// sorting before it. A neighbour whose status is stale is asked when in doubt.
func mayShow(neighbour *policyv1alpha1.SignerPolicy, changed policyv1alpha1.OtherPolicy, signerSize int) bool {
	listed := neighbour.Status.OtherPolicies
	switch {
	case signerSize <= maxOtherPolicies+2:
		return true // whether any were left out may turn
	case changed.Mode == policyv1alpha1.ApprovalAutomatic && modeOf(neighbour) == policyv1alpha1.ApprovalManual:
		return true // the Manual one's warning may turn
	case len(listed) < maxOtherPolicies:
		return true
	case slices.ContainsFunc(listed, func(o policyv1alpha1.OtherPolicy) bool { return o.Name == changed.Name }):
		return true
	}
	return compareOthers(changed, listed[len(listed)-1]) < 0
}

// modeOf reads an omitted mode as the Automatic the schema defaults it to.
func modeOf(p *policyv1alpha1.SignerPolicy) policyv1alpha1.ApprovalMode {
	if p.Spec.Approval.Mode == "" {
		return policyv1alpha1.ApprovalAutomatic
	}
	return p.Spec.Approval.Mode
}

// sharedCondition says whether other policies govern p's signer and, for a Manual p, whether an
// Automatic one among them approves what p would leave to people. more says others were left
// out; the message does not count them, so that each arrival does not rewrite every status.
func sharedCondition(p *policyv1alpha1.SignerPolicy, others []policyv1alpha1.OtherPolicy, more bool) metav1.Condition {
	c := metav1.Condition{Type: policyv1alpha1.ConditionSignerShared, ObservedGeneration: p.Generation}
	var automatic, names []string
	etc := ""
	if more {
		etc = " and others"
	}
	for _, o := range others {
		names = append(names, o.Name)
		if o.Mode == policyv1alpha1.ApprovalAutomatic {
			automatic = append(automatic, o.Name)
		}
	}
	switch {
	case len(others) == 0:
		c.Status, c.Reason = metav1.ConditionFalse, policyv1alpha1.ReasonSignerExclusive
		c.Message = "no other SignerPolicy governs " + signersOf(p)
	case modeOf(p) == policyv1alpha1.ApprovalManual && len(automatic) > 0:
		c.Status, c.Reason = metav1.ConditionTrue, policyv1alpha1.ReasonAutomaticPolicyOnSigner
		if len(automatic) < len(others) {
			etc = "" // the Automatic ones come first, so none was left out
		}
		c.Message = fmt.Sprintf("Automatic SignerPolicies %s%s also govern %s: a CSR they allow is approved without people, "+
			"even one this Manual policy would leave to its approvers; signing still holds each CSR to its requester's own policy",
			strings.Join(automatic, ", "), etc, signersOf(p))
	default:
		c.Status, c.Reason = metav1.ConditionTrue, policyv1alpha1.ReasonOtherPoliciesOnSigner
		c.Message = fmt.Sprintf("SignerPolicies %s%s also govern %s: a CSR is approved when any Ready Automatic one allows it",
			strings.Join(names, ", "), etc, signersOf(p))
	}
	return c
}

// approversCondition is for Manual policies only (nil otherwise): without named approvers, the
// operator grants nobody the right to decide the CSRs it leaves to people.
func approversCondition(p *policyv1alpha1.SignerPolicy) *metav1.Condition {
	if modeOf(p) != policyv1alpha1.ApprovalManual {
		return nil
	}
	c := &metav1.Condition{Type: policyv1alpha1.ConditionApproversNamed, ObservedGeneration: p.Generation,
		Status: metav1.ConditionTrue, Reason: policyv1alpha1.ReasonApproversNamed,
		Message: "the named approvers may approve and deny CSRs of " + signersOf(p)}
	if a := p.Spec.Approval.Approvers; a == nil || len(a.Users)+len(a.Groups)+len(a.ServiceAccounts) == 0 {
		c.Status, c.Reason = metav1.ConditionFalse, policyv1alpha1.ReasonNoApprovers
		c.Message = "this Manual policy names no approvers, so its CSRs wait for someone granted approval on " +
			signersOf(p) + " by other means; name them in spec.approval.approvers"
	}
	return c
}

// setInteractions writes the interaction conditions into status and returns the warnings worth
// an event: those that newly hold, compared with previous.
func setInteractions(status *policyv1alpha1.SignerPolicyStatus, previous []metav1.Condition, shared metav1.Condition, approvers *metav1.Condition) []metav1.Condition {
	var warnings []metav1.Condition
	turnedTo := func(c metav1.Condition, reason string) bool {
		old := meta.FindStatusCondition(previous, c.Type)
		return c.Reason == reason && (old == nil || old.Reason != reason)
	}
	meta.SetStatusCondition(&status.Conditions, shared)
	if turnedTo(shared, policyv1alpha1.ReasonAutomaticPolicyOnSigner) {
		warnings = append(warnings, shared)
	}
	if approvers == nil {
		meta.RemoveStatusCondition(&status.Conditions, policyv1alpha1.ConditionApproversNamed)
		return warnings
	}
	meta.SetStatusCondition(&status.Conditions, *approvers)
	if turnedTo(*approvers, policyv1alpha1.ReasonNoApprovers) {
		warnings = append(warnings, *approvers)
	}
	return warnings
}
