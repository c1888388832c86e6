package cli

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/util/validation/field"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/policy"
)

// verdictKind is what one governing policy says about a request.
type verdictKind int

const (
	// allows: the policy allows the request (approval is then its mode's to give).
	allows verdictKind = iota
	// refuses: the policy lists the requester and refuses the request; errors say why.
	refuses
	// notReady: the policy is not in force; the operator neither denies nor signs under it.
	notReady
	// notARequester: the policy does not list the requester, and says nothing else.
	notARequester
)

// verdict is one governing policy's answer, as the evaluator gives it for that policy alone.
type verdict struct {
	policy *policyv1alpha1.SignerPolicy
	kind   verdictKind
	errors field.ErrorList
}

// stage is when the operator evaluates a CSR: at approval (modes count) or at signing (modes set
// aside, lifetime clamped).
type stage int

const (
	atApproval stage = iota
	atSigning
)

// evaluation is the evaluator's decision on a request and every governing policy's verdict.
type evaluation struct {
	stage     stage
	decision  policy.Decision
	governing []*policyv1alpha1.SignerPolicy
	verdicts  []verdict
}

// evaluate runs the operator's evaluator on the request, once for the decision the operator makes
// and once per governing policy for what each says on its own; a namespaced policy is evaluated
// with the SignerPolicies delegating to it, since it allows only what they allow too.
func evaluate(ev *policy.Evaluator, policies policy.Policies, req policy.Request, s stage) evaluation {
	run := ev.Evaluate
	if s == atSigning {
		run = ev.EvaluateForSigning
	}
	governing := policy.Governing(policies.Cluster, req.SignerName, req.IssuerNamespaceLabels)
	e := evaluation{stage: s, decision: run(policies, req), governing: governing}
	for _, p := range governing {
		d := run(policy.Policies{Cluster: []policyv1alpha1.SignerPolicy{*p}}, req)
		e.verdicts = append(e.verdicts, verdictOf(p, d))
	}
	// The SignerPolicies beside a namespaced one, with no requesters of their own, so that only
	// their bounds speak in its verdict.
	bounds := make([]policyv1alpha1.SignerPolicy, 0, len(governing))
	for _, p := range governing {
		b := *p
		b.Spec.Requesters = policyv1alpha1.Subjects{}
		bounds = append(bounds, b)
	}
	for _, n := range policy.GoverningNamespaced(policies, req) {
		alone := policy.Policies{Cluster: bounds, Namespaced: []policyv1alpha1.NamespacedSignerPolicy{n}}
		view := alone.Named(policy.NamespacedName(&n))
		e.governing = append(e.governing, view)
		e.verdicts = append(e.verdicts, verdictOf(view, run(alone, req)))
	}
	// The policies that list the requester come first, as in the operator's messages: theirs are
	// the verdicts to act on. The kinds are declared in that order.
	slices.SortStableFunc(e.verdicts, func(a, b verdict) int { return cmp.Compare(a.kind, b.kind) })
	return e
}

// verdictOf is what d, a decision in which only p can allow, says of p.
func verdictOf(p *policyv1alpha1.SignerPolicy, d policy.Decision) verdict {
	v := verdict{policy: p, kind: notARequester}
	switch {
	case d.Policy == p.Name:
		v.kind = allows
	case slices.Contains(d.NotReady, p.Name):
		v.kind = notReady
	default:
		for _, pv := range d.Violations {
			if pv.Policy != p.Name {
				continue
			}
			v.kind, v.errors = refuses, pv.Errors
			if len(v.errors) == 1 && v.errors[0].Field == "spec.requesters" {
				v.kind = notARequester
			}
		}
	}
	return v
}

// modeOf is a policy's approval mode as people read it.
func modeOf(p *policyv1alpha1.SignerPolicy) string {
	if policy.IsManual(p) {
		return string(policyv1alpha1.ApprovalManual)
	}
	return string(policyv1alpha1.ApprovalAutomatic)
}

// readinessOf is "Ready", or why the policy is not in force.
func readinessOf(p *policyv1alpha1.SignerPolicy) string {
	if policy.IsReady(p) {
		return "Ready"
	}
	c := meta.FindStatusCondition(p.Status.Conditions, policyv1alpha1.ConditionReady)
	switch {
	case c == nil:
		return "not Ready: the operator has not reported on it yet"
	case c.ObservedGeneration != p.Generation:
		return fmt.Sprintf("not Ready: the operator has not yet looked at generation %d", p.Generation)
	}
	return fmt.Sprintf("not Ready: %s: %s", c.Reason, c.Message)
}

// printVerdicts writes each governing policy's verdict, with the field errors of those that
// refuse and, for those that list the requester, the RBAC they generate.
func printVerdicts(w io.Writer, e *evaluation, req *policy.Request) {
	for _, v := range e.verdicts {
		p := v.policy
		out(w, "  %s (%s, %s)\n", p.Name, modeOf(p), readinessOf(p))
		switch v.kind {
		case allows:
			out(w, "    allows this request%s\n", allowsSuffix(e.stage, p))
		case refuses:
			out(w, "    refuses this request:\n")
			for _, err := range v.errors {
				out(w, "      - %s\n", err.Error())
			}
		case notARequester:
			out(w, "    does not list %s as a requester\n", describeRequester(req.Requester))
		case notReady:
			out(w, "    not in force: the operator waits for it rather than deny\n")
		}
		if v.kind != notARequester && len(p.Status.RBAC) > 0 {
			out(w, "    RBAC it generates:\n")
			for _, o := range p.Status.RBAC {
				out(w, "      %s\n", describeObject(o))
			}
		}
	}
}

func allowsSuffix(s stage, p *policyv1alpha1.SignerPolicy) string {
	switch {
	case s == atSigning:
		return " as it would be issued"
	case policy.IsManual(p):
		return "; its approval is manual, so an approver decides"
	}
	return ""
}

// describeRequester is a username with its groups, as the API server recorded them.
func describeRequester(r policy.Requester) string {
	if len(r.Groups) == 0 {
		return fmt.Sprintf("%q", r.Username)
	}
	return fmt.Sprintf("%q (groups %s)", r.Username, strings.Join(r.Groups, ", "))
}

func describeRBAC(objs []policyv1alpha1.GeneratedObject) string {
	names := make([]string, len(objs))
	for i, o := range objs {
		names[i] = describeObject(o)
	}
	return strings.Join(names, ", ")
}

// describeObject is "Kind namespace/name", or "Kind name" for a cluster-scoped object.
func describeObject(o policyv1alpha1.GeneratedObject) string {
	if o.Namespace != "" {
		return o.Kind + " " + o.Namespace + "/" + o.Name
	}
	return o.Kind + " " + o.Name
}
