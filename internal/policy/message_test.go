package policy

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"strings"
	"testing"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

func TestMessage(t *testing.T) {
	evil := &x509.CertificateRequest{Subject: pkix.Name{CommonName: "web.team-a.example.com"}, DNSNames: []string{"evil.com"}}
	evilAndShort := &x509.CertificateRequest{Subject: pkix.Name{CommonName: "evil.com"}, DNSNames: []string{"evil.com"}}
	tests := []struct {
		name     string
		policies []v1alpha1.SignerPolicy
		template *x509.CertificateRequest
		want     []string
		notWant  []string
	}{
		{name: "not governed", want: []string{"no SignerPolicy governs"}},
		{name: "approved names the policy", policies: []v1alpha1.SignerPolicy{allowing("web")},
			want: []string{`approved by SignerPolicy "web"`}},
		{name: "denied lists each policy's field errors, the requester's own policy first", policies: []v1alpha1.SignerPolicy{refusing("a-bob-only"), allowing("web")},
			template: evil,
			want: []string{
				"denied: no SignerPolicy allows this request:\n" +
					`- policy "web": spec.allowed.dnsNames: Invalid value: "evil.com": matches none of the allowed patterns` + "\n" +
					`- policy "a-bob-only": spec.requesters: Forbidden: "alice" is not a listed user`,
			},
			// A policy that does not name the requester says only that.
			notWant: []string{`policy "a-bob-only": [`}},
		{name: "manual allowing names the policy", policies: []v1alpha1.SignerPolicy{manual(allowing("web"))},
			want: []string{`SignerPolicy "web" allows`, "manual"}},
		{name: "one error per line", policies: []v1alpha1.SignerPolicy{allowing("web")}, template: evilAndShort,
			want: []string{"\n- policy \"web\": spec.allowed.dnsNames", "\n- policy \"web\": spec.allowed.commonName"}, notWant: []string{"[", ", spec."}},
		{name: "manual refusing lists field errors", policies: []v1alpha1.SignerPolicy{manual(allowing("web"))}, template: evil,
			want: []string{"manual", `policy "web": spec.allowed.dnsNames: Invalid value: "evil.com"`}},
		{name: "wait names the policies not ready", policies: []v1alpha1.SignerPolicy{notReady(allowing("b")), stale(allowing("a"))},
			want: []string{`waiting for policy "a", "b" to become Ready`}, notWant: []string{"denied"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			template := tt.template
			if template == nil {
				template = baseTemplate()
			}
			msg := newTestEvaluator(t).Evaluate(Policies{Cluster: tt.policies}, baseRequest(t, template)).Message()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q\ndoes not contain %q", msg, w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(msg, w) {
					t.Errorf("message %q\ncontains %q", msg, w)
				}
			}
		})
	}
}

func TestMessageListsAtMostTenPolicies(t *testing.T) {
	var policies []v1alpha1.SignerPolicy
	for i := range 15 {
		policies = append(policies, refusing(fmt.Sprintf("p%02d", i)))
	}
	msg := newTestEvaluator(t).Evaluate(Policies{Cluster: policies}, baseRequest(t, baseTemplate())).Message()
	if !strings.Contains(msg, `policy "p09"`) || strings.Contains(msg, `policy "p10"`) || !strings.Contains(msg, "and 5 more policies") {
		t.Errorf("message %q does not list exactly the first ten policies", msg)
	}
}
