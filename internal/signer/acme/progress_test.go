package acme

import (
	"context"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	cmacme "github.com/cert-manager/cert-manager/pkg/apis/acme/v1"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/signertest"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

// orderFixture is a signer with an account key Secret, an issuer of a fake ACME server with an
// http01.ingress solver, and an approved request for web.example.com.
type orderFixture struct {
	acme   *fakeACME
	evil   *evilServer
	kube   client.Client
	signer *Signer
	issuer *cmapi.Issuer
	req    signer.Request
}

func newOrderFixture(t *testing.T) *orderFixture {
	t.Helper()
	f := &orderFixture{acme: newFakeACME(t), evil: newEvilServer(t)}
	f.kube = fake.NewClientBuilder().WithObjects(accountSecret(t, testpki.KeyPEM(t, testpki.NewKey(t, testpki.ECDSA)))).Build()
	f.signer = f.newSigner()
	// The evil server's certificate is the fake server's, so the signer would reach it: what
	// keeps it away is the signer's own checks, not TLS.
	f.issuer = acmeIssuer(func(a *cmacme.ACMEIssuer) {
		a.Server, a.CABundle = f.acme.directory(), f.acme.caBundle()
		a.Solvers = []cmacme.ACMEChallengeSolver{{HTTP01: &cmacme.ACMEChallengeSolverHTTP01{Ingress: &cmacme.ACMEChallengeSolverHTTP01Ingress{}}}}
	})
	f.req = acmeRequest(t, f.issuer, &x509.CertificateRequest{DNSNames: []string{"web.example.com"}})
	return f
}

// newSigner is a signer with nothing in memory, as after a restart.
func (f *orderFixture) newSigner() *Signer {
	return NewSigner(Options{Client: f.kube, Secrets: f.kube, HTTP01Service: types.NamespacedName{Namespace: "operator", Name: "acme-http01"}})
}

func (f *orderFixture) sign(t *testing.T) error {
	t.Helper()
	chain, err := f.signer.Sign(context.Background(), f.req)
	if chain != nil {
		t.Fatalf("Sign returned a chain: %s", chain)
	}
	return err
}

// stored are the annotations the signer wrote.
func (f *orderFixture) stored() map[string]string {
	return f.req.Progress.(*signertest.Progress).Annotations()
}

// sealer is the operator's sealer for the request, built the way the challenge server builds it.
func (f *orderFixture) sealer(t *testing.T) sealer {
	t.Helper()
	seal, ok, err := f.signer.sealerFor(context.Background(), f.req.CSR, f.issuer, testNamespace)
	if err != nil || !ok {
		t.Fatalf("sealer: %v, %v", ok, err)
	}
	return seal
}

func (f *orderFixture) ingresses(t *testing.T) []networkingv1.Ingress {
	t.Helper()
	var list networkingv1.IngressList
	if err := f.kube.List(context.Background(), &list); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// A requester chooses a CSR's annotations when creating it. Whatever they plant in the progress
// annotations (a plain order URL, a sealed-looking one with a made-up MAC, a value the operator
// sealed for another CSR, challenge records with their own key authorization) is ignored and
// cleared, the server they name is never contacted, and the CSR gets a fresh order of its own.
func TestUnsealedProgressIsIgnoredClearedAndNeverFollowed(t *testing.T) {
	planted := `[{"authz":"EVIL/authz/victim","url":"EVIL/chall/victim","type":"http-01","identifier":"victim.bank.example","token":"planted","keyAuthorization":"planted.attacker-thumbprint","solver":0}]`
	for name, annotations := range map[string]func(t *testing.T, f *orderFixture, evil string) map[string]string{
		"plain values, as before sealing": func(_ *testing.T, _ *orderFixture, evil string) map[string]string {
			return map[string]string{OrderURLAnnotation: evil + "/order/1", ChallengesAnnotation: strings.ReplaceAll(planted, "EVIL", evil)}
		},
		"sealed-looking values with made-up MACs": func(_ *testing.T, _ *orderFixture, evil string) map[string]string {
			return map[string]string{
				OrderURLAnnotation:   `{"url":"` + evil + `/order/1","mac":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`,
				ChallengesAnnotation: `{"records":` + strings.ReplaceAll(planted, "EVIL", evil) + `,"mac":"AAAA"}`,
			}
		},
		"values the operator sealed for another CSR": func(t *testing.T, f *orderFixture, evil string) map[string]string {
			other := f.sealer(t)
			other.csrUID = "another-csr"
			recs, err := other.challenges([]challengeRecord{{Authz: evil + "/authz/victim", URL: evil + "/chall/victim", Type: "http-01", Identifier: "victim.bank.example", Token: "planted"}})
			if err != nil {
				t.Fatal(err)
			}
			return map[string]string{OrderURLAnnotation: other.orderURL(evil + "/order/1"), ChallengesAnnotation: recs}
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newOrderFixture(t)
			f.acme.authorize("dns", "web.example.com", false, "tok", "")
			f.req.CSR.Annotations = annotations(t, f, f.evil.srv.URL)

			err := f.sign(t)
			signertest.ExpectPending(t, err, ReasonProgressAnnotationIgnored)
			for _, key := range []string{OrderURLAnnotation, ChallengesAnnotation} {
				if v, ok := f.stored()[key]; !ok || v != "" {
					t.Errorf("%s: stored %q (written %t), want it cleared", key, v, ok)
				}
				if !strings.Contains(err.Error(), key) {
					t.Errorf("the report %q does not name %s", err, key)
				}
			}
			// As the controller hands the CSR back once the clearing is in the cache.
			f.req.CSR.Annotations = f.stored()
			signertest.ExpectPending(t, f.sign(t), ReasonOrderCreated)
			if url, ok := f.sealer(t).openOrderURL(f.stored()[OrderURLAnnotation]); !ok || url != f.acme.srv.URL+"/order/1" {
				t.Errorf("order URL %q (opens: %t), want the fake server's new order", url, ok)
			}
			f.req.CSR.Annotations = f.stored()
			signertest.ExpectPending(t, f.sign(t), ReasonChallengePresented)
			if n := f.evil.requests(); n != 0 {
				t.Errorf("the server named by the planted annotations got %d requests", n)
			}
			if n := f.acme.orders(); n != 1 {
				t.Errorf("%d orders created, want 1", n)
			}
			for _, ing := range f.ingresses(t) {
				if host := ing.Spec.Rules[0].Host; host != "web.example.com" {
					t.Errorf("a challenge Ingress routes %s", host)
				}
			}
		})
	}
}

// Defence in depth: even an order URL that opens (this process's memory, or a sealed value of a
// server that moved) is not followed off the issuer's server, nor is a new order's Location.
func TestOrderURLOffTheIssuersServerFailsInvalidOrder(t *testing.T) {
	t.Run("sealed annotation", func(t *testing.T) {
		f := newOrderFixture(t)
		f.req.CSR.Annotations = map[string]string{OrderURLAnnotation: f.sealer(t).orderURL(f.evil.srv.URL + "/order/1")}
		err := f.sign(t)
		signertest.ExpectPermanent(t, err, ReasonInvalidOrder)
		if !strings.Contains(err.Error(), f.evil.srv.URL) || !strings.Contains(err.Error(), "not on the issuer's ACME server") {
			t.Errorf("message %q does not name the URL and the rule", err)
		}
		if n := f.evil.requests(); n != 0 {
			t.Errorf("the foreign order URL got %d requests", n)
		}
	})
	t.Run("new order's Location", func(t *testing.T) {
		f := newOrderFixture(t)
		f.acme.location = f.evil.srv.URL + "/order/1"
		signertest.ExpectPermanent(t, f.sign(t), ReasonInvalidOrder)
		if v := f.stored()[OrderURLAnnotation]; v != "" {
			t.Errorf("stored the foreign order URL: %s", v)
		}
		if n := f.evil.requests(); n != 0 {
			t.Errorf("the foreign order URL got %d requests", n)
		}
	})
}

// An order whose authorizations ask to validate a name the CSR does not request (the policy
// approved the CSR's names, nothing else), or whose challenge is to be posted off the issuer's
// server, fails before anything is presented for any of its authorizations: no Ingress, no
// challenge record, no validation asked.
func TestAuthorizationOutsideTheCSRFailsInvalidOrderBeforePresenting(t *testing.T) {
	for name, tc := range map[string]struct {
		typ, value string
		wildcard   bool
		// challengeURL, when set, replaces the server's own challenge URL ("EVIL" is the evil server).
		challengeURL, want string
	}{
		"another tenant's host":   {typ: "dns", value: "victim.bank.example", want: "victim.bank.example"},
		"a wildcard not asked":    {typ: "dns", value: "example.com", wildcard: true, want: "*.example.com"},
		"the name as an IP":       {typ: "ip", value: "web.example.com", want: "web.example.com"},
		"an IP address not asked": {typ: "ip", value: "10.0.0.1", want: "10.0.0.1"},
		"a challenge elsewhere":   {typ: "dns", value: "web.example.com", challengeURL: "EVIL/chall/x", want: "/chall/x"},
	} {
		t.Run(name, func(t *testing.T) {
			f := newOrderFixture(t)
			if tc.challengeURL == "" {
				f.acme.authorize("dns", "web.example.com", false, "tokweb", "")
			}
			f.acme.authorize(tc.typ, tc.value, tc.wildcard, "tokother", strings.ReplaceAll(tc.challengeURL, "EVIL", f.evil.srv.URL))
			signertest.ExpectPending(t, f.sign(t), ReasonOrderCreated)
			err := f.sign(t)
			signertest.ExpectPermanent(t, err, ReasonInvalidOrder)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("message %q does not name %s", err, tc.want)
			}
			if ings := f.ingresses(t); len(ings) != 0 {
				t.Errorf("%d challenge Ingresses created, the first for %q", len(ings), ings[0].Spec.Rules[0].Host)
			}
			if v := f.stored()[ChallengesAnnotation]; v != "" {
				t.Errorf("challenge records stored: %s", v)
			}
			if n := f.acme.postedUnder("/chall/") + f.evil.requests(); n != 0 {
				t.Errorf("%d validations asked", n)
			}
		})
	}
}

