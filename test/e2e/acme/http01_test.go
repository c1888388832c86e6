package acme_test

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/signerpolicy/signer-policy-operator/internal/audit"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/acme"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

// challengeIngresses lists the challenge Ingresses created for the CSR.
func challengeIngresses(t *testing.T, csrName string) []networkingv1.Ingress {
	t.Helper()
	var list networkingv1.IngressList
	if err := env.Admin.List(context.Background(), &list, client.InNamespace(challengeService.Namespace),
		client.MatchingLabels{acme.HTTP01SolverLabel: "true"}); err != nil {
		t.Fatalf("listing Ingresses: %v", err)
	}
	var mine []networkingv1.Ingress
	for _, ing := range list.Items {
		if ing.Annotations[acme.HTTP01CSRAnnotation] == csrName {
			mine = append(mine, ing)
		}
	}
	return mine
}

func TestHTTP01IssuesForADNSName(t *testing.T) {
	t.Parallel()
	sol := httpSolver()
	sol.HTTP01.Ingress.IngressClassName = ptr.To("nginx")
	// Long enough to see the Ingress while the challenge is presented, before Pebble is asked.
	sol.WaitInsteadOfSelfCheck = &metav1.Duration{Duration: 2 * time.Second}
	iss := newIssuer(t, baseSpec(peers.pebble, sol), false)
	name := unique() + ".http.acme.test"
	r := request{tmpl: x509.CertificateRequest{DNSNames: []string{name}}}
	c, key := iss.submit(t, r)

	harness.Eventually(t, issueTimeout, func() error {
		ings := challengeIngresses(t, c.Name)
		if len(ings) != 1 {
			return fmt.Errorf("%d challenge Ingresses for %s", len(ings), c.Name)
		}
		checkChallengeIngress(t, ings[0], name, "nginx")
		return nil
	})
	got := waitIssued(t, c)
	verifyIssued(t, got, key, iss.root(t, 0), r)

	expectHTTP01Fetches(t, iss, name)
	if ings := challengeIngresses(t, c.Name); len(ings) != 0 {
		t.Errorf("challenge Ingresses left after issuance: %v", ings[0].Name)
	}
	if got.Annotations[acme.OrderURLAnnotation] == "" || got.Annotations[acme.ChallengesAnnotation] != "" {
		t.Errorf("annotations after issuance: order %q, challenges %q; want an order URL and no challenges",
			got.Annotations[acme.OrderURLAnnotation], got.Annotations[acme.ChallengesAnnotation])
	}
	for _, reason := range []string{acme.ReasonOrderCreated, acme.ReasonChallengePresented, acme.ReasonOrderPending, "CertificateIssued"} {
		env.WaitForEvent(t, got, reason)
	}
	if n := iss.server.Proxy.NewOrders(name); n != 1 {
		t.Errorf("Pebble created %d orders for %s, want 1", n, name)
	}
	expectIssuedRecord(t, got)
}

