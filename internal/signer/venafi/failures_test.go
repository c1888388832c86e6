package venafi_test

import (
	"strings"
	"testing"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/signertest"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/venafi"
	venafitest "github.com/signerpolicy/signer-policy-operator/test/venafi"
)

// expectNoSecrets fails if err's message shows a credential value.
func expectNoSecrets(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, v := range []string{password, accessToken, apiKey, "wrong-value"} {
		if strings.Contains(err.Error(), v) {
			t.Errorf("error shows a credential value: %q", err)
		}
	}
}

func TestCustomFieldsAnnotationErrorsArePermanent(t *testing.T) {
	srv := venafitest.NewTPP(t, venafitest.TPPOptions{AccessToken: accessToken})
	for name, annotation := range map[string]string{
		"not JSON":         `cost-center=42`,
		"not a list":       `{"name":"cost-center","value":"42"}`,
		"value not text":   `[{"name":"cost-center","value":42}]`,
		"trailing data":    `[{"name":"a","value":"b"}] x`,
		"unsupported type": `[{"name":"expires","value":"2030-01-01","type":"Date"}]`,
		"no name":          `[{"value":"42"}]`,
		"null entry":       `[null]`,
	} {
		t.Run(name, func(t *testing.T) {
			// No Secret exists: the annotation is judged before anything is read or sent.
			f := newFixture(t, fixtureOptions{
				issuer: tppIssuer(srv, credentials), commonName: strings.ReplaceAll(name, " ", "-") + ".example.com",
				annotations: map[string]string{venafi.CustomFieldsAnnotation: annotation},
			})
			_, err := f.sign()
			pe := signertest.ExpectPermanent(t, err, venafi.ReasonErrorCustomFields)
			if !strings.Contains(pe.Message, venafi.CustomFieldsAnnotation) {
				t.Errorf("message %q does not name the annotation", pe.Message)
			}
			if n := srv.RequestsFor(f.csr.Spec.Request); n != 0 {
				t.Errorf("%d requests sent", n)
			}
		})
	}
}

func TestEmptyCustomFieldsAreNone(t *testing.T) {
	srv := venafitest.NewTPP(t, venafitest.TPPOptions{AccessToken: accessToken})
	for _, annotation := range []string{"", " ", "[]", "null"} {
		f := newFixture(t, fixtureOptions{
			issuer: tppIssuer(srv, credentials), secrets: []*corev1.Secret{secret(map[string]string{"access-token": accessToken})},
			annotations: map[string]string{venafi.CustomFieldsAnnotation: annotation}, commonName: "empty" + string(rune('a'+len(annotation))) + ".example.com",
		})
		_, err := f.sign()
		signertest.ExpectPending(t, err, venafi.ReasonIssuancePending)
		if e, _ := srv.EnrollmentFor(f.csr.Spec.Request); len(e.CustomFields) != 0 {
			t.Errorf("annotation %q sent custom fields %v", annotation, e.CustomFields)
		}
	}
}

