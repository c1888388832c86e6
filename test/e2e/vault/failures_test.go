package vault_test

import (
	"context"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

// expectNotFailed fails the test if the CSR has been marked Failed.
func expectNotFailed(t *testing.T, name string) {
	t.Helper()
	var c certificatesv1.CertificateSigningRequest
	if err := env.Admin.Get(context.Background(), client.ObjectKey{Name: name}, &c); err != nil {
		t.Fatal(err)
	}
	if cond := harness.Condition(&c, certificatesv1.CertificateFailed); cond != nil {
		t.Errorf("CSR %s failed (%s: %s); a login problem must leave it pending", name, cond.Reason, cond.Message)
	}
}

func TestANameTheRoleForbidsFailsWithVaultsMessage(t *testing.T) {
	t.Parallel()
	for _, cluster := range []bool{false, true} {
		t.Run(map[bool]string{false: "Issuer", true: "ClusterIssuer"}[cluster], func(t *testing.T) {
			t.Parallel()
			vi := newVaultIssuer(t, cluster, authAppRole)
			c, _ := vi.submit(t, &x509.CertificateRequest{DNSNames: []string{"web.example.org"}}, time.Hour)
			env.WaitForCSR(t, c.Name, wait, harness.FailedWith("ErrorSigning",
				"subject alternate name web.example.org not allowed by this role", vi.kind(), vi.signPath()))
			if got := server.LoginsAt(vi.mount); got != 1 {
				t.Errorf("%d logins, want 1: a refused name is not a refused token", got)
			}
		})
	}
}

func TestAWrongAppRoleSecretIsALoginEventNotAFailure(t *testing.T) {
	t.Parallel()
	vi := prepareVaultIssuer(t, false)
	auth, secret := vi.auth(t, authAppRole)
	right := secret.Data["secretId"]
	const wrong = "not-the-secret-id"
	secret.Data["secretId"] = []byte(wrong)
	env.Create(t, secret)
	vi.createIssuer(t, auth)

	c, key := vi.submit(t, &x509.CertificateRequest{DNSNames: []string{"web.example.com"}}, time.Hour)
	ev := env.WaitForEvent(t, c, "ErrorLogin")
	for _, want := range []string{"Issuer " + vi.ns + "/" + vi.name, "AppRole login", "invalid role or secret ID"} {
		if !strings.Contains(ev.Note, want) {
			t.Errorf("ErrorLogin event %q does not mention %q", ev.Note, want)
		}
	}
	if strings.Contains(ev.Note, wrong) || strings.Contains(ev.Note, auth.AppRole.RoleId) {
		t.Errorf("ErrorLogin event shows a credential: %q", ev.Note)
	}
	if ev.Type != corev1.EventTypeNormal {
		t.Errorf("ErrorLogin event of type %s, want Normal: the CSR is pending", ev.Type)
	}
	expectNotFailed(t, c.Name)

	// Repairing the Secret is enough: the CSR is signed at the next pending retry.
	secret.Data["secretId"] = right
	if err := env.Admin.Update(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	from := time.Now()
	got := env.WaitForCSR(t, c.Name, pendingWait, issued)
	verifyIssued(t, got, key, time.Hour, from, time.Now())
}

func TestASecretCreatedLateGetsTheCSRSigned(t *testing.T) {
	t.Parallel()
	vi := prepareVaultIssuer(t, true)
	auth, secret := vi.auth(t, authAppRole)
	vi.createIssuer(t, auth)

	c, key := vi.submit(t, &x509.CertificateRequest{DNSNames: []string{"web.example.com"}}, time.Hour)
	ev := env.WaitForEvent(t, c, "SecretMissing")
	if !strings.Contains(ev.Note, clusterResourceNamespace+"/"+secret.Name) {
		t.Errorf("SecretMissing event %q does not name the Secret", ev.Note)
	}
	expectNotFailed(t, c.Name)

	env.Create(t, secret)
	from := time.Now()
	got := env.WaitForCSR(t, c.Name, pendingWait, issued)
	verifyIssued(t, got, key, time.Hour, from, time.Now())
}