// A signer with nothing in memory (a restarted operator) resumes the order and the challenges an
// earlier one sealed on the CSR: no new order, no report, and it asks the server to validate the
// challenge presented before the restart.
func TestANewSignerResumesTheSealedOrder(t *testing.T) {
	f := newOrderFixture(t)
	f.acme.authorize("dns", "web.example.com", false, "tok", "")
	signertest.ExpectPending(t, f.sign(t), ReasonOrderCreated)
	f.req.CSR.Annotations = f.stored()
	signertest.ExpectPending(t, f.sign(t), ReasonChallengePresented)
	if recs, ok := f.sealer(t).openChallenges(f.stored()[ChallengesAnnotation]); !ok || len(recs) != 1 || recs[0].Token != "tok" {
		t.Fatalf("stored challenges %+v (open: %t)", recs, ok)
	}

	f.signer = f.newSigner()
	f.req.CSR.Annotations = f.stored()
	err := f.sign(t)
	if pe, ok := signer.AsPending(err); !ok || pe.Reason == ReasonProgressAnnotationIgnored || pe.Reason == ReasonOrderCreated {
		t.Fatalf("after the restart: %v, want the order resumed", err)
	}
	if n := f.acme.orders(); n != 1 {
		t.Errorf("%d orders created, want 1", n)
	}
	if n := f.acme.postedUnder("/chall/tok"); n != 1 {
		t.Errorf("asked to validate the resumed challenge %d times, want once", n)
	}
}