func TestIssuerConfigurationProblemsArePending(t *testing.T) {
	tppSrv := venafitest.NewTPP(t, venafitest.TPPOptions{Username: "svc-k8s", Password: password, AccessToken: accessToken})
	cloudSrv := venafitest.NewCloud(t, venafitest.CloudOptions{APIKey: apiKey})
	tokenSecret := secret(map[string]string{"access-token": accessToken})
	for _, tc := range []struct {
		name    string
		issuer  *cmapi.Issuer
		secrets []*corev1.Secret
		reason  string
		cloud   bool
		// mentions must all appear in the message.
		mentions []string
	}{
		{name: "TPP Secret missing", issuer: tppIssuer(tppSrv, credentials), reason: signer.ReasonSecretMissing,
			mentions: []string{namespace + "/" + credentials, "spec.venafi.tpp.credentialsRef.name"}},
		{name: "Cloud Secret missing", issuer: cloudIssuer(cloudSrv, credentials), cloud: true, reason: signer.ReasonSecretMissing,
			mentions: []string{namespace + "/" + credentials}},
		{name: "TPP Secret without credentials", issuer: tppIssuer(tppSrv, credentials), secrets: []*corev1.Secret{secret(map[string]string{"username": "svc-k8s"})},
			reason: signer.ReasonSecretInvalidData, mentions: []string{"access-token"}},
		{name: "Cloud Secret without the key", issuer: cloudIssuer(cloudSrv, credentials), cloud: true, secrets: []*corev1.Secret{secret(map[string]string{"other": "x"})},
			reason: signer.ReasonSecretInvalidData, mentions: []string{"api-key"}},
		{name: "TPP wrong password", issuer: tppIssuer(tppSrv, credentials),
			secrets: []*corev1.Secret{secret(map[string]string{"username": "svc-k8s", "password": "wrong-value"})},
			reason:  venafi.ReasonErrorLogin, mentions: []string{`Issuer "team-a/tpp"`, "Secret " + namespace + "/" + credentials, "HTTP 400"}},
		{name: "TPP wrong access token", issuer: tppIssuer(tppSrv, credentials), secrets: []*corev1.Secret{secret(map[string]string{"access-token": "wrong-value"})},
			reason: venafi.ReasonErrorLogin, mentions: []string{`Issuer "team-a/tpp"`, "HTTP 401"}},
		{name: "Cloud wrong API key", issuer: cloudIssuer(cloudSrv, credentials), cloud: true, secrets: []*corev1.Secret{secret(map[string]string{"api-key": "wrong-value"})},
			reason: venafi.ReasonErrorLogin, mentions: []string{`Issuer "team-a/cloud"`, "HTTP 401"}},
		{name: "TPP unknown zone", issuer: withZone(tppIssuer(tppSrv, credentials), "Elsewhere"), secrets: []*corev1.Secret{tokenSecret},
			reason: venafi.ReasonErrorVenafiInit, mentions: []string{`"Elsewhere"`}},
		{name: "Cloud unknown zone", issuer: withZone(cloudIssuer(cloudSrv, credentials), `Kubernetes\Nope`), cloud: true, secrets: []*corev1.Secret{secret(map[string]string{"api-key": apiKey})},
			reason: venafi.ReasonErrorVenafiInit, mentions: []string{`Kubernetes\\Nope`}},
		{name: "TPP untrusted server", issuer: withoutCABundle(tppIssuer(tppSrv, credentials)), secrets: []*corev1.Secret{tokenSecret},
			reason: venafi.ReasonErrorVenafiInit, mentions: []string{"caBundle"}},
		{name: "TPP caBundle holds no certificate", issuer: withCABundle(tppIssuer(tppSrv, credentials), []byte("not PEM")), secrets: []*corev1.Secret{tokenSecret},
			reason: venafi.ReasonErrorVenafiInit, mentions: []string{"spec.venafi.tpp.caBundle"}},
		{name: "TPP URL unusable", issuer: withTPPURL(tppIssuer(tppSrv, credentials), "ftp://tpp"), secrets: []*corev1.Secret{tokenSecret},
			reason: venafi.ReasonErrorVenafiInit, mentions: []string{"spec.venafi.tpp.url"}},
		{name: "neither TPP nor Cloud", issuer: withoutService(tppIssuer(tppSrv, credentials)), secrets: []*corev1.Secret{tokenSecret},
			reason: venafi.ReasonErrorVenafiInit, mentions: []string{"spec.venafi.tpp"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := fixtureOptions{issuer: tc.issuer, secrets: tc.secrets, commonName: strings.ReplaceAll(strings.ToLower(tc.name), " ", "-") + ".example.com"}
			if tc.cloud {
				o.rootCAs = cloudPool(cloudSrv)
			}
			f := newFixture(t, o)
			_, err := f.sign()
			pe := signertest.ExpectPending(t, err, tc.reason)
			if pe.RequeueAfter != retryAfter {
				t.Errorf("requeue after %s, want RetryAfter %s", pe.RequeueAfter, retryAfter)
			}
			for _, m := range tc.mentions {
				if !strings.Contains(pe.Message, m) {
					t.Errorf("message %q does not mention %q", pe.Message, m)
				}
			}
			expectNoSecrets(t, err)
			if f.csr.Annotations[venafi.PickupIDAnnotation] != "" {
				t.Error("a pickup ID was stored")
			}
		})
	}
}

