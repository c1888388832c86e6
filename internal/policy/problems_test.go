package policy

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

// A request the controller could not parse is refused by every policy, naming the request's own
// field, yet still obeys the approval mode and readiness rules.
func TestRequestProblemsAreRefusalsThatFollowTheRules(t *testing.T) {
	problem := field.Invalid(field.NewPath("spec", "request"), "", "cannot parse PKCS#10 request")
	req := baseRequest(t, baseTemplate())
	req.CSR, req.Problems = nil, field.ErrorList{problem}

	d := newTestEvaluator(t).Evaluate(Policies{Cluster: []v1alpha1.SignerPolicy{allowing("a")}}, req)
	if d.Result != Deny || !strings.Contains(d.Message(), "spec.request: Invalid value") {
		t.Errorf("automatic policy: %s %q, want Deny naming spec.request", d.Result, d.Message())
	}
	if d := newTestEvaluator(t).Evaluate(Policies{Cluster: []v1alpha1.SignerPolicy{manual(allowing("a"))}}, req); d.Result != Manual || d.Policy != "" {
		t.Errorf("manual policy: %s policy %q, want Manual with no allowing policy", d.Result, d.Policy)
	}
	p := withReady(allowing("b"), metav1.ConditionFalse, 1)
	if d := newTestEvaluator(t).Evaluate(Policies{Cluster: []v1alpha1.SignerPolicy{allowing("a"), p}}, req); d.Result != Wait {
		t.Errorf("with a policy not Ready: %s, want Wait", d.Result)
	}
}