// The key authorization the signer computes, and the challenge server serves, is lego's.
func TestKeyAuthorizationIsLegos(t *testing.T) {
	f := newOrderFixture(t)
	acct, err := f.signer.account(context.Background(), f.issuer, testNamespace)
	if err != nil {
		t.Fatal(err)
	}
	want, err := acct.core.GetKeyAuthorization("tok")
	if err != nil {
		t.Fatal(err)
	}
	if got := acct.keys.keyAuthorization("tok"); got != want {
		t.Errorf("key authorization %q, lego's %q", got, want)
	}
	if got := f.sealer(t).keys.keyAuthorization("tok"); got != want {
		t.Errorf("the challenge server's key authorization %q, lego's %q", got, want)
	}
}

// Cleanup deletes DNS records and Ingresses by name, so even a sealed record is cleaned up only
// for a name the CSR requests.
func TestCleanUpOnlyForTheCSRsNames(t *testing.T) {
	f := newOrderFixture(t)
	run := &orderRun{s: f.signer, req: f.req, spec: f.issuer.Spec.ACME, st: &orderState{}}
	for _, rec := range []challengeRecord{
		{Type: "dns-01", Identifier: "victim.bank.example", Token: "t1"},
		{Type: "dns-01", Identifier: "example.com", Wildcard: true, Token: "t2"},
		{Type: "http-01", Identifier: "10.0.0.1", Token: "t3"},
	} {
		if err := run.cleanUpRecord(context.Background(), rec); err == nil || !strings.Contains(err.Error(), "not for a name this CSR requests") {
			t.Errorf("cleaning up %+v: %v", rec, err)
		}
	}
}

// The state store rebuilds a state made under another account binding from the annotations,
// which then open only with that binding's keys.
func TestStateStoreRebuildsForAnotherAccount(t *testing.T) {
	f := newOrderFixture(t)
	seal := f.sealer(t)
	f.req.CSR.Annotations = map[string]string{OrderURLAnnotation: seal.orderURL("https://acme.example/order/1")}
	var s stateStore
	now := time.Now()
	if st := s.load(f.req.CSR, now, seal, "binding-1"); st.orderURL != "https://acme.example/order/1" || len(st.ignored) != 0 {
		t.Fatalf("state %+v", st)
	}
	other := seal
	other.server = "https://elsewhere.example/directory"
	st := s.load(f.req.CSR, now, other, "binding-2")
	if st.orderURL != "" || len(st.ignored) != 1 || st.ignored[0] != OrderURLAnnotation {
		t.Errorf("state under another server %+v, want the order URL ignored", st)
	}
}
