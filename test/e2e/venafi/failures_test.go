package venafi_test

import (
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/venafi"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
	venafitest "github.com/signerpolicy/signer-policy-operator/test/venafi"
)

// Wrong credentials, a missing Secret, a service answering 500 and a rejected request each get
// their documented outcome, while good CSRs submitted alongside (to a healthy Venafi issuer and
// to a CA issuer) are issued as usual.
func TestFailuresDoNotBlockOtherCSRs(t *testing.T) {
	t.Parallel()
	healthyTPP := newTPP(t, venafitest.Behaviour{PendingPolls: 1}, nil)
	healthy := newIssuer(t, issuerOptions{config: tppConfig(healthyTPP), secret: map[string]string{"access-token": tppToken}})

	wrongPasswordTPP := newTPP(t, venafitest.Behaviour{}, nil)
	wrongPassword := newIssuer(t, issuerOptions{config: tppConfig(wrongPasswordTPP), secret: map[string]string{"username": tppUser, "password": wrongSecret}})
	wrongTokenTPP := newTPP(t, venafitest.Behaviour{}, nil)
	wrongToken := newIssuer(t, issuerOptions{config: tppConfig(wrongTokenTPP), secret: map[string]string{"access-token": wrongSecret}})
	wrongKeyCloud := newCloud(t, venafitest.Behaviour{}, nil)
	wrongKey := newIssuer(t, issuerOptions{config: cloudConfig(wrongKeyCloud), secret: map[string]string{"api-key": wrongSecret}})

	lateSecretCloud := newCloud(t, venafitest.Behaviour{}, nil)
	lateSecretConfig := cloudConfig(lateSecretCloud)
	lateSecret := newIssuer(t, issuerOptions{config: lateSecretConfig})

	failingTPP := newTPP(t, venafitest.Behaviour{Fail: true}, nil)
	failing := newIssuer(t, issuerOptions{config: tppConfig(failingTPP), secret: map[string]string{"access-token": tppToken}})

	const why = "Certificate Authority declined: the requested key is on the deny list"
	rejectingTPP := newTPP(t, venafitest.Behaviour{PendingPolls: 1, Reject: why}, nil)
	rejectingTPPIssuer := newIssuer(t, issuerOptions{config: tppConfig(rejectingTPP), secret: map[string]string{"access-token": tppToken}})
	rejectingCloud := newCloud(t, venafitest.Behaviour{PendingPolls: 1, Reject: why}, nil)
	rejectingCloudIssuer := newIssuer(t, issuerOptions{config: cloudConfig(rejectingCloud), secret: map[string]string{"api-key": cloudKey}})

	caIssuer := newCAIssuer(t)

	// Everything is submitted first, so that the failing CSRs are being worked on while the
	// good ones are signed.
	wrongPasswordCSR, _ := wrongPassword.submit(t, request{commonName: "wrong-password.example.com"})
	wrongTokenCSR, _ := wrongToken.submit(t, request{commonName: "wrong-token.example.com"})
	wrongKeyCSR, _ := wrongKey.submit(t, request{commonName: "wrong-key.example.com"})
	lateSecretCSR, _ := lateSecret.submit(t, request{commonName: "late-secret.example.com"})
	failingCSR, _ := failing.submit(t, request{commonName: "failing.example.com"})
	rejectedTPPCSR, _ := rejectingTPPIssuer.submit(t, request{commonName: "rejected-tpp.example.com"})
	rejectedCloudCSR, _ := rejectingCloudIssuer.submit(t, request{commonName: "rejected-cloud.example.com"})
	goodCSR, goodKey := healthy.submit(t, request{commonName: "good.example.com"})
	caCSR, _ := caIssuer.submit(t, request{commonName: "ca-neighbour.example.com"})

	// The good CSRs do not wait for the bad ones.
	verifyIssued(t, env.WaitForCSR(t, goodCSR.Name, wait, harness.Issued), goodKey, healthyTPP.RootCA())
	env.WaitForCSR(t, caCSR.Name, wait, harness.Issued)

	t.Run("wrong credentials are pending ErrorLogin, naming the issuer", func(t *testing.T) {
		for _, tc := range []struct {
			c   *certificatesv1.CertificateSigningRequest
			iss issuer
		}{{wrongPasswordCSR, wrongPassword}, {wrongTokenCSR, wrongToken}, {wrongKeyCSR, wrongKey}} {
			ev := env.WaitForEvent(t, tc.c, venafi.ReasonErrorLogin)
			if !strings.Contains(ev.Note, tc.iss.name) || !strings.Contains(ev.Note, credentialsSecret) {
				t.Errorf("ErrorLogin event %q does not name the issuer %s and its Secret", ev.Note, tc.iss.name)
			}
			stillPending(t, tc.c)
			expectNoCredentials(t, tc.c)
		}
		if n := wrongPasswordTPP.RequestsFor(wrongPasswordCSR.Spec.Request) + wrongTokenTPP.RequestsFor(wrongTokenCSR.Spec.Request) +
			wrongKeyCloud.RequestsFor(wrongKeyCSR.Spec.Request); n != 0 {
			t.Errorf("%d certificate requests made without valid credentials", n)
		}
	})

	t.Run("a missing Secret is pending SecretMissing, and the CSR is signed once it appears", func(t *testing.T) {
		ev := env.WaitForEvent(t, lateSecretCSR, signer.ReasonSecretMissing)
		if !strings.Contains(ev.Note, lateSecret.secretNamespace+"/"+credentialsSecret) {
			t.Errorf("SecretMissing event %q does not name the Secret", ev.Note)
		}
		stillPending(t, lateSecretCSR)
		env.Create(t, lateSecret.credentials(lateSecretConfig, map[string]string{"api-key": cloudKey}))
		env.WaitForCSR(t, lateSecretCSR.Name, wait, harness.Issued)
	})

	t.Run("a service answering 500 is retried, and the CSR is signed once it recovers", func(t *testing.T) {
		ev := env.WaitForEvent(t, failingCSR, "SigningRetry")
		if !strings.Contains(ev.Note, failing.name) || !strings.Contains(ev.Note, "500") {
			t.Errorf("SigningRetry event %q does not name the issuer and the HTTP status", ev.Note)
		}
		stillPending(t, failingCSR)
		failingTPP.SetBehaviour(venafitest.Behaviour{})
		env.WaitForCSR(t, failingCSR.Name, wait, harness.Issued)
		if n := failingTPP.RequestsFor(failingCSR.Spec.Request); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
		expectNoCredentials(t, failingCSR)
	})

	t.Run("a rejected request fails the CSR with the service's reason", func(t *testing.T) {
		for _, c := range []*certificatesv1.CertificateSigningRequest{rejectedTPPCSR, rejectedCloudCSR} {
			got := env.WaitForCSR(t, c.Name, wait, harness.FailedWith(venafi.ReasonRejected))
			if cond := harness.Condition(got, certificatesv1.CertificateFailed); !strings.Contains(cond.Message, why) {
				t.Errorf("Failed message %q does not carry the service's %q", cond.Message, why)
			}
			if len(got.Status.Certificate) != 0 {
				t.Error("a rejected CSR has a certificate")
			}
		}
	})
}

