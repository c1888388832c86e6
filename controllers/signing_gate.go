package controllers

import (
	"fmt"
	"slices"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/csr"
	"github.com/signerpolicy/signer-policy-operator/internal/policy"
)

// Failed reasons of the signing gate, as cert-manager's CSR signers name them where they have
// one.
const (
	ReasonDeniedReference    = "DeniedReference"
	ReasonInvalidDuration    = "InvalidDuration"
	ReasonErrorParseDuration = "ErrorParseDuration"
	ReasonPolicyViolation    = "PolicyViolation"
	ReasonInvalidRequest     = "InvalidRequest"
)

// minimumDuration is the shortest certificate Kubernetes (spec.expirationSeconds) and
// cert-manager issue.
const minimumDuration = 600 * time.Second

// gateFailure is a CSR the gate refuses for good: it becomes a Failed condition.
type gateFailure struct{ reason, message string }

// bounds is what the gate decided about a CSR's certificate before dispatching it.
type bounds struct {
	requested time.Duration // zero when the CSR asked for none
	duration  time.Duration
	isCA      bool
	// policy is the governing policy whose bounds apply; empty when no policy governs the signer.
	policy *policyv1alpha1.SignerPolicy
}

// decideBounds applies the duration rules and the governing policies' bounds, in the gate's
// order: duration (annotation, then spec.expirationSeconds, then default), then isCA and usages
// against the policies. Approval may have come from a person rather than a policy, so this is
// defence in depth: a person can approve a CSR, but not past what the policies allow to be
// signed.
func decideBounds(c *certificatesv1.CertificateSigningRequest, governing []policyv1alpha1.SignerPolicy) (bounds, *gateFailure) {
	requested, wasRequested, err := csr.RequestedDuration(c)
	if err != nil {
		return bounds{}, &gateFailure{ReasonErrorParseDuration, err.Error()}
	}
	if wasRequested && requested < minimumDuration {
		return bounds{}, &gateFailure{ReasonInvalidDuration,
			fmt.Sprintf("requested duration %s is shorter than the minimum %s", requested, minimumDuration)}
	}
	isCA, err := csr.RequestedIsCA(c)
	if err != nil {
		return bounds{}, &gateFailure{ReasonInvalidRequest, err.Error()}
	}
	b := bounds{requested: requested, duration: requested, isCA: isCA}
	if len(governing) == 0 {
		if !wasRequested {
			b.duration = policy.DefaultDuration(nil)
		}
		return b, nil
	}
	p, errs := boundingPolicy(governing, isCA, c.Spec.Usages)
	if p == nil {
		return bounds{}, &gateFailure{ReasonPolicyViolation, errs}
	}
	b.policy = p
	if !wasRequested {
		b.duration = policy.DefaultDuration(p.Spec.Duration)
	}
	if d := p.Spec.Duration; d != nil && d.Max != nil && b.duration > d.Max.Duration {
		b.duration = d.Max.Duration
	}
	return b, nil
}

// boundingPolicy returns the first governing policy, by name, whose CA flag and usages admit the
// CSR, or a message listing why each refuses.
func boundingPolicy(governing []policyv1alpha1.SignerPolicy, isCA bool, usages []certificatesv1.KeyUsage) (*policyv1alpha1.SignerPolicy, string) {
	sorted := slices.Clone(governing)
	slices.SortFunc(sorted, func(a, b policyv1alpha1.SignerPolicy) int { return strings.Compare(a.Name, b.Name) })
	var refusals []string
	for i := range sorted {
		errs := policy.CheckBounds(&sorted[i].Spec, isCA, usages)
		if len(errs) == 0 {
			return &sorted[i], ""
		}
		refusals = append(refusals, fmt.Sprintf("policy %q: %s", sorted[i].Name, errs.ToAggregate().Error()))
	}
	return nil, "no governing SignerPolicy allows signing this request: " + strings.Join(refusals, "; ")
}
