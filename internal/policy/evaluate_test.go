package policy

import (
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

// Policies for TestEvaluate, each allowing or refusing baseRequest.
func allowing(name string) v1alpha1.SignerPolicy { return basePolicy(name) }

func refusing(name string) v1alpha1.SignerPolicy {
	p := basePolicy(name)
	p.Spec.Requesters = v1alpha1.Subjects{Users: []string{"bob"}}
	return p
}

func manual(p v1alpha1.SignerPolicy) v1alpha1.SignerPolicy {
	p.Spec.Approval.Mode = v1alpha1.ApprovalManual
	return p
}

func automatic(p v1alpha1.SignerPolicy) v1alpha1.SignerPolicy {
	p.Spec.Approval.Mode = v1alpha1.ApprovalAutomatic
	return p
}

func notReady(p v1alpha1.SignerPolicy) v1alpha1.SignerPolicy {
	return withReady(p, metav1.ConditionFalse, p.Generation)
}

func stale(p v1alpha1.SignerPolicy) v1alpha1.SignerPolicy {
	p.Generation = 2 // edited after the controller marked generation 1 Ready
	return p
}

func withoutConditions(p v1alpha1.SignerPolicy) v1alpha1.SignerPolicy {
	p.Status.Conditions = nil
	return p
}

func otherSigner(p v1alpha1.SignerPolicy) v1alpha1.SignerPolicy {
	p.Spec.IssuerRef = &v1alpha1.IssuerReference{Kind: v1alpha1.IssuerKindClusterIssuer, Name: "ca"}
	return p
}

func TestEvaluate(t *testing.T) {
	tests := []struct {
		name           string
		policies       []v1alpha1.SignerPolicy
		want           Result
		wantPolicy     string
		wantViolations []string
		wantNotReady   []string
	}{
		{name: "no policies", want: NotGoverned},
		{name: "only other signers", policies: []v1alpha1.SignerPolicy{otherSigner(allowing("a"))}, want: NotGoverned},
		{name: "one allows", policies: []v1alpha1.SignerPolicy{allowing("a")}, want: Approve, wantPolicy: "a"},
		{name: "explicit Automatic allows", policies: []v1alpha1.SignerPolicy{automatic(allowing("a"))}, want: Approve, wantPolicy: "a"},
		{name: "either of two allows", policies: []v1alpha1.SignerPolicy{refusing("a"), allowing("b")}, want: Approve, wantPolicy: "b"},
		{name: "first allowing by name, whatever the order", policies: []v1alpha1.SignerPolicy{allowing("c"), allowing("b"), refusing("a")},
			want: Approve, wantPolicy: "b"},
		{name: "all refuse", policies: []v1alpha1.SignerPolicy{refusing("b"), refusing("a")},
			want: Deny, wantViolations: []string{"a", "b"}},
		{name: "refusals from other signers do not count", policies: []v1alpha1.SignerPolicy{refusing("a"), otherSigner(refusing("b"))},
			want: Deny, wantViolations: []string{"a"}},
		{name: "not ready waits instead of denying", policies: []v1alpha1.SignerPolicy{refusing("a"), notReady(allowing("b"))},
			want: Wait, wantViolations: []string{"a"}, wantNotReady: []string{"b"}},
		{name: "stale generation counts as not ready", policies: []v1alpha1.SignerPolicy{stale(allowing("a"))},
			want: Wait, wantNotReady: []string{"a"}},
		{name: "no Ready condition counts as not ready", policies: []v1alpha1.SignerPolicy{withoutConditions(allowing("a"))},
			want: Wait, wantNotReady: []string{"a"}},
		{name: "a ready policy allowing wins over one not ready", policies: []v1alpha1.SignerPolicy{notReady(refusing("a")), allowing("b")},
			want: Approve, wantPolicy: "b"},
		{name: "manual policy allows", policies: []v1alpha1.SignerPolicy{manual(allowing("a"))}, want: Manual, wantPolicy: "a"},
		{name: "automatic wins over manual", policies: []v1alpha1.SignerPolicy{manual(allowing("a")), allowing("b")},
			want: Approve, wantPolicy: "b"},
		{name: "manual allows while another is not ready", policies: []v1alpha1.SignerPolicy{manual(allowing("a")), notReady(allowing("b"))},
			want: Manual, wantPolicy: "a"},
		{name: "manual refuses: people decide", policies: []v1alpha1.SignerPolicy{manual(refusing("a")), refusing("b")},
			want: Manual, wantViolations: []string{"a", "b"}},
		{name: "manual refuses while another is not ready: wait", policies: []v1alpha1.SignerPolicy{manual(refusing("a")), notReady(refusing("b"))},
			want: Wait, wantViolations: []string{"a"}, wantNotReady: []string{"b"}},
		{name: "unknown mode never approves", policies: []v1alpha1.SignerPolicy{withMode(allowing("a"), "Sometimes")},
			want: Manual, wantPolicy: "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := baseRequest(t, baseTemplate())
			before := slices.Clone(tt.policies)
			d := newTestEvaluator(t).Evaluate(Policies{Cluster: tt.policies}, req)
			if d.Result != tt.want || d.Policy != tt.wantPolicy {
				t.Errorf("got %s %q, want %s %q (%s)", d.Result, d.Policy, tt.want, tt.wantPolicy, d.Message())
			}
			var got []string
			for _, v := range d.Violations {
				got = append(got, v.Policy)
				if len(v.Errors) == 0 {
					t.Errorf("violation of %q has no errors", v.Policy)
				}
			}
			if !slices.Equal(got, tt.wantViolations) {
				t.Errorf("violations from %q, want %q", got, tt.wantViolations)
			}
			if !slices.Equal(d.NotReady, tt.wantNotReady) {
				t.Errorf("not ready %q, want %q", d.NotReady, tt.wantNotReady)
			}
			for i := range before {
				if before[i].Name != tt.policies[i].Name {
					t.Fatalf("Evaluate reordered the caller's policies")
				}
			}
		})
	}
}

func withMode(p v1alpha1.SignerPolicy, mode v1alpha1.ApprovalMode) v1alpha1.SignerPolicy {
	p.Spec.Approval.Mode = mode
	return p
}