func withZone(i *cmapi.Issuer, zone string) *cmapi.Issuer {
	i.Spec.Venafi.Zone = zone
	return i
}

func withoutCABundle(i *cmapi.Issuer) *cmapi.Issuer { return withCABundle(i, nil) }

func withCABundle(i *cmapi.Issuer, bundle []byte) *cmapi.Issuer {
	i.Spec.Venafi.TPP.CABundle = bundle
	return i
}

func withTPPURL(i *cmapi.Issuer, url string) *cmapi.Issuer {
	i.Spec.Venafi.TPP.URL = url
	return i
}

func withoutService(i *cmapi.Issuer) *cmapi.Issuer {
	i.Spec.Venafi.TPP, i.Spec.Venafi.Cloud = nil, nil
	return i
}

// A service answering 500 is in trouble, not deciding: the error is plain, so the controller
// retries with backoff, and the CSR carries on once the service recovers.
func TestServerErrorsAreRetried(t *testing.T) {
	type stage struct {
		name          string
		failBeforeReq bool
	}
	for _, st := range []stage{{"at request", true}, {"at retrieval", false}} {
		t.Run("TPP "+st.name, func(t *testing.T) {
			srv := venafitest.NewTPP(t, venafitest.TPPOptions{Username: "svc-k8s", Password: password})
			f := newFixture(t, fixtureOptions{issuer: tppIssuer(srv, credentials), secrets: []*corev1.Secret{passwordSecret()}})
			retriedThenIssued(t, f, srv.SetBehaviour, st.failBeforeReq)
		})
		t.Run("Cloud "+st.name, func(t *testing.T) {
			srv := venafitest.NewCloud(t, venafitest.CloudOptions{APIKey: apiKey})
			f := newFixture(t, fixtureOptions{issuer: cloudIssuer(srv, credentials), secrets: []*corev1.Secret{secret(map[string]string{"api-key": apiKey})}, rootCAs: cloudPool(srv)})
			retriedThenIssued(t, f, srv.SetBehaviour, st.failBeforeReq)
		})
	}
}

func retriedThenIssued(t *testing.T, f *fixture, set func(venafitest.Behaviour), failBeforeRequest bool) {
	t.Helper()
	if !failBeforeRequest {
		if _, err := f.sign(); err == nil {
			t.Fatal("want pending after the request")
		}
	}
	set(venafitest.Behaviour{Fail: true})
	for range 2 {
		_, err := f.sign()
		if err == nil {
			t.Fatal("signed while the service fails")
		}
		signertest.ExpectPlainError(t, err)
		if !strings.Contains(err.Error(), "team-a/") {
			t.Errorf("error %q does not name the issuer", err)
		}
		expectNoSecrets(t, err)
	}
	set(venafitest.Behaviour{})
	var err error
	for range 3 {
		if _, err = f.sign(); err == nil {
			return
		}
	}
	t.Fatalf("not issued after the service recovered: %v", err)
}

func TestRejectionsArePermanent(t *testing.T) {
	const why = "the CA declined: key too weak for this zone"
	t.Run("TPP", func(t *testing.T) {
		srv := venafitest.NewTPP(t, venafitest.TPPOptions{AccessToken: accessToken, Behaviour: venafitest.Behaviour{PendingPolls: 1, Reject: why}})
		f := newFixture(t, fixtureOptions{issuer: tppIssuer(srv, credentials), secrets: []*corev1.Secret{secret(map[string]string{"access-token": accessToken})}})
		rejectedAfterPending(t, f, why)
	})
	t.Run("Cloud", func(t *testing.T) {
		srv := venafitest.NewCloud(t, venafitest.CloudOptions{APIKey: apiKey, Behaviour: venafitest.Behaviour{PendingPolls: 1, Reject: why}})
		f := newFixture(t, fixtureOptions{issuer: cloudIssuer(srv, credentials), secrets: []*corev1.Secret{secret(map[string]string{"api-key": apiKey})}, rootCAs: cloudPool(srv)})
		rejectedAfterPending(t, f, why)
	})
}

