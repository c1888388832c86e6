package acme_test

import (
	"crypto/x509"
	"testing"

	cmacme "github.com/cert-manager/cert-manager/pkg/apis/acme/v1"
	"github.com/miekg/dns"
)

// A wildcard and its apex are both validated over DNS-01 through the rfc2136 solver: the signer
// writes the TXT records with TSIG-signed RFC 2136 updates to the test's nameserver, which
// publishes them into pebble-challtestsrv, Pebble queries them there, and they are gone from
// both once the certificate is issued. The two records share _acme-challenge.<apex>, and lego's
// RFC 2136 provider replaces the whole RRset, so they are presented one after the other; the
// count of insertions shows both were.
func TestDNS01WildcardAndApexOverRFC2136(t *testing.T) {
	t.Parallel()
	apex := unique() + ".dns.acme.test"
	// A catch-all HTTP-01 solver first and a DNS-01 solver for the zone: dnsZones is more
	// specific, so the apex (offered both types) goes to DNS-01 too, as in cert-manager.
	spec := baseSpec(peers.pebble, httpSolver())
	iss := newIssuer(t, spec, false)
	tsig := iss.secret(t, "tsig-secret", peers.dns.TSIGSecret)
	spec.Solvers = append(spec.Solvers, cmacme.ACMEChallengeSolver{
		Selector: &cmacme.CertificateDNSNameSelector{DNSZones: []string{"dns.acme.test"}},
		DNS01: &cmacme.ACMEChallengeSolverDNS01{RFC2136: &cmacme.ACMEIssuerDNS01ProviderRFC2136{
			Nameserver: peers.dns.Addr, TSIGKeyName: peers.dns.TSIGKeyName, TSIGAlgorithm: "HMACSHA256", TSIGSecret: tsig,
		}},
	})
	updateIssuer(t, iss)

	r := request{tmpl: x509.CertificateRequest{DNSNames: []string{"*." + apex, apex}}}
	c, key := iss.submit(t, r)
	got := waitIssued(t, c)
	verifyIssued(t, got, key, iss.root(t, 0), r)

	record := "_acme-challenge." + apex
	if n := peers.dns.Inserted(record); n != 2 {
		t.Errorf("%d TXT values were written at %s, want 2 (wildcard and apex)", n, record)
	}
	if txt := peers.dns.TXT(record); len(txt) != 0 {
		t.Errorf("TXT records left at %s after issuance: %v", record, txt)
	}
	rrs, err := peers.challtestsrv.Query(t.Context(), record, dns.TypeTXT)
	if err != nil {
		t.Fatalf("querying pebble-challtestsrv: %v", err)
	}
	if len(rrs) != 0 {
		t.Errorf("pebble-challtestsrv still answers TXT %s after issuance: %v", record, rrs)
	}
}
