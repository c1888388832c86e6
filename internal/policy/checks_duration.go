package policy

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

const (
	// defaultDuration is cert-manager's default certificate lifetime.
	defaultDuration = 90 * 24 * time.Hour
	// minimumDuration is the shortest lifetime Kubernetes and cert-manager issue.
	minimumDuration = 10 * time.Minute
)

func (ev *evaluation) checkDuration(spec *v1alpha1.SignerPolicySpec) field.ErrorList {
	bounds := spec.Duration
	if bounds == nil {
		bounds = &v1alpha1.DurationBounds{}
	}
	if ev.req.Duration == 0 && len(spec.SignerNames) > 0 {
		return checkUnrequestedLifetime(bounds)
	}
	source := "requested"
	if ev.req.Duration == 0 {
		source = "default"
	}
	return checkLifetime(bounds, ev.lifetime(spec), source)
}

// checkLifetime checks the lifetime a certificate would get against bounds; source says whether
// it was requested or is a policy's default, for the message.
func checkLifetime(bounds *v1alpha1.DurationBounds, lifetime time.Duration, source string) field.ErrorList {
	if bounds == nil {
		bounds = &v1alpha1.DurationBounds{}
	}
	var errs field.ErrorList
	if minimum := orDefault(bounds.Min, minimumDuration); lifetime < minimum {
		errs = append(errs, field.Invalid(field.NewPath("spec", "duration", "min"), lifetime.String(),
			fmt.Sprintf("the %s lifetime is shorter than the minimum %s", source, minimum)))
	}
	if bounds.Max != nil && lifetime > bounds.Max.Duration {
		errs = append(errs, field.Invalid(field.NewPath("spec", "duration", "max"), lifetime.String(),
			fmt.Sprintf("the %s lifetime is longer than the maximum %s", source, bounds.Max.Duration)))
	}
	return errs
}

// lifetime is what spec grants the request: the requested lifetime, else the policy's default.
// At signing a lifetime over max is clamped to max, as the API documents, so an approver who let
// a long request through gets it signed no longer than the policy allows.
func (ev *evaluation) lifetime(spec *v1alpha1.SignerPolicySpec) time.Duration {
	lifetime := ev.req.Duration
	if lifetime == 0 {
		lifetime = defaultLifetime(spec.Duration)
	}
	if ev.signing && spec.Duration != nil && spec.Duration.Max != nil && lifetime > spec.Duration.Max.Duration {
		lifetime = spec.Duration.Max.Duration
	}
	return lifetime
}

// defaultLifetime is the lifetime a certificate gets under the bounds when its CSR requests none:
// the policy's default, else cert-manager's 90 days shortened to the policy's max, so that a policy
// with only a max never refuses a CSR that asks for nothing.
func defaultLifetime(bounds *v1alpha1.DurationBounds) time.Duration {
	switch {
	case bounds == nil:
		return defaultDuration
	case bounds.Default != nil:
		return bounds.Default.Duration
	case bounds.Max != nil && bounds.Max.Duration < defaultDuration:
		return bounds.Max.Duration
	}
	return defaultDuration
}

func orDefault(d *metav1.Duration, fallback time.Duration) time.Duration {
	if d == nil {
		return fallback
	}
	return d.Duration
}

// checkUnrequestedLifetime decides a CSR that requests no lifetime from a signer the operator does
// not sign for. That signer gives it its own default (kube-controller-manager's
// --cluster-signing-duration, a year unless set), which no approval can shorten: a policy with a
// max therefore requires the CSR to request a lifetime, and one without a max leaves it to the
// signer.
func checkUnrequestedLifetime(bounds *v1alpha1.DurationBounds) field.ErrorList {
	if bounds.Max == nil {
		return nil
	}
	return field.ErrorList{field.Required(field.NewPath("spec", "duration", "max"), fmt.Sprintf(
		"the CSR requests no lifetime, so its signer, which the operator does not sign for, would give it its own default; request at most %s with spec.expirationSeconds",
		bounds.Max.Duration))}
}
