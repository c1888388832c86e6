package policy

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

// TestResponsible: a decision names the policy it is about, the one a metric labels it with:
// the allowing policy, else the first refusing policy that names the requester, else none.
func TestResponsible(t *testing.T) {
	evil := &x509.CertificateRequest{Subject: pkix.Name{CommonName: "web.team-a.example.com"}, DNSNames: []string{"evil.com"}}
	tests := []struct {
		name     string
		policies []v1alpha1.SignerPolicy
		template *x509.CertificateRequest
		result   Result
		want     string
	}{
		{name: "not governed", result: NotGoverned, want: ""},
		{name: "approved: the allowing policy", policies: []v1alpha1.SignerPolicy{refusing("a-bob-only"), allowing("web")}, result: Approve, want: "web"},
		{name: "denied: the policy that names the requester, though another sorts first",
			policies: []v1alpha1.SignerPolicy{refusing("a-bob-only"), allowing("web")}, template: evil, result: Deny, want: "web"},
		{name: "denied by policies none of which names the requester", policies: []v1alpha1.SignerPolicy{refusing("a-bob-only")}, result: Deny, want: ""},
		{name: "manual, allowed: the allowing policy", policies: []v1alpha1.SignerPolicy{manual(allowing("web"))}, result: Manual, want: "web"},
		{name: "manual, refused: the policy that names the requester", policies: []v1alpha1.SignerPolicy{manual(allowing("web"))}, template: evil,
			result: Manual, want: "web"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			template := tt.template
			if template == nil {
				template = baseTemplate()
			}
			d := newTestEvaluator(t).Evaluate(Policies{Cluster: tt.policies}, baseRequest(t, template))
			if d.Result != tt.result {
				t.Fatalf("result %s, want %s (%s)", d.Result, tt.result, d.Message())
			}
			if got := d.Responsible(); got != tt.want {
				t.Errorf("Responsible() = %q, want %q (%s)", got, tt.want, d.Message())
			}
		})
	}
}