func rejectedAfterPending(t *testing.T, f *fixture, why string) {
	t.Helper()
	for range 2 {
		_, err := f.sign()
		signertest.ExpectPending(t, err, venafi.ReasonIssuancePending)
	}
	_, err := f.sign()
	pe := signertest.ExpectPermanent(t, err, venafi.ReasonRejected)
	if !strings.Contains(pe.Message, why) {
		t.Errorf("message %q does not carry the service's %q", pe.Message, why)
	}
}

func TestRefusedRequestsArePermanent(t *testing.T) {
	const why = "Subject CN app.example.com is not allowed in this zone"
	t.Run("TPP", func(t *testing.T) {
		srv := venafitest.NewTPP(t, venafitest.TPPOptions{AccessToken: accessToken, Behaviour: venafitest.Behaviour{RefuseRequests: why}})
		f := newFixture(t, fixtureOptions{issuer: tppIssuer(srv, credentials), secrets: []*corev1.Secret{secret(map[string]string{"access-token": accessToken})}})
		_, err := f.sign()
		if pe := signertest.ExpectPermanent(t, err, venafi.ReasonErrorRequest); !strings.Contains(pe.Message, why) {
			t.Errorf("message %q does not carry the service's %q", pe.Message, why)
		}
	})
	t.Run("Cloud", func(t *testing.T) {
		srv := venafitest.NewCloud(t, venafitest.CloudOptions{APIKey: apiKey, Behaviour: venafitest.Behaviour{RefuseRequests: why}})
		f := newFixture(t, fixtureOptions{issuer: cloudIssuer(srv, credentials), secrets: []*corev1.Secret{secret(map[string]string{"api-key": apiKey})}, rootCAs: cloudPool(srv)})
		_, err := f.sign()
		if pe := signertest.ExpectPermanent(t, err, venafi.ReasonErrorRequest); !strings.Contains(pe.Message, why) {
			t.Errorf("message %q does not carry the service's %q", pe.Message, why)
		}
	})
}

// A pickup ID the service does not know cannot lead to a certificate.
func TestUnknownPickupIDIsPermanent(t *testing.T) {
	srv := venafitest.NewTPP(t, venafitest.TPPOptions{AccessToken: accessToken})
	f := newFixture(t, fixtureOptions{
		issuer: tppIssuer(srv, credentials), secrets: []*corev1.Secret{secret(map[string]string{"access-token": accessToken})},
		annotations: map[string]string{venafi.PickupIDAnnotation: `\VED\Policy\Kubernetes\gone.example.com`},
	})
	_, err := f.sign()
	signertest.ExpectPermanent(t, err, venafi.ReasonErrorRetrieve)
	if n := srv.RequestsFor(f.csr.Spec.Request); n != 0 {
		t.Errorf("%d requests: a CSR with a pickup ID must never be requested again", n)
	}
}

// Once requested, the custom fields have been sent: an annotation edited into something
// malformed afterwards does not fail a CSR whose certificate is on its way.
func TestCustomFieldsAreNotJudgedAfterTheRequest(t *testing.T) {
	srv := venafitest.NewTPP(t, venafitest.TPPOptions{AccessToken: accessToken, Behaviour: venafitest.Behaviour{PendingPolls: 1}})
	f := newFixture(t, fixtureOptions{issuer: tppIssuer(srv, credentials), secrets: []*corev1.Secret{secret(map[string]string{"access-token": accessToken})}})
	if _, err := f.sign(); err == nil {
		t.Fatal("want pending after the request")
	}
	f.csr.Annotations[venafi.CustomFieldsAnnotation] = `not json`
	_, err := f.sign()
	signertest.ExpectPending(t, err, venafi.ReasonIssuancePending)
	if _, err := f.sign(); err != nil {
		t.Fatalf("not issued: %v", err)
	}
}
