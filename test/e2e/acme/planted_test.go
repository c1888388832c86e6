package acme_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-acme/lego/v4/acme"
	"github.com/go-acme/lego/v4/acme/api"
	certificatesv1 "k8s.io/api/certificates/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	acmesigner "github.com/signerpolicy/signer-policy-operator/internal/signer/acme"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
	"github.com/signerpolicy/signer-policy-operator/test/pebble"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

// The attack: a requester whose policy allows only their own name creates a CSR carrying the
// signer's progress annotations, which they choose like any other annotation at creation. The
// order URL points at a server they control, which answers with an order for the CSR's own name
// whose authorization is for a victim's host; the challenge record holds a token of an order
// for the victim's host they placed with their own ACME account, with their own account's key
// authorization. If the operator trusted them, it would route the victim's host to its challenge
// server, and the challenge server would prove the attacker's control of it.
//
// Nothing of it works: before approval Pebble's validation of the attacker's challenge, which it
// fetches from the operator's challenge server, fails; after approval no Ingress routes any host
// but the CSR's own, the planted key authorization is never served, the server the order URL
// names is never contacted, and the CSR is issued through a fresh order of its own.
func TestPlantedProgressAnnotationsAreNotTrusted(t *testing.T) {
	t.Parallel()
	att := newAttacker(t, peers.pebble)
	for name, plant := range map[string]func(orderURL, records string) map[string]string{
		// What the signer wrote before its annotations were sealed.
		"plain values": func(orderURL, records string) map[string]string {
			return map[string]string{acmesigner.OrderURLAnnotation: orderURL, acmesigner.ChallengesAnnotation: records}
		},
		// The sealed format, with MACs the requester cannot compute and so makes up.
		"sealed-looking values": func(orderURL, records string) map[string]string {
			return map[string]string{
				acmesigner.OrderURLAnnotation:   fmt.Sprintf(`{"url":%q,"mac":"%s"}`, orderURL, strings.Repeat("A", 43)),
				acmesigner.ChallengesAnnotation: fmt.Sprintf(`{"records":%s,"mac":"%s"}`, records, strings.Repeat("A", 43)),
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			own := unique() + ".planted.acme.test"
			victim := unique() + ".victim.acme.test"
			ch, authzURL := att.challenge(t, victim)
			evil := newEvilACME(t, own, victim, ch.Token)
			spec := baseSpec(peers.pebble, httpSolver())
			// The issuer trusts the attacker's server as a public root would trust any server with
			// a certificate: only the signer's own checks keep it from following the planted URL.
			spec.CABundle = append(slices.Clone(spec.CABundle), evil.caPEM...)
			iss := newIssuer(t, spec, false)

			key := testpki.NewKey(t, testpki.ECDSA)
			r := request{tmpl: x509.CertificateRequest{DNSNames: []string{own}}}
			c := env.SubmitCSR(t, iss.requester, harness.CSR{
				SignerName: iss.signerName, Request: testpki.RequestPEM(t, key, &r.tmpl),
				Annotations: plant(evil.srv.URL+"/order/1", att.plantedRecords(t, authzURL, ch, victim)),
			})
			expectNotServed(t, ch.Token)
			if status := att.validate(t, ch, authzURL); status != acme.StatusInvalid {
				t.Fatalf("Pebble validated the attacker's challenge for %s through the operator: authorization %s", victim, status)
			}
			if n, err := peers.pebble.HTTP01Fetches(victim); err != nil || n == 0 {
				t.Errorf("Pebble logged %d HTTP-01 fetches from %s (%v); the attack was not tried", n, victim, err)
			}

			harness.ApproveEventually(t, 10*time.Second, env.Admin, c.Name)
			got := watchUntilIssued(t, c, own, victim, ch.Token)
			verifyIssued(t, got, key, iss.root(t, 0), r)
			if n := evil.requests(); n != 0 {
				t.Errorf("the server named by the planted order URL got %d requests", n)
			}
			if n := iss.server.Proxy.NewOrders(own); n != 1 {
				t.Errorf("Pebble created %d orders for %s, want 1", n, own)
			}
			ev := env.WaitForEvent(t, got, acmesigner.ReasonProgressAnnotationIgnored)
			for _, key := range []string{acmesigner.OrderURLAnnotation, acmesigner.ChallengesAnnotation} {
				if !strings.Contains(ev.Note, key) {
					t.Errorf("%s event %q does not name %s", ev.Reason, ev.Note, key)
				}
			}
			if v := got.Annotations[acmesigner.OrderURLAnnotation]; !strings.Contains(v, iss.server.Proxy.URL) || strings.Contains(v, evil.srv.URL) {
				t.Errorf("order URL annotation %q, want Pebble's order", v)
			}
			if v := got.Annotations[acmesigner.ChallengesAnnotation]; v != "" {
				t.Errorf("challenges annotation %q after issuance, want none", v)
			}
		})
	}
}

