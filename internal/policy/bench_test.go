package policy

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
			if d := e.Evaluate(Policies{Cluster: policies}, req); d.Result != Approve || d.Policy != policies[n-1].Name {
				b.Fatalf("setup: got %s %q: %s", d.Result, d.Policy, d.Message())
			}
			b.ReportAllocs()
			for b.Loop() {
				e.Evaluate(Policies{Cluster: policies}, req)
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

// BenchmarkEvaluateLanguage measures the whole language in use: each policy selects service
// accounts by namespace labels and holds a CEL rule over the request and the requester. With
// others=N the other N-1 policies govern other signers, which must cost nothing; with
// rules=N all N govern this signer and refuse, so each rule runs.
func BenchmarkEvaluateLanguage(b *testing.B) {
	req := baseRequest(b, &x509.CertificateRequest{DNSNames: []string{"web.team-a.svc.cluster.local"}})
	req.Requester = Requester{Username: "system:serviceaccount:team-a:web", Groups: []string{"system:serviceaccounts:team-a"}}
	req.ServiceAccountNamespaceLabels = map[string]string{"tenant": "true", "kubernetes.io/metadata.name": "team-a"}
	e := newTestEvaluator(b)
	for _, n := range []int{1, 100, 1000} {
		for _, onThisSigner := range []bool{false, true} {
			name := fmt.Sprintf("others=%d", n)
			if onThisSigner {
				name = fmt.Sprintf("rules=%d", n)
			}
			b.Run(name, func(b *testing.B) {
				policies := make([]v1alpha1.SignerPolicy, n)
				for i := range policies {
					allows := i == n-1
					policies[i] = languagePolicy(i, allows)
					if !allows && !onThisSigner {
						policies[i].Spec.IssuerRef.Name = fmt.Sprintf("ca-%d", i)
					}
				}
				if d := e.Evaluate(Policies{Cluster: policies}, req); d.Result != Approve || d.Policy != policies[n-1].Name {
					b.Fatalf("setup: got %s %q: %s", d.Result, d.Policy, d.Message())
				}
				b.ReportAllocs()
				for b.Loop() {
					e.Evaluate(Policies{Cluster: policies}, req)
				}
			})
		}
	}
}

// languagePolicy selects team-a's service accounts by label and, unless allows, refuses through
// its CEL rule, which every policy spells differently so that each is compiled on its own.
func languagePolicy(i int, allows bool) v1alpha1.SignerPolicy {
	p := basePolicy(fmt.Sprintf("policy-%04d", i))
	p.Spec.Requesters = v1alpha1.Subjects{ServiceAccountSelectors: []v1alpha1.ServiceAccountSelector{{
		NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{"tenant": "true"}},
		Names:             []string{"web", "api-*"},
	}}}
	p.Spec.Allowed = v1alpha1.Allowed{DNSNames: []string{"$(requester.serviceAccount.name).$(requester.serviceAccount.namespace).svc.cluster.local"}}
	suffix := fmt.Sprintf(".team-%d.svc.cluster.local", i)
	if allows {
		suffix = ".svc.cluster.local"
	}
	p.Spec.Validations = []v1alpha1.Validation{{
		Rule: fmt.Sprintf("request.dnsNames.all(n, n.endsWith(%q)) && requester.serviceAccount.namespace != \"\"", suffix),
	}}
	return p
}
