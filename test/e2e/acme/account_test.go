package acme_test

import (
	"context"
	"crypto/x509"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/signerpolicy/signer-policy-operator/test/harness"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

// The cached account is reused until the issuer's key changes; a new key registers a new
// account, once. The directory's TLS is trusted with skipTLSVerify here rather than caBundle.
func TestAccountKeyChangeRegistersOnce(t *testing.T) {
	t.Parallel()
	spec := baseSpec(peers.pebble, httpSolver())
	spec.CABundle, spec.SkipTLSVerify = nil, true
	iss := newIssuer(t, spec, false)
	issue := func() {
		t.Helper()
		r := request{tmpl: x509.CertificateRequest{DNSNames: []string{unique() + ".account.acme.test"}}}
		c, key := iss.submit(t, r)
		verifyIssued(t, waitIssued(t, c), key, iss.root(t, 0), r)
	}
	issue()
	issue()
	first := iss.accountThumbprint(t)
	if n := iss.server.Proxy.NewAccounts(first); n != 1 {
		t.Errorf("two CSRs registered the account %d times, want once", n)
	}

	rotated := testpki.NewKey(t, testpki.ECDSA)
	harness.Eventually(t, issueTimeout, func() error {
		var s corev1.Secret
		if err := env.Admin.Get(context.Background(), client.ObjectKey{Namespace: iss.secretNamespace, Name: spec.PrivateKey.Name}, &s); err != nil {
			return err
		}
		s.Data[corev1.TLSPrivateKeyKey] = testpki.KeyPEM(t, rotated)
		return env.Admin.Update(context.Background(), &s)
	})
	issue()
	if got := iss.accountThumbprint(t); got == first {
		t.Fatal("the key was not rotated")
	}
	second := iss.accountThumbprint(t)
	if n := iss.server.Proxy.NewAccounts(second); n != 1 {
		t.Errorf("the rotated key registered %d times, want once", n)
	}
	if n := iss.server.Proxy.NewAccounts(first); n != 1 {
		t.Errorf("the old key registered %d times after the rotation, want no more", n)
	}
}
