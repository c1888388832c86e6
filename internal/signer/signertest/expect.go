package signertest

import (
	"crypto"
	"crypto/x509"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cert-manager/cert-manager/pkg/util/pki"

	"github.com/signerpolicy/signer-policy-operator/internal/csr"
	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// ExpectMatchesRequest fails the test unless cert, signed between start and end, is what a signer
// that builds the certificate itself must issue for req: the key, subject and names of the
// request; the basic constraints and usages the gate decided; a lifetime of req.Duration from the
// signing; a positive serial number. The CA and SelfSigned signers build it from the same
// template (signer.CertificateTemplate), so one check holds both to it.
func ExpectMatchesRequest(t testing.TB, cert *x509.Certificate, key crypto.Signer, req signer.Request, start, end time.Time) {
	t.Helper()
	if eq, err := pki.PublicKeysEqual(key.Public(), cert.PublicKey); err != nil || !eq {
		t.Errorf("certificate does not carry the request's public key")
	}
	want := req.Parsed
	if want == nil {
		var err error
		if want, err = pki.DecodeX509CertificateRequestBytes(req.CSR.Spec.Request); err != nil {
			t.Fatal(err)
		}
	}
	if cert.Subject.String() != want.Subject.String() {
		t.Errorf("subject = %q, want %q", cert.Subject, want.Subject)
	}
	if !slices.Equal(cert.DNSNames, want.DNSNames) || !slices.Equal(cert.EmailAddresses, want.EmailAddresses) {
		t.Errorf("DNS %v email %v, want %v %v", cert.DNSNames, cert.EmailAddresses, want.DNSNames, want.EmailAddresses)
	}
	if !slices.EqualFunc(cert.IPAddresses, want.IPAddresses, net.IP.Equal) {
		t.Errorf("IPs = %v, want %v", cert.IPAddresses, want.IPAddresses)
	}
	if !slices.EqualFunc(cert.URIs, want.URIs, func(a, b *url.URL) bool { return a.String() == b.String() }) {
		t.Errorf("URIs = %v, want %v", cert.URIs, want.URIs)
	}
	if !cert.BasicConstraintsValid || cert.IsCA != req.IsCA {
		t.Errorf("basic constraints valid %t isCA %t, want isCA %t", cert.BasicConstraintsValid, cert.IsCA, req.IsCA)
	}
	ku, eku, err := csr.KeyUsages(req.Usages)
	if err != nil {
		t.Fatal(err)
	}
	if cert.KeyUsage != ku || !slices.Equal(cert.ExtKeyUsage, eku) {
		t.Errorf("usages = %b %v, want %b %v", cert.KeyUsage, cert.ExtKeyUsage, ku, eku)
	}
	// Certificate times have second precision.
	if earliest, latest := start.Add(req.Duration).Add(-time.Second), end.Add(req.Duration).Add(time.Second); cert.NotAfter.Before(earliest) || cert.NotAfter.After(latest) {
		t.Errorf("NotAfter = %v, want between %v and %v", cert.NotAfter, earliest, latest)
	}
	if cert.SerialNumber == nil || cert.SerialNumber.Sign() <= 0 {
		t.Errorf("serial number = %v, want a positive one", cert.SerialNumber)
	}
}

// ExpectPending fails the test unless err is a *signer.PendingError with reason whose message
// mentions every string in mentions, and returns it for further checks (RequeueAfter).
func ExpectPending(t testing.TB, err error, reason string, mentions ...string) *signer.PendingError {
	t.Helper()
	pe, ok := signer.AsPending(err)
	if !ok {
		t.Fatalf("got %v (%T), want pending %s", err, err, reason)
	}
	expectReason(t, "pending", pe.Reason, pe.Message, reason, mentions)
	return pe
}

// ExpectPermanent fails the test unless err is a *signer.PermanentError with reason whose
// message mentions every string in mentions, and returns it for further checks.
func ExpectPermanent(t testing.TB, err error, reason string, mentions ...string) *signer.PermanentError {
	t.Helper()
	pe, ok := signer.AsPermanent(err)
	if !ok {
		t.Fatalf("got %v (%T), want permanent %s", err, err, reason)
	}
	expectReason(t, "permanent", pe.Reason, pe.Message, reason, mentions)
	return pe
}

// expectReason is what ExpectPending and ExpectPermanent check of the typed error they found.
func expectReason(t testing.TB, kind, gotReason, message, reason string, mentions []string) {
	t.Helper()
	if gotReason != reason {
		t.Fatalf("got %s %s (%s), want %s", kind, gotReason, message, reason)
	}
	for _, m := range mentions {
		if !strings.Contains(message, m) {
			t.Errorf("%s message %q does not mention %q", kind, message, m)
		}
	}
}

// ExpectPlainError fails the test if err is a pending or a permanent error. A plain error is the
// third answer a signer can give, and the one the controller retries with backoff; the caller
// checks first that there is an error at all, in the words of what must not have succeeded.
func ExpectPlainError(t testing.TB, err error) {
	t.Helper()
	if _, ok := signer.AsPending(err); ok {
		t.Errorf("error %v is pending, want a plain error", err)
	}
	if _, ok := signer.AsPermanent(err); ok {
		t.Errorf("error %v is permanent, want a plain error", err)
	}
}
