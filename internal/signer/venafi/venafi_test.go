package venafi_test

import (
	"crypto"
	"crypto/x509"
	"reflect"
	"strings"
	"testing"
	"time"

	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	corev1 "k8s.io/api/core/v1"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/signertest"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/venafi"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
	venafitest "github.com/signerpolicy/signer-policy-operator/test/venafi"
)

// service is what the issuance tests need of either stand-in.
type service interface {
	RequestsFor(csrPEM []byte) int
	EnrollmentFor(csrPEM []byte) (venafitest.Enrollment, bool)
	RootCA() *x509.Certificate
}

// issueAfterPolls runs the CSR through request, `polls` pending retrievals and issuance, checking
// the markers and the requeue delays on the way, and returns the chain.
func issueAfterPolls(t *testing.T, f *fixture, srv service, polls int) signer.PEMChain {
	t.Helper()
	_, err := f.sign()
	pe := signertest.ExpectPending(t, err, venafi.ReasonIssuancePending)
	if pe.RequeueAfter != minPoll {
		t.Errorf("first requeue after %s, want MinPoll %s", pe.RequeueAfter, minPoll)
	}
	e, ok := srv.EnrollmentFor(f.csr.Spec.Request)
	if !ok {
		t.Fatal("the server saw no request")
	}
	if got := f.csr.Annotations[venafi.PickupIDAnnotation]; got != e.PickupID {
		t.Fatalf("pickup ID annotation %q, want the server's %q", got, e.PickupID)
	}
	if _, err := time.Parse(time.RFC3339Nano, f.csr.Annotations[venafi.RequestedAtAnnotation]); err != nil {
		t.Errorf("requested-at annotation: %v", err)
	}
	if e.Retrievals != 0 {
		t.Errorf("%d retrievals before the pickup ID was returned", e.Retrievals)
	}
	for i := range polls {
		_, err := f.sign()
		pe := signertest.ExpectPending(t, err, venafi.ReasonIssuancePending)
		if pe.RequeueAfter < minPoll || pe.RequeueAfter > maxPoll {
			t.Errorf("poll %d: requeue after %s, outside [%s, %s]", i, pe.RequeueAfter, minPoll, maxPoll)
		}
	}
	chain, err := f.sign()
	if err != nil {
		t.Fatalf("after %d pending polls: %v", polls, err)
	}
	if n := srv.RequestsFor(f.csr.Spec.Request); n != 1 {
		t.Errorf("the server saw %d requests for the CSR, want 1", n)
	}
	verifyChain(t, f, srv.RootCA(), chain)
	return chain
}

func verifyChain(t *testing.T, f *fixture, root *x509.Certificate, chain signer.PEMChain) {
	t.Helper()
	certs := testpki.ParseChain(t, chain)
	if len(certs) != 2 {
		t.Errorf("chain has %d certificates, want leaf and intermediate (the root is left out)", len(certs))
	}
	leaf := certs[0]
	if !leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(f.key.Public()) {
		t.Error("the leaf does not carry the CSR's key")
	}
	if err := testpki.VerifyChain(certs, root, x509.ExtKeyUsageAny); err != nil {
		t.Errorf("chain does not verify to the service's root: %v", err)
	}
	if want := time.Now().Add(f.req.Duration); leaf.NotAfter.Sub(want).Abs() > 10*time.Second {
		t.Errorf("notAfter %s, want about %s", leaf.NotAfter, want)
	}
}

func TestTPPWithPasswordIssuesAfterPendingPolls(t *testing.T) {
	srv := venafitest.NewTPP(t, venafitest.TPPOptions{Username: "svc-k8s", Password: password, Behaviour: venafitest.Behaviour{PendingPolls: 3}})
	f := newFixture(t, fixtureOptions{
		issuer: tppIssuer(srv, credentials), secrets: []*corev1.Secret{passwordSecret()},
		annotations: map[string]string{venafi.CustomFieldsAnnotation: `[{"name":"cost-center","value":"42"},{"name":"env","value":"prod","type":"Plain"},{"name":"env","value":"eu"}]`},
		duration:    1234 * time.Hour,
	})
	issueAfterPolls(t, f, srv, 3)
	e, _ := srv.EnrollmentFor(f.csr.Spec.Request)
	if want := map[string][]string{"cost-center": {"42"}, "env": {"prod", "eu"}}; !reflect.DeepEqual(e.CustomFields, want) {
		t.Errorf("custom fields at the server %v, want %v", e.CustomFields, want)
	}
	if (e.RequestedValidity - 1234*time.Hour).Abs() > 2*time.Second {
		t.Errorf("requested validity %s (end date %s), want 1234h", e.RequestedValidity, e.RawValidity)
	}
	if e.Origin != "signer-policy-operator" || e.ObjectName != "app.example.com" {
		t.Errorf("origin %q, object name %q", e.Origin, e.ObjectName)
	}
	if e.Retrievals != 4 {
		t.Errorf("%d retrievals, want 3 pending and 1 issued", e.Retrievals)
	}
	for _, g := range srv.Grants() {
		if g.ClientID != "cert-manager.io" || g.Scope != "certificate:manage" {
			t.Errorf("token requested for client %q scope %q", g.ClientID, g.Scope)
		}
	}
}

