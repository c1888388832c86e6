package acme_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"

	cmacme "github.com/cert-manager/cert-manager/pkg/apis/acme/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/signerpolicy/signer-policy-operator/internal/signer/acme"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

// eabIssuer is an issuer of the Pebble that requires External Account Binding, bound with
// keyID and the HMAC key hmac (base64url) under algorithm.
func eabIssuer(t *testing.T, keyID, hmac string, algorithm cmacme.HMACKeyAlgorithm) *acmeIssuer {
	t.Helper()
	spec := baseSpec(peers.eabPebble, httpSolver())
	iss := newIssuer(t, spec, false)
	//nolint:staticcheck // SA1019: keyAlgorithm is deprecated in cert-manager; the signer still honours it.
	spec.ExternalAccountBinding = &cmacme.ACMEExternalAccountBinding{KeyID: keyID, Key: iss.secret(t, "hmac", hmac), KeyAlgorithm: algorithm}
	updateIssuer(t, iss)
	return iss
}

func TestExternalAccountBinding(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		keyID     string
		algorithm cmacme.HMACKeyAlgorithm
	}{
		{"HS256 by default", eabKeyID, ""},
		{"HS512 from keyAlgorithm", eabOtherKeyID, cmacme.HS512},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			iss := eabIssuer(t, tc.keyID, peers.eabKeys[tc.keyID], tc.algorithm)
			r := request{tmpl: x509.CertificateRequest{DNSNames: []string{unique() + ".eab.acme.test"}}}
			c, key := iss.submit(t, r)
			got := waitIssued(t, c)
			verifyIssued(t, got, key, iss.root(t, 0), r)
		})
	}
}

// A wrong EAB key leaves the CSR pending with the server's refusal in an event, since fixing
// the issuer's Secret is enough to get it signed; and the HMAC key appears nowhere.
func TestExternalAccountBindingWithAWrongKey(t *testing.T) {
	t.Parallel()
	wrong := base64.RawURLEncoding.EncodeToString([]byte("not the HMAC key Pebble knows for kid-1"))
	iss := eabIssuer(t, eabKeyID, wrong, "")
	r := request{tmpl: x509.CertificateRequest{DNSNames: []string{unique() + ".eab.acme.test"}}}
	c, _ := iss.submit(t, r)
	ev := env.WaitForEvent(t, c, acme.ReasonAccountRegistrationFailed)
	if !strings.Contains(ev.Note, "unauthorized") || strings.Contains(ev.Note, wrong) {
		t.Errorf("event %q: want Pebble's unauthorized problem and no key material", ev.Note)
	}
	// The event is written after the signer answered pending, so a Failed condition would be
	// there by now if the answer had been permanent.
	var got certificatesv1.CertificateSigningRequest
	if err := env.Admin.Get(context.Background(), client.ObjectKeyFromObject(c), &got); err != nil {
		t.Fatal(err)
	}
	if cond := harness.Condition(&got, certificatesv1.CertificateFailed); cond != nil || len(got.Status.Certificate) > 0 {
		t.Errorf("CSR with a wrong EAB key: conditions %+v, certificate %d bytes; want it pending", got.Status.Conditions, len(got.Status.Certificate))
	}
}