// expectIssuedRecord checks the one governance record of the issuance: an ACME issuer, and the
// serial and fingerprint of the certificate in status.certificate.
func expectIssuedRecord(t *testing.T, c *certificatesv1.CertificateSigningRequest) {
	t.Helper()
	block, _ := pem.Decode(c.Status.Certificate)
	if block == nil {
		t.Fatal("status.certificate holds no PEM block")
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	var issued []audit.Record
	for _, rec := range records.For(c.Name) {
		if rec.Event == audit.EventIssued {
			issued = append(issued, rec)
		}
	}
	if len(issued) != 1 {
		t.Fatalf("%d %s records for %s, want 1", len(issued), audit.EventIssued, c.Name)
	}
	rec := issued[0]
	fingerprint := sha256.Sum256(leaf.Raw)
	if rec.Issuer == nil || rec.Issuer.Type != "ACME" || rec.Certificate == nil ||
		!strings.EqualFold(rec.Certificate.SHA256Fingerprint, hex.EncodeToString(fingerprint[:])) {
		t.Errorf("issued record %+v: want the ACME issuer and the certificate's SHA-256 fingerprint %x", rec, fingerprint)
	}
}

// expectHTTP01Fetches checks in Pebble's log that it fetched the key authorization over HTTP
// from host (which the test nameserver resolves to loopback, where the operator listens).
func expectHTTP01Fetches(t *testing.T, iss *acmeIssuer, host string) {
	t.Helper()
	n, err := iss.server.HTTP01Fetches(host)
	if err != nil || n == 0 {
		t.Errorf("Pebble logged %d HTTP-01 fetches from %s (%v), want some", n, host, err)
	}
}

// checkChallengeIngress checks the route: the challenge path for the host, to the operator's
// challenge Service.
func checkChallengeIngress(t *testing.T, ing networkingv1.Ingress, host, class string) {
	t.Helper()
	if ptr.Deref(ing.Spec.IngressClassName, "") != class {
		t.Errorf("ingressClassName %v, want %s", ing.Spec.IngressClassName, class)
	}
	if len(ing.Spec.Rules) != 1 || ing.Spec.Rules[0].Host != host || ing.Spec.Rules[0].HTTP == nil || len(ing.Spec.Rules[0].HTTP.Paths) != 1 {
		t.Fatalf("Ingress rules %+v, want one rule for %s", ing.Spec.Rules, host)
	}
	path := ing.Spec.Rules[0].HTTP.Paths[0]
	if !strings.HasPrefix(path.Path, "/.well-known/acme-challenge/") || path.Backend.Service == nil ||
		path.Backend.Service.Name != challengeService.Name || path.Backend.Service.Port.Number != 80 {
		t.Errorf("Ingress path %+v, want the challenge path to %s:80", path, challengeService.Name)
	}
}

// An IP address identifier is validated over HTTP-01 at the address itself; with
// enableDurationFeature the requested lifetime is sent as the order's notAfter.
func TestHTTP01IssuesForAnIPAddress(t *testing.T) {
	t.Parallel()
	spec := baseSpec(peers.pebble, httpSolver())
	spec.EnableDurationFeature = true
	iss := newIssuer(t, spec, true)
	r := request{
		tmpl:        x509.CertificateRequest{IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}},
		annotations: map[string]string{"experimental.cert-manager.io/request-duration": "2h"},
	}
	c, key := iss.submit(t, r)
	got := waitIssued(t, c)
	leaf := verifyIssued(t, got, key, iss.root(t, 0), r)[0]
	expectHTTP01Fetches(t, iss, "127.0.0.1")
	if life := time.Until(leaf.NotAfter); life < 110*time.Minute || life > 2*time.Hour {
		t.Errorf("certificate expires in %s, want about 2h (enableDurationFeature)", life.Round(time.Second))
	}
}

// The issuer's preferredChain picks the alternate chain whose top certificate was issued by
// the root with that common name.
func TestPreferredChain(t *testing.T) {
	t.Parallel()
	alternate, err := peers.pebble.Root(context.Background(), 1)
	if err != nil {
		t.Fatalf("fetching Pebble's alternate root: %v", err)
	}
	spec := baseSpec(peers.pebble, httpSolver())
	spec.PreferredChain = alternate.Subject.CommonName
	iss := newIssuer(t, spec, false)
	r := request{tmpl: x509.CertificateRequest{DNSNames: []string{unique() + ".chain.acme.test"}}}
	c, key := iss.submit(t, r)
	got := waitIssued(t, c)
	chain := verifyIssued(t, got, key, alternate, r)
	if top := chain[len(chain)-1]; top.Issuer.CommonName != alternate.Subject.CommonName {
		t.Errorf("top certificate issued by %q, want the preferred %q", top.Issuer.CommonName, alternate.Subject.CommonName)
	}
}

// spec.acme.profile selects a profile the directory offers.
func TestProfile(t *testing.T) {
	t.Parallel()
	spec := baseSpec(peers.pebble, httpSolver())
	spec.Profile = "shortlived"
	iss := newIssuer(t, spec, false)
	r := request{tmpl: x509.CertificateRequest{DNSNames: []string{unique() + ".profile.acme.test"}}}
	c, key := iss.submit(t, r)
	got := waitIssued(t, c)
	leaf := verifyIssued(t, got, key, iss.root(t, 0), r)[0]
	if life := leaf.NotAfter.Sub(leaf.NotBefore); life > 6*24*time.Hour {
		t.Errorf("certificate lives %s, want the shortlived profile's 6 days", life)
	}
}
