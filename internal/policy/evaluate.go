package policy

import (
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

// Evaluator decides CSRs against SignerPolicies. It keeps the compiled validation rules of the
// policies it has seen, so one is built at start and shared by every controller; it is safe for
// concurrent use.
type Evaluator struct {
	rules *rules
}

// NewEvaluator returns an Evaluator. It fails only if the CEL environment cannot be built, which
// is a programming error.
func NewEvaluator() (*Evaluator, error) {
	r, err := newRules()
	if err != nil {
		return nil, err
	}
	return &Evaluator{rules: r}, nil
}

// Validate reports what makes a policy unusable that the API server's schema cannot see:
// namespace selectors that do not parse, and validation rules that do not compile or cost too
// much. A policy with errors must not be Ready.
func (e *Evaluator) Validate(spec *v1alpha1.SignerPolicySpec) field.ErrorList {
	return append(validateSelectors(spec), e.rules.validate(spec.Validations)...)
}

// Evaluate decides a pending CSR against every policy; only those governing req.SignerName count.
func (e *Evaluator) Evaluate(policies Policies, req Request) Decision {
	return e.evaluate(policies, req, false)
}

// EvaluateForSigning decides whether an approved CSR may be signed, with the same checks as
// approval: whoever approved it, it is signed only as a Ready policy that lists its requester
// allows, so no approval gets a requester more than their own policy would. Approval modes are
// set aside (a person's approval is what Manual waits for), and a lifetime over a policy's max is
// clamped to it rather than refused. The result is Approve (sign, with Decision.Lifetime), Deny,
// Wait or NotGoverned; never Manual.
func (e *Evaluator) EvaluateForSigning(policies Policies, req Request) Decision {
	return e.evaluate(policies, req, true)
}

func (e *Evaluator) evaluate(policies Policies, req Request, signing bool) Decision {
	governing := governingPolicies(policies.Cluster, &req)
	if len(governing) == 0 {
		// A namespaced policy is in force only under a SignerPolicy governing its Issuer.
		return Decision{Result: NotGoverned}
	}
	candidates := make([]candidate, 0, len(governing))
	for _, p := range governing {
		if p.Spec.Delegation != nil && !namesAnyone(&p.Spec.Requesters) && isReady(p) {
			// A policy that only delegates allows nobody itself: its rules speak through the
			// namespaced policies it bounds, and a refusal naming it would only be noise. Not
			// Ready, it still holds off a denial: it may be about to put one of them in force.
			continue
		}
		candidates = append(candidates, candidate{name: p.Name, spec: &p.Spec, ready: isReady(p)})
	}
	candidates = append(candidates, namespacedCandidates(policies.Namespaced, governing, &req)...)
	ev := newEvaluation(&req, e.rules)
	ev.signing = signing
	var (
		manualAllows string
		anyManual    bool
		notReady     []string
		violations   []PolicyViolation
	)
	// SignerPolicies come first, then namespaced policies, each sorted by name, so the first
	// allowing policy is the deterministic one.
	for _, c := range candidates {
		if len(c.beyond) > 0 {
			// What a policy names beyond every delegation covering it is in its spec and theirs,
			// not in a status that may lag, so refusing for it is final.
			violations = append(violations, PolicyViolation{Policy: c.name, Errors: c.beyond})
			continue
		}
		if !c.ready {
			notReady = append(notReady, c.name)
			continue
		}
		manual := !signing && isManual(c.spec)
		anyManual = anyManual || manual
		errs, lifetime := ev.checkCandidate(&c)
		switch {
		case len(errs) > 0:
			violations = append(violations, PolicyViolation{Policy: c.name, Errors: errs})
		case !manual:
			return Decision{Result: Approve, Policy: c.name, Lifetime: lifetime}
		case manualAllows == "":
			manualAllows = c.name
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

// checkCandidate checks the request against one policy and returns what refuses it, or the
// lifetime it grants. A namespaced policy allows only what one of its delegations allows too.
func (ev *evaluation) checkCandidate(c *candidate) (field.ErrorList, time.Duration) {
	errs := ev.check(c.spec)
	if len(errs) > 0 || c.bounds == nil {
		return errs, ev.lifetime(c.spec)
	}
	var refused field.ErrorList
	for _, d := range c.bounds {
		within, lifetime := ev.checkWithin(d, c.spec)
		if len(within) == 0 {
			return nil, lifetime
		}
		refused = append(refused, within...)
	}
	return refused, 0
}

// governingPolicies returns the policies for req's signer sorted by name, without reordering the
// caller's slice.
func governingPolicies(policies []v1alpha1.SignerPolicy, req *Request) []*v1alpha1.SignerPolicy {
	governing := governing(policies, req.SignerName, req.IssuerNamespaceLabels)
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
func isManual(spec *v1alpha1.SignerPolicySpec) bool {
	switch spec.Approval.Mode {
	case "", v1alpha1.ApprovalAutomatic:
		return false
	}
	return true
}

func namesAnyone(s *v1alpha1.Subjects) bool {
	return len(s.Users)+len(s.Groups)+len(s.ServiceAccounts)+len(s.ServiceAccountSelectors) > 0
}
