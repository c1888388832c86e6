package policy

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"testing"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

// BenchmarkEvaluate measures the worst case: every policy governs the signer and is Ready, and
// only the last by name allows the request, so each refusing policy is checked in full.
func BenchmarkEvaluate(b *testing.B) {
	req := baseRequest(b, &x509.CertificateRequest{
		Subject:        pkix.Name{CommonName: "web.team-a.example.com", Organization: []string{"Team A"}},
		DNSNames:       []string{"web.team-a.example.com", "web.team-a.svc.cluster.local"},
		IPAddresses:    []net.IP{net.ParseIP("10.0.0.1")},
		EmailAddresses: []string{"web@team-a.example.com"},
	})
	req.Requester.Username = "system:serviceaccount:team-a:web"
	e := newTestEvaluator(b)
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("policies=%d", n), func(b *testing.B) {
			policies := make([]v1alpha1.SignerPolicy, n)
			for i := range policies {
				policies[i] = benchmarkPolicy(i, i == n-1)
			}
			if d := e.Evaluate(policies, req); d.Result != Approve || d.Policy != policies[n-1].Name {
				b.Fatalf("setup: got %s %q: %s", d.Result, d.Policy, d.Message())
			}
			b.ReportAllocs()
			for b.Loop() {
				e.Evaluate(policies, req)
			}
		})
	}
}

// benchmarkPolicy lets the requester in but, unless allows, names a different team, so the
// refusal comes from pattern matching rather than an early cheap check.
func benchmarkPolicy(i int, allows bool) v1alpha1.SignerPolicy {
	team := fmt.Sprintf("team-%d", i)
	if allows {
		team = "team-a"
	}
	p := basePolicy(fmt.Sprintf("policy-%04d", i))
	p.Spec.Requesters = v1alpha1.Subjects{
		Users:           []string{"alice", "bob"},
		ServiceAccounts: []v1alpha1.ServiceAccountReference{{Namespace: "team-a", Name: "web"}},
	}
	p.Spec.Allowed = v1alpha1.Allowed{
		CommonName:     []string{"*." + team + ".example.com"},
		DNSNames:       []string{"*." + team + ".example.com", "$(requester.serviceAccount.name).$(requester.serviceAccount.namespace).svc.cluster.local"},
		IPAddresses:    []string{"10.0.0.0/8", "2001:db8::/32"},
		EmailAddresses: []string{"*@" + team + ".example.com"},
		Organizations:  []string{"Team A"},
	}
	return p
}
