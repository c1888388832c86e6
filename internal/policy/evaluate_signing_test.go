package policy

import (
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

// At signing, whoever approved, a CSR gets only what a Ready policy listing its requester allows.
func TestEvaluateForSigning(t *testing.T) {
	hours := func(h int) *metav1.Duration { return &metav1.Duration{Duration: time.Duration(h) * time.Hour} }
	manualForAlice := func() v1alpha1.SignerPolicy {
		p := basePolicy("narrow")
		p.Spec.Approval.Mode = v1alpha1.ApprovalManual
		p.Spec.Duration = &v1alpha1.DurationBounds{Max: hours(24)}
		p.Spec.Usages = []v1alpha1.KeyUsage{"digital signature", "server auth"}
		return p
	}
	// broadForBob allows everything alice might want, but only for bob.
	broadForBob := func() v1alpha1.SignerPolicy {
		p := basePolicy("broad")
		p.Spec.Requesters = v1alpha1.Subjects{Users: []string{"bob"}}
		p.Spec.AllowCA = true
		p.Spec.Usages = []v1alpha1.KeyUsage{"digital signature", "server auth", "client auth", "cert sign"}
		p.Spec.Allowed.DNSNames = append(p.Spec.Allowed.DNSNames, "*.other.example.com")
		p.Spec.Duration = &v1alpha1.DurationBounds{Max: hours(87600)}
		return p
	}
	tests := []struct {
		name     string
		policies []v1alpha1.SignerPolicy
		edit     func(*Request)
		want     Result
		policy   string
		lifetime time.Duration
		mention  []string
	}{
		{name: "a Manual policy's mode is set aside", policies: []v1alpha1.SignerPolicy{manualForAlice()},
			want: Approve, policy: "narrow", lifetime: 24 * time.Hour},
		{name: "a lifetime over max is clamped, not refused", policies: []v1alpha1.SignerPolicy{manualForAlice()},
			edit: func(r *Request) { r.Duration = 90 * 24 * time.Hour }, want: Approve, policy: "narrow", lifetime: 24 * time.Hour},
		{name: "a lifetime under min is refused", policies: []v1alpha1.SignerPolicy{func() v1alpha1.SignerPolicy {
			p := manualForAlice()
			p.Spec.Duration.Min = hours(2)
			return p
		}()}, edit: func(r *Request) { r.Duration = time.Hour }, want: Deny, mention: []string{"spec.duration.min"}},
		{name: "the CA flag another requester's policy allows is refused",
			policies: []v1alpha1.SignerPolicy{manualForAlice(), broadForBob()},
			edit:     func(r *Request) { r.IsCA = true }, want: Deny,
			mention: []string{`policy "broad"`, "spec.requesters", `policy "narrow"`, "spec.allowCA"}},
		{name: "a usage another requester's policy allows is refused",
			policies: []v1alpha1.SignerPolicy{manualForAlice(), broadForBob()},
			edit:     func(r *Request) { r.Usages = append(r.Usages, certificatesv1.UsageClientAuth) }, want: Deny,
			mention: []string{"spec.usages", "client auth"}},
		{name: "a name another requester's policy allows is refused",
			policies: []v1alpha1.SignerPolicy{manualForAlice(), broadForBob()},
			edit: func(r *Request) {
				tmpl := baseTemplate()
				tmpl.DNSNames = []string{"x.other.example.com"}
				r.CSR = newCSR(t, newKey(t), tmpl)
			}, want: Deny, mention: []string{"spec.allowed.dnsNames", "x.other.example.com"}},
		{name: "a system identity is refused at signing too", policies: []v1alpha1.SignerPolicy{manualForAlice()},
			edit: func(r *Request) {
				tmpl := baseTemplate()
				tmpl.Subject.CommonName = "system:masters"
				r.CSR = newCSR(t, newKey(t), tmpl)
			}, want: Deny, mention: []string{"system:masters", "spec.allowed.commonName"}},
		{name: "no governing policy", policies: nil, want: NotGoverned},
		{name: "only another signer's policy", policies: []v1alpha1.SignerPolicy{func() v1alpha1.SignerPolicy {
			p := manualForAlice()
			p.Spec.IssuerRef.Name = "other"
			return p
		}()}, want: NotGoverned},
		{name: "a policy that is not Ready is waited for", policies: []v1alpha1.SignerPolicy{withReady(manualForAlice(), metav1.ConditionFalse, 1)},
			want: Wait},
		{name: "a Ready status of an older generation is waited for", policies: []v1alpha1.SignerPolicy{func() v1alpha1.SignerPolicy {
			p := manualForAlice()
			p.Generation = 2
			return p
		}()}, want: Wait},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := baseRequest(t, baseTemplate())
			if tt.edit != nil {
				tt.edit(&req)
			}
			d := newTestEvaluator(t).EvaluateForSigning(Policies{Cluster: tt.policies}, req)
			if d.Result != tt.want || d.Policy != tt.policy || d.Lifetime != tt.lifetime {
				t.Fatalf("decision = %s by %q for %s, want %s by %q for %s; %s", d.Result, d.Policy, d.Lifetime, tt.want, tt.policy, tt.lifetime, d.Message())
			}
			for _, m := range tt.mention {
				if !strings.Contains(d.Message(), m) {
					t.Errorf("message %q does not mention %q", d.Message(), m)
				}
			}
		})
	}
}

// The same request under the same Manual policy is left to people at approval, and signed
// once a person has approved it.
func TestApprovalAndSigningShareTheChecks(t *testing.T) {
	p := basePolicy("narrow")
	p.Spec.Approval.Mode = v1alpha1.ApprovalManual
	req := baseRequest(t, baseTemplate())
	if d := newTestEvaluator(t).Evaluate(Policies{Cluster: []v1alpha1.SignerPolicy{p}}, req); d.Result != Manual || d.Policy != "narrow" {
		t.Errorf("approval: %s by %q, want Manual by narrow", d.Result, d.Policy)
	}
	if d := newTestEvaluator(t).EvaluateForSigning(Policies{Cluster: []v1alpha1.SignerPolicy{p}}, req); d.Result != Approve || d.Policy != "narrow" {
		t.Errorf("signing: %s by %q, want Approve by narrow", d.Result, d.Policy)
	}
}