// The challenge server's own rule, end to end: planted records stay on approved CSRs whose signer
// never gets to their progress (the issuer's account cannot register: a wrong EAB key), and still
// the challenge server refuses them: a plain record as the signer stored them before sealing, and
// a sealed-looking one, which the index finds but which does not open with the issuer's account
// key.
func TestPlantedChallengeRecordOnAnApprovedCSRIsNotServed(t *testing.T) {
	t.Parallel()
	att := newAttacker(t, peers.pebble)
	victim := unique() + ".victim.acme.test"
	ch, authzURL := att.challenge(t, victim)
	iss := eabIssuer(t, eabKeyID, base64.RawURLEncoding.EncodeToString([]byte("not the HMAC key Pebble knows for kid-1")), "")
	plain := att.plantedRecords(t, authzURL, ch, victim)
	for _, records := range []string{plain, fmt.Sprintf(`{"records":%s,"mac":"%s"}`, plain, strings.Repeat("A", 43))} {
		c, _ := iss.submit(t, request{
			tmpl:        x509.CertificateRequest{DNSNames: []string{unique() + ".planted.acme.test"}},
			annotations: map[string]string{acmesigner.ChallengesAnnotation: records},
		})
		env.WaitForEvent(t, c, acmesigner.ReasonAccountRegistrationFailed)
		var held certificatesv1.CertificateSigningRequest
		if err := env.Admin.Get(context.Background(), client.ObjectKeyFromObject(c), &held); err != nil {
			t.Fatal(err)
		}
		if harness.Condition(&held, certificatesv1.CertificateApproved) == nil || held.Annotations[acmesigner.ChallengesAnnotation] != records {
			t.Fatalf("want the CSR approved with the planted record still on it; conditions %+v, challenges %q",
				held.Status.Conditions, held.Annotations[acmesigner.ChallengesAnnotation])
		}
	}

	expectNotServed(t, ch.Token)
	if status := att.validate(t, ch, authzURL); status != acme.StatusInvalid {
		t.Fatalf("Pebble validated the attacker's challenge for %s through the operator: authorization %s", victim, status)
	}
	if n, err := peers.pebble.HTTP01Fetches(victim); err != nil || n == 0 {
		t.Errorf("Pebble logged %d HTTP-01 fetches from %s (%v); the attack was not tried", n, victim, err)
	}
}

// watchUntilIssued waits for the CSR's certificate, checking all along that no challenge Ingress
// routes a host other than own (victim's above all) and that the planted token is not served.
func watchUntilIssued(t *testing.T, c *certificatesv1.CertificateSigningRequest, own, victim, token string) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	return waitIssuedWatching(t, c, 50*time.Millisecond, func() {
		var list networkingv1.IngressList
		if err := env.Admin.List(context.Background(), &list, client.InNamespace(challengeService.Namespace),
			client.MatchingLabels{acmesigner.HTTP01SolverLabel: "true"}); err != nil {
			t.Fatalf("listing Ingresses: %v", err)
		}
		for _, ing := range list.Items {
			for _, rule := range ing.Spec.Rules {
				if rule.Host == victim || ing.Annotations[acmesigner.HTTP01CSRAnnotation] == c.Name && rule.Host != own {
					t.Fatalf("challenge Ingress %s routes %s for CSR %s, which requests only %s", ing.Name, rule.Host, ing.Annotations[acmesigner.HTTP01CSRAnnotation], own)
				}
			}
		}
		expectNotServed(t, token)
	})
}