func TestTPPWithAccessTokenIssues(t *testing.T) {
	srv := venafitest.NewTPP(t, venafitest.TPPOptions{AccessToken: accessToken, Behaviour: venafitest.Behaviour{PendingPolls: 1}})
	f := newFixture(t, fixtureOptions{issuer: tppIssuer(srv, credentials), secrets: []*corev1.Secret{secret(map[string]string{"access-token": accessToken})}})
	issueAfterPolls(t, f, srv, 1)
	if len(srv.Grants()) != 0 {
		t.Error("an access token was exchanged for another")
	}
}

func TestTPPCABundleFromSecret(t *testing.T) {
	srv := venafitest.NewTPP(t, venafitest.TPPOptions{AccessToken: accessToken})
	issuer := tppIssuer(srv, credentials)
	issuer.Spec.Venafi.TPP.CABundle = nil
	issuer.Spec.Venafi.TPP.CABundleSecretRef = &cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: "tpp-ca"}}
	bundle := secret(map[string]string{"ca.crt": string(srv.CABundle())})
	bundle.Name = "tpp-ca"
	f := newFixture(t, fixtureOptions{issuer: issuer, secrets: []*corev1.Secret{secret(map[string]string{"access-token": accessToken}), bundle}})
	issueAfterPolls(t, f, srv, 0)
}

func TestCloudIssuesAfterPendingPolls(t *testing.T) {
	srv := venafitest.NewCloud(t, venafitest.CloudOptions{APIKey: apiKey, Behaviour: venafitest.Behaviour{PendingPolls: 3}})
	f := newFixture(t, fixtureOptions{
		issuer: cloudIssuer(srv, credentials), secrets: []*corev1.Secret{secret(map[string]string{"api-key": apiKey})},
		rootCAs: cloudPool(srv), duration: 2160 * time.Hour,
	})
	issueAfterPolls(t, f, srv, 3)
	e, _ := srv.EnrollmentFor(f.csr.Spec.Request)
	if e.RawValidity != "PT2160H0M0S" || e.Origin != "signer-policy-operator" {
		t.Errorf("validity %q origin %q, want PT2160H0M0S from signer-policy-operator", e.RawValidity, e.Origin)
	}
}

func TestCloudAPIKeyUnderCustomKey(t *testing.T) {
	srv := venafitest.NewCloud(t, venafitest.CloudOptions{APIKey: apiKey})
	issuer := cloudIssuer(srv, credentials)
	issuer.Spec.Venafi.Cloud.APITokenSecretRef.Key = "token"
	f := newFixture(t, fixtureOptions{issuer: issuer, secrets: []*corev1.Secret{secret(map[string]string{"token": apiKey})}, rootCAs: cloudPool(srv)})
	issueAfterPolls(t, f, srv, 0)
}

// A reconcile working from a cache that has not seen the pickup ID yet must not order again.
func TestStaleCSRDoesNotOrderTwice(t *testing.T) {
	srv := venafitest.NewTPP(t, venafitest.TPPOptions{AccessToken: accessToken, Behaviour: venafitest.Behaviour{PendingPolls: 5}})
	f := newFixture(t, fixtureOptions{issuer: tppIssuer(srv, credentials), secrets: []*corev1.Secret{secret(map[string]string{"access-token": accessToken})}})
	stale := f.csr.DeepCopy()
	if _, err := f.sign(); err == nil {
		t.Fatal("want pending after the request")
	}
	f.req.CSR = stale // what a lagging informer would hand over
	_, err := f.sign()
	signertest.ExpectPending(t, err, venafi.ReasonIssuancePending)
	if n := srv.RequestsFor(f.csr.Spec.Request); n != 1 {
		t.Fatalf("%d requests for the CSR, want 1", n)
	}
	if e, _ := srv.EnrollmentFor(f.csr.Spec.Request); e.Retrievals != 1 {
		t.Errorf("%d retrievals, want the stale reconcile to have retrieved", e.Retrievals)
	}
}

