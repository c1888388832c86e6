package acme

import (
	"context"
	"testing"

	cmacme "github.com/cert-manager/cert-manager/pkg/apis/acme/v1"
	"github.com/go-acme/lego/v4/acme"
)

func httpOnly(sel *cmacme.CertificateDNSNameSelector) cmacme.ACMEChallengeSolver {
	return cmacme.ACMEChallengeSolver{Selector: sel, HTTP01: &cmacme.ACMEChallengeSolverHTTP01{}}
}

func dnsOnly(sel *cmacme.CertificateDNSNameSelector, nameserver string) cmacme.ACMEChallengeSolver {
	return cmacme.ACMEChallengeSolver{Selector: sel, DNS01: &cmacme.ACMEChallengeSolverDNS01{
		RFC2136: &cmacme.ACMEIssuerDNS01ProviderRFC2136{Nameserver: nameserver},
	}}
}

func authzFor(value string, wildcard bool, types ...string) acme.Authorization {
	a := acme.Authorization{Identifier: acme.Identifier{Type: "dns", Value: value}, Wildcard: wildcard}
	for _, typ := range types {
		a.Challenges = append(a.Challenges, acme.Challenge{Type: typ, URL: "https://acme/chal/" + typ, Token: "tok-" + typ})
	}
	return a
}

// The precedence is cert-manager's: dnsNames over dnsZones over matchLabels, the longest zone,
// the most labels, and the first among equals; a solver needs a challenge type on offer.
func TestPickSolver(t *testing.T) {
	labels := map[string]string{"team": "a", "env": "prod"}
	tests := map[string]struct {
		solvers  []cmacme.ACMEChallengeSolver
		authz    acme.Authorization
		wantIdx  int
		wantType string
		wantNone bool
	}{
		"first catch-all wins among equals": {
			solvers: []cmacme.ACMEChallengeSolver{httpOnly(nil), dnsOnly(nil, "ns2")},
			authz:   authzFor("a.example.com", false, "http-01", "dns-01"), wantIdx: 0, wantType: "http-01",
		},
		"a selector match beats the catch-all": {
			solvers: []cmacme.ACMEChallengeSolver{httpOnly(nil), dnsOnly(&cmacme.CertificateDNSNameSelector{DNSZones: []string{"example.com"}}, "ns")},
			authz:   authzFor("a.example.com", false, "http-01", "dns-01"), wantIdx: 1, wantType: "dns-01",
		},
		"dnsNames beat dnsZones": {
			solvers: []cmacme.ACMEChallengeSolver{
				dnsOnly(&cmacme.CertificateDNSNameSelector{DNSZones: []string{"a.example.com"}}, "zone"),
				httpOnly(&cmacme.CertificateDNSNameSelector{DNSNames: []string{"a.example.com"}}),
			},
			authz: authzFor("a.example.com", false, "http-01", "dns-01"), wantIdx: 1, wantType: "http-01",
		},
		"the longest zone wins": {
			solvers: []cmacme.ACMEChallengeSolver{
				dnsOnly(&cmacme.CertificateDNSNameSelector{DNSZones: []string{"example.com"}}, "short"),
				dnsOnly(&cmacme.CertificateDNSNameSelector{DNSZones: []string{"sub.example.com"}}, "long"),
			},
			authz: authzFor("a.sub.example.com", false, "dns-01"), wantIdx: 1, wantType: "dns-01",
		},
		"more matching labels win": {
			solvers: []cmacme.ACMEChallengeSolver{
				httpOnly(&cmacme.CertificateDNSNameSelector{MatchLabels: map[string]string{"team": "a"}}),
				dnsOnly(&cmacme.CertificateDNSNameSelector{MatchLabels: map[string]string{"team": "a", "env": "prod"}}, "ns"),
			},
			authz: authzFor("a.example.com", false, "http-01", "dns-01"), wantIdx: 1, wantType: "dns-01",
		},
		"labels that do not match exclude": {
			solvers: []cmacme.ACMEChallengeSolver{httpOnly(&cmacme.CertificateDNSNameSelector{MatchLabels: map[string]string{"team": "b"}})},
			authz:   authzFor("a.example.com", false, "http-01"), wantNone: true,
		},
		"a wildcard only offers dns-01": {
			solvers: []cmacme.ACMEChallengeSolver{httpOnly(nil), dnsOnly(nil, "ns")},
			authz:   authzFor("example.com", true, "dns-01"), wantIdx: 1, wantType: "dns-01",
		},
		"a wildcard dnsNames selector names the wildcard": {
			solvers: []cmacme.ACMEChallengeSolver{
				dnsOnly(nil, "any"),
				dnsOnly(&cmacme.CertificateDNSNameSelector{DNSNames: []string{"*.example.com"}}, "wild"),
			},
			authz: authzFor("example.com", true, "dns-01"), wantIdx: 1, wantType: "dns-01",
		},
		"no solver of an offered type": {
			solvers: []cmacme.ACMEChallengeSolver{httpOnly(nil)},
			authz:   authzFor("example.com", true, "dns-01"), wantNone: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			idx, ch, ok := pickSolver(context.Background(), tc.solvers, tc.authz, labels)
			if tc.wantNone {
				if ok {
					t.Fatalf("picked solver %d, want none", idx)
				}
				return
			}
			if !ok || idx != tc.wantIdx || ch.Type != tc.wantType {
				t.Fatalf("picked %d (%v, %v), want %d with %s", idx, ch, ok, tc.wantIdx, tc.wantType)
			}
		})
	}
}
