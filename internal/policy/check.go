package policy

import (
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

// evaluation holds what one request needs across many policies: the facts derived from the CSR
// once, and a pattern buffer reused by every match.
type evaluation struct {
	req   *Request
	facts facts
	m     matcher
	// signing clamps a lifetime over a policy's max instead of refusing it.
	signing bool
	// granted, when set, is the lifetime rules see instead of the policy's own: a delegation's
	// rules judge the lifetime the namespaced policy under it grants.
	granted time.Duration
	// rules holds the compiled validation rules; celBase is the request as rules see it, built
	// for the first policy that has rules.
	rules   *rules
	celBase *celRequest
}

func newEvaluation(req *Request, rules *rules) *evaluation {
	ev := &evaluation{req: req, facts: factsOf(req), rules: rules}
	ev.m.id = ev.facts.id
	return ev
}

// check runs every check, not just until the first refusal, so a requester learns everything
// they would have to change in one go. A policy that does not name the requester says only
// that: what else it would refuse changes nothing for them and would bury the policies that
// matter.
func (ev *evaluation) check(spec *v1alpha1.SignerPolicySpec) field.ErrorList {
	if errs := ev.checkRequester(spec); len(errs) > 0 {
		return errs
	}
	var errs field.ErrorList
	if len(ev.req.Problems) > 0 || ev.req.CSR == nil {
		return append(errs, ev.req.Problems...)
	}
	errs = append(errs, ev.checkDuration(spec)...)
	return append(errs, ev.checkContents(spec)...)
}

// checkContents checks what the certificate would hold against spec: everything but who asks and
// for how long.
func (ev *evaluation) checkContents(spec *v1alpha1.SignerPolicySpec) field.ErrorList {
	errs := checkCA(spec, ev.req.IsCA, &ev.facts)
	if spec.KubeletServing != nil {
		errs = append(errs, ev.checkKubeletServing(spec)...)
	} else {
		errs = append(errs, checkUsages(spec, ev.req.Usages, ev.req.IsCA, &ev.facts)...)
		errs = append(errs, ev.checkAllowed(&spec.Allowed)...)
	}
	errs = append(errs, ev.checkAPIServerClient()...)
	errs = append(errs, checkExtensions(&ev.facts)...)
	errs = append(errs, checkPrivateKey(spec.PrivateKey, &ev.facts)...)
	return append(errs, ev.checkValidations(spec)...)
}