// The wait between polls is as long as the request has been waiting, within [MinPoll, MaxPoll].
func TestPollDelayGrowsWithTheWait(t *testing.T) {
	srv := venafitest.NewTPP(t, venafitest.TPPOptions{AccessToken: accessToken, Behaviour: venafitest.Behaviour{PendingPolls: 100}})
	requested := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := testingclock.NewFakePassiveClock(requested)
	f := newFixture(t, fixtureOptions{
		issuer: tppIssuer(srv, credentials), secrets: []*corev1.Secret{secret(map[string]string{"access-token": accessToken})}, clock: clk,
	})
	if _, err := f.sign(); err == nil {
		t.Fatal("want pending after the request")
	}
	if got := f.csr.Annotations[venafi.RequestedAtAnnotation]; got != requested.Format(time.RFC3339Nano) {
		t.Fatalf("requested-at %q, want %s", got, requested)
	}
	for _, tc := range []struct{ elapsed, want time.Duration }{
		{0, minPoll}, {minPoll / 2, minPoll}, {3 * minPoll, 3 * minPoll}, {time.Hour, maxPoll},
	} {
		clk.SetTime(requested.Add(tc.elapsed))
		_, err := f.sign()
		if pe := signertest.ExpectPending(t, err, venafi.ReasonIssuancePending); pe.RequeueAfter != tc.want {
			t.Errorf("after %s: requeue after %s, want %s", tc.elapsed, pe.RequeueAfter, tc.want)
		}
	}
}

// A pickup ID without a request time (set by cert-manager, or an interrupted write) gets one at
// the first pending poll.
func TestMissingRequestTimeIsStoredAtFirstPoll(t *testing.T) {
	srv := venafitest.NewTPP(t, venafitest.TPPOptions{AccessToken: accessToken, Behaviour: venafitest.Behaviour{PendingPolls: 5}})
	f := newFixture(t, fixtureOptions{issuer: tppIssuer(srv, credentials), secrets: []*corev1.Secret{secret(map[string]string{"access-token": accessToken})}})
	if _, err := f.sign(); err == nil {
		t.Fatal("want pending after the request")
	}
	delete(f.csr.Annotations, venafi.RequestedAtAnnotation)
	_, err := f.sign()
	if pe := signertest.ExpectPending(t, err, venafi.ReasonIssuancePending); pe.RequeueAfter != minPoll {
		t.Errorf("requeue after %s, want MinPoll", pe.RequeueAfter)
	}
	if f.csr.Annotations[venafi.RequestedAtAnnotation] == "" {
		t.Error("the request time was not stored")
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	if _, err := venafi.New(venafi.Options{}); err == nil {
		t.Error("no APIReader accepted")
	}
	f := newFixture(t, fixtureOptions{issuer: tppIssuer(venafitest.NewTPP(t, venafitest.TPPOptions{}), credentials)})
	if _, err := venafi.New(venafi.Options{APIReader: f.api, MinPoll: time.Minute, MaxPoll: time.Second}); err == nil ||
		!strings.Contains(err.Error(), "MinPoll") {
		t.Errorf("MinPoll above MaxPoll: %v", err)
	}
}

// TPP keeps one certificate object per name in a zone. A CSR for a name whose earlier
// enrollment failed resets that object first, as cert-manager does, instead of inheriting the
// error.
func TestTPPResetsAFailedEarlierEnrollment(t *testing.T) {
	srv := venafitest.NewTPP(t, venafitest.TPPOptions{AccessToken: accessToken, Behaviour: venafitest.Behaviour{Reject: "CA offline"}})
	tokenSecret := secret(map[string]string{"access-token": accessToken})
	first := newFixture(t, fixtureOptions{issuer: tppIssuer(srv, credentials), secrets: []*corev1.Secret{tokenSecret}, commonName: "shared.example.com"})
	if _, err := first.sign(); err == nil {
		t.Fatal("want pending after the request")
	}
	_, err := first.sign()
	signertest.ExpectPermanent(t, err, venafi.ReasonRejected)

	srv.SetBehaviour(venafitest.Behaviour{})
	second := newFixture(t, fixtureOptions{issuer: tppIssuer(srv, credentials), secrets: []*corev1.Secret{tokenSecret.DeepCopy()}, commonName: "shared.example.com"})
	issueAfterPolls(t, second, srv, 0)
}
