package csr

import (
	"crypto/x509"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"

	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

// A request is parsed once and then shared; a forged signature is refused every time, never
// kept; and at most size requests are held.
func TestRequestsParseEachRequestOnce(t *testing.T) {
	r := NewRequests(2)
	csrOf := func(name string) *certificatesv1.CertificateSigningRequest {
		return &certificatesv1.CertificateSigningRequest{Spec: certificatesv1.CertificateSigningRequestSpec{
			Request: testpki.RequestPEM(t, testpki.NewKey(t, testpki.ECDSA), &x509.CertificateRequest{DNSNames: []string{name}})}}
	}
	a, b, c := csrOf("a.example.com"), csrOf("b.example.com"), csrOf("c.example.com")
	first, err := r.Parse(a)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := r.Parse(a.DeepCopy()); again != first {
		t.Error("the same request was parsed twice")
	}
	_, _ = r.Parse(b)
	_, _ = r.Parse(c)
	if again, _ := r.Parse(a); again == first {
		t.Error("more requests than the size were kept")
	}
	if len(r.byHash) != 2 || r.order.Len() != 2 {
		t.Errorf("holds %d requests (%d in order), want 2", len(r.byHash), r.order.Len())
	}

	forged := a.DeepCopy()
	other := csrOf("a.example.com")
	forged.Spec.Request = append(append([]byte{}, forged.Spec.Request[:len(forged.Spec.Request)-60]...), other.Spec.Request[len(other.Spec.Request)-60:]...)
	for range 2 {
		if _, err := r.Parse(forged); err == nil {
			t.Fatal("a request whose bytes were changed was accepted")
		}
	}
}