// expectNotServed asks the operator's challenge server for token, as Pebble would.
func expectNotServed(t *testing.T, token string) {
	t.Helper()
	resp, err := http.Get("http://" + peers.http01Addr + "/.well-known/acme-challenge/" + token)
	if err != nil {
		t.Fatalf("asking the challenge server: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the challenge server answered %s with %q for a planted token, want 404", resp.Status, body)
	}
}

// attacker is an ACME client with an account of its own at Pebble, as a requester wanting a
// certificate for someone else's name would have.
type attacker struct {
	core       *api.Core
	thumbprint string
}

func newAttacker(t *testing.T, server *pebble.Server) *attacker {
	t.Helper()
	key := testpki.NewKey(t, testpki.ECDSA)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(server.CABundle)
	httpClient := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}
	core, err := api.New(httpClient, "attacker", server.DirectoryURL, "", key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := core.Accounts.New(acme.Account{TermsOfServiceAgreed: true}); err != nil {
		t.Fatalf("registering the attacker's account: %v", err)
	}
	return &attacker{core: core, thumbprint: pebble.Thumbprint(key.Public())}
}

// challenge orders name and returns the HTTP-01 challenge of its authorization and the
// authorization's URL.
func (a *attacker) challenge(t *testing.T, name string) (acme.Challenge, string) {
	t.Helper()
	order, err := a.core.Orders.New([]string{name})
	if err != nil {
		t.Fatalf("the attacker's order for %s: %v", name, err)
	}
	authz, err := a.core.Authorizations.Get(order.Authorizations[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range authz.Challenges {
		if ch.Type == "http-01" {
			return ch, order.Authorizations[0]
		}
	}
	t.Fatalf("Pebble offers no HTTP-01 challenge for %s", name)
	return acme.Challenge{}, ""
}

// plantedRecords is a challenge record list as the signer stored it before sealing, for the
// attacker's challenge and with the attacker's key authorization.
func (a *attacker) plantedRecords(t *testing.T, authzURL string, ch acme.Challenge, victim string) string {
	t.Helper()
	data, err := json.Marshal([]map[string]any{{
		"authz": authzURL, "url": ch.URL, "type": "http-01", "identifier": victim, "token": ch.Token,
		"keyAuthorization": ch.Token + "." + a.thumbprint, "solver": 0, "presentedAt": time.Now().UTC(),
	}})
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// validate asks Pebble to validate the challenge and returns the authorization's status once
// Pebble has decided.
func (a *attacker) validate(t *testing.T, ch acme.Challenge, authzURL string) string {
	t.Helper()
	if _, err := a.core.Challenges.New(ch.URL); err != nil {
		t.Fatalf("asking Pebble to validate the attacker's challenge: %v", err)
	}
	var status string
	harness.Eventually(t, issueTimeout, func() error {
		authz, err := a.core.Authorizations.Get(authzURL)
		if err != nil {
			return err
		}
		if status = authz.Status; status == acme.StatusPending || status == acme.StatusProcessing {
			return fmt.Errorf("the attacker's authorization is %s", status)
		}
		return nil
	})
	return status
}

// evilACME is the server the planted order URL names. Had the signer followed the URL, it would
// have found an order for the CSR's own name whose authorization is for the victim's host, with
// the attacker's challenge token. It counts the requests it gets, which must stay at none.
type evilACME struct {
	srv   *httptest.Server
	caPEM []byte

	mu   sync.Mutex
	hits int
}

func newEvilACME(t *testing.T, own, victim, token string) *evilACME {
	t.Helper()
	e := &evilACME{}
	e.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.hits++
		e.mu.Unlock()
		w.Header().Set("Replay-Nonce", "nonce")
		w.Header().Set("Content-Type", "application/json")
		var body any = acme.Order{
			Status: acme.StatusPending, Identifiers: []acme.Identifier{{Type: "dns", Value: own}},
			Authorizations: []string{e.srv.URL + "/authz/1"}, Finalize: e.srv.URL + "/finalize/1",
		}
		if r.URL.Path == "/authz/1" {
			body = acme.Authorization{Status: acme.StatusPending, Identifier: acme.Identifier{Type: "dns", Value: victim},
				Challenges: []acme.Challenge{{Type: "http-01", URL: e.srv.URL + "/chall/1", Token: token, Status: acme.StatusPending}}}
		}
		_ = json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(e.srv.Close)
	e.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.srv.Certificate().Raw})
	return e
}

func (e *evilACME) requests() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.hits
}