// stillPending checks the CSR is neither Failed nor issued.
func stillPending(t *testing.T, c *certificatesv1.CertificateSigningRequest) {
	t.Helper()
	got := env.WaitForCSR(t, c.Name, time.Second, func(*certificatesv1.CertificateSigningRequest) error { return nil })
	if harness.Condition(got, certificatesv1.CertificateFailed) != nil || len(got.Status.Certificate) != 0 {
		t.Errorf("CSR %s is no longer pending: conditions %+v", c.Name, got.Status.Conditions)
	}
}

// newCAIssuer is a CA Issuer, the neighbour every operator has, under a Manual policy as the
// Venafi issuers are.
func newCAIssuer(t *testing.T) issuer {
	t.Helper()
	ca := testpki.NewRootCA(t, testpki.ECDSA, "Neighbour CA")
	ns := env.Namespace(t)
	name := "ca-" + ns
	env.Create(t, ca.Secret(ns, name))
	env.Create(t, &cmapi.Issuer{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: name}}},
	})
	user := "ca-requester-" + ns
	env.GrantCSRCreate(t, user)
	env.GrantReference(t, ns, name, harness.UserSubject(user))
	ref := policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindIssuer, Namespace: ns, Name: name}
	env.GovernWithPolicy(t, harness.ManualPolicy(ref, user, requestedNames))
	return issuer{name: name, signerName: ref.SignerName(), secretNamespace: ns, requester: newUser(t, user)}
}
