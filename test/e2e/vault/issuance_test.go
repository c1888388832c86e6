package vault_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"

	"github.com/signerpolicy/signer-policy-operator/internal/audit"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
	vaulttest "github.com/signerpolicy/signer-policy-operator/test/vault"
)

// TestEveryAuthMethodSignsForIssuersAndClusterIssuers gets one CSR signed per auth method and
// issuer kind, and checks the certificate field by field against the request.
func TestEveryAuthMethodSignsForIssuersAndClusterIssuers(t *testing.T) {
	t.Parallel()
	for _, cluster := range []bool{false, true} {
		for _, method := range authMethods() {
			kind := map[bool]string{false: "Issuer", true: "ClusterIssuer"}[cluster]
			t.Run(kind+"/"+method, func(t *testing.T) {
				t.Parallel()
				vi := newVaultIssuer(t, cluster, method)
				uri, _ := url.Parse("spiffe://cluster.local/ns/" + vi.ns + "/sa/web")
				tmpl := &x509.CertificateRequest{
					Subject:     pkix.Name{CommonName: "web.example.com"},
					DNSNames:    []string{"web.example.com", "api.example.com"},
					IPAddresses: []net.IP{net.ParseIP("10.0.0.7")},
					URIs:        []*url.URL{uri},
				}
				const ttl = 5 * time.Hour
				from := time.Now()
				c, key := vi.submit(t, tmpl, ttl)
				got := env.WaitForCSR(t, c.Name, wait, issued)
				leaf := verifyIssued(t, got, key, ttl, from, time.Now())

				if leaf.Subject.CommonName != "web.example.com" {
					t.Errorf("common name %q", leaf.Subject.CommonName)
				}
				if !slices.Equal(leaf.DNSNames, tmpl.DNSNames) {
					t.Errorf("DNS names %v, want %v (exclude_cn_from_sans keeps the CN out)", leaf.DNSNames, tmpl.DNSNames)
				}
				if len(leaf.IPAddresses) != 1 || !leaf.IPAddresses[0].Equal(tmpl.IPAddresses[0]) {
					t.Errorf("IP addresses %v, want %v", leaf.IPAddresses, tmpl.IPAddresses)
				}
				if len(leaf.URIs) != 1 || leaf.URIs[0].String() != uri.String() {
					t.Errorf("URIs %v, want %v", leaf.URIs, uri)
				}
				if method != authToken {
					if n := server.LoginsAt(vi.mount); n != 1 {
						t.Errorf("%d logins at %s, want 1", n, vi.mount)
					}
				}
				expectIssuedRecord(t, got, vi)
			})
		}
	}
}

// expectIssuedRecord checks that the controller wrote the governance record for the issuance.
func expectIssuedRecord(t *testing.T, c *certificatesv1.CertificateSigningRequest, vi *vaultIssuer) {
	t.Helper()
	for _, rec := range records.For(c.Name) {
		if rec.Event == audit.EventIssued && rec.Issuer != nil && rec.Issuer.Type == "Vault" && rec.Issuer.Name == vi.name && rec.Certificate != nil {
			return
		}
	}
	t.Errorf("no issued record for %s naming Vault issuer %s: %+v", c.Name, vi.name, records.For(c.Name))
}

// TestTwentyCSRsShareOneLogin submits 20 CSRs for one AppRole issuer and approves them all at
// once: the operator's workers sign them concurrently, sharing one Vault login.
func TestTwentyCSRsShareOneLogin(t *testing.T) {
	t.Parallel()
	vi := newVaultIssuer(t, false, authAppRole)
	const n = 20
	names := make([]string, n)
	for i := range n {
		key := testpki.NewKey(t, testpki.ECDSA)
		names[i] = env.SubmitCSR(t, vi.requester, harness.CSR{SignerName: vi.signerName,
			Request: testpki.RequestPEM(t, key, &x509.CertificateRequest{DNSNames: []string{"web.example.com"}})}).Name
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() { errs[i] = harness.Approve(env.Admin, name) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("approving: %v", err)
	}
	for _, name := range names {
		env.WaitForCSR(t, name, wait, issued)
	}
	if got := server.LoginsAt(vi.mount); got != 1 {
		t.Errorf("%d AppRole logins for %d CSRs, want 1", got, n)
	}
}

// TestServiceAccountTokensCarryTheIssuersAudience shows the Kubernetes login is real end to end: a
// Vault role bound to another issuer's audience refuses the operator's token after the API server
// has reviewed it.
func TestServiceAccountTokensCarryTheIssuersAudience(t *testing.T) {
	t.Parallel()
	vi := prepareVaultIssuer(t, false)
	auth, _ := vi.auth(t, authKubernetesServiceAcct)
	server.KubernetesAuth(vi.mount, "signer", vaulttest.KubernetesRole{
		BoundServiceAccountNames: []string{vi.name + "-vault"}, BoundServiceAccountNamespaces: []string{vi.ns},
		Audience: "vault://" + vi.ns + "/another-issuer", Policy: vaulttest.Policy{vi.signPath()}})
	vi.createIssuer(t, auth)
	c, _ := vi.submit(t, &x509.CertificateRequest{DNSNames: []string{"web.example.com"}}, time.Hour)
	ev := env.WaitForEvent(t, c, "ErrorLogin")
	for _, want := range []string{"Issuer " + vi.ns + "/" + vi.name, "Kubernetes login", "permission denied"} {
		if !strings.Contains(ev.Note, want) {
			t.Errorf("ErrorLogin event %q does not mention %q", ev.Note, want)
		}
	}
	expectNotFailed(t, c.Name)
}
