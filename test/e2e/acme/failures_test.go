package acme_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"strings"
	"testing"

	cmacme "github.com/cert-manager/cert-manager/pkg/apis/acme/v1"
	certificatesv1 "k8s.io/api/certificates/v1"

	"github.com/signerpolicy/signer-policy-operator/internal/signer/acme"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

// failed waits for the Failed condition and returns it.
func failed(t *testing.T, c *certificatesv1.CertificateSigningRequest, reason string) *certificatesv1.CertificateSigningRequestCondition {
	t.Helper()
	got := env.WaitForCSR(t, c.Name, issueTimeout, harness.FailedWith(reason))
	return harness.Condition(got, certificatesv1.CertificateFailed)
}

// A common name that is not among the SANs fails before any order is created.
func TestCommonNameOutsideTheSANsFailsInvalidOrder(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t, baseSpec(peers.pebble, httpSolver()), false)
	name := unique() + ".acme.test"
	c, _ := iss.submit(t, request{tmpl: x509.CertificateRequest{Subject: pkix.Name{CommonName: "other.acme.test"}, DNSNames: []string{name}}})
	cond := failed(t, c, acme.ReasonInvalidOrder)
	if !strings.Contains(cond.Message, "other.acme.test") {
		t.Errorf("message %q does not name the common name", cond.Message)
	}
	if n := iss.server.Proxy.NewOrders(name); n != 0 {
		t.Errorf("%d orders created for a CSR that cannot be ordered", n)
	}
}

// An identifier Pebble refuses by policy fails the CSR with Pebble's problem detail.
func TestRejectedIdentifierFailsOrderFailed(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t, baseSpec(peers.pebble, httpSolver()), false)
	c, _ := iss.submit(t, request{tmpl: x509.CertificateRequest{DNSNames: []string{unique() + ".blocked.acme.test"}}})
	cond := failed(t, c, acme.ReasonOrderFailed)
	if !strings.Contains(cond.Message, "rejectedIdentifier") || !strings.Contains(cond.Message, "forbidden by policy") {
		t.Errorf("message %q lacks Pebble's rejectedIdentifier detail", cond.Message)
	}
}

// A webhook solver cannot run in this operator: the CSR fails naming it, without a crash.
func TestUnsupportedSolverFails(t *testing.T) {
	t.Parallel()
	spec := baseSpec(peers.pebble, cmacme.ACMEChallengeSolver{DNS01: &cmacme.ACMEChallengeSolverDNS01{
		Webhook: &cmacme.ACMEIssuerDNS01ProviderWebhook{GroupName: "acme.example.com", SolverName: "my-dns"},
	}})
	iss := newIssuer(t, spec, false)
	c, _ := iss.submit(t, request{tmpl: x509.CertificateRequest{DNSNames: []string{unique() + ".acme.test"}}})
	cond := failed(t, c, acme.ReasonUnsupportedSolver)
	if !strings.Contains(cond.Message, "webhook") {
		t.Errorf("message %q does not name the webhook solver", cond.Message)
	}
}

// Updates signed with the wrong TSIG secret are refused by the nameserver; the CSR stays
// pending with the refusal in an event, since fixing the Secret is enough.
func TestRFC2136WithAWrongTSIGSecretIsPending(t *testing.T) {
	t.Parallel()
	spec := baseSpec(peers.pebble)
	iss := newIssuer(t, spec, false)
	spec.Solvers = []cmacme.ACMEChallengeSolver{{DNS01: &cmacme.ACMEChallengeSolverDNS01{RFC2136: &cmacme.ACMEIssuerDNS01ProviderRFC2136{
		Nameserver: peers.dns.Addr, TSIGKeyName: peers.dns.TSIGKeyName, TSIGAlgorithm: "HMACSHA256",
		TSIGSecret: iss.secret(t, "tsig", "d3Jvbmcgc2VjcmV0IGZvciB0aGUgdGVzdA=="),
	}}}}
	updateIssuer(t, iss)
	c, _ := iss.submit(t, request{tmpl: x509.CertificateRequest{DNSNames: []string{"*." + unique() + ".dns.acme.test"}}})
	ev := env.WaitForEvent(t, c, acme.ReasonPresentFailed)
	// The nameserver answers NOTAUTH, signed with the key it knows, which lego's client then
	// reports as a response that fails authentication.
	if !strings.Contains(ev.Note, "NOTAUTH") && !strings.Contains(ev.Note, "bad authentication") {
		t.Errorf("event %q: want the nameserver's TSIG refusal", ev.Note)
	}
}

// A profile the directory does not offer leaves the CSR pending, naming what is offered.
func TestProfileNotOfferedIsPending(t *testing.T) {
	t.Parallel()
	spec := baseSpec(peers.pebble, httpSolver())
	spec.Profile = "tlsserver"
	iss := newIssuer(t, spec, false)
	c, _ := iss.submit(t, request{tmpl: x509.CertificateRequest{DNSNames: []string{unique() + ".acme.test"}}})
	ev := env.WaitForEvent(t, c, acme.ReasonProfileNotOffered)
	if !strings.Contains(ev.Note, "shortlived") {
		t.Errorf("event %q does not list the offered profiles", ev.Note)
	}
}
