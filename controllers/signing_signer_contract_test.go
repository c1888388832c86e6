//go:build !unit

package controllers_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"github.com/cert-manager/cert-manager/pkg/util/pki"
	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/signertest"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

// scriptedSigners lets a test answer, for the issuers it names, with a scripted fake instead of
// the real signer of the issuer's type. TestMain routes one issuer type through it; every issuer
// no test has scripted keeps the real signer, so the rest of the suite runs the shipped wiring.
type scriptedSigners struct {
	mu    sync.Mutex
	fakes map[string]*signertest.Signer // by namespace/name of the issuer
}

// routing returns a signer that answers with the scripted fake when there is one for the issuer,
// and with real otherwise.
func (s *scriptedSigners) routing(real signer.Signer) signer.Signer {
	return routedSigner{scripted: s, real: real}
}

// script makes fake answer for the namespaced Issuer until the test ends.
func (s *scriptedSigners) script(t *testing.T, ns, name string, fake *signertest.Signer) {
	t.Helper()
	key := ns + "/" + name
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fakes == nil {
		s.fakes = map[string]*signertest.Signer{}
	}
	s.fakes[key] = fake
	t.Cleanup(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.fakes, key)
	})
}

func (s *scriptedSigners) fakeFor(issuer cmapi.GenericIssuer) (*signertest.Signer, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fake, ok := s.fakes[issuer.GetNamespace()+"/"+issuer.GetName()]
	return fake, ok
}

type routedSigner struct {
	scripted *scriptedSigners
	real     signer.Signer
}

func (r routedSigner) Sign(ctx context.Context, req signer.Request) (signer.PEMChain, error) {
	if req.Issuer != nil {
		if fake, ok := r.scripted.fakeFor(req.Issuer); ok {
			return fake.Sign(ctx, req)
		}
	}
	return r.real.Sign(ctx, req)
}

// scriptedIssuer creates a Venafi Issuer, the type TestMain routes through scripted, answered by
// fake, and returns a requester who may reference it. The Venafi configuration is never used:
// the fake answers instead of a TPP.
func scriptedIssuer(t *testing.T, fake *signertest.Signer) issuerUnderTest {
	t.Helper()
	ns := env.Namespace(t)
	const name = "scripted"
	env.Create(t, &cmapi.Issuer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{Venafi: &cmapi.VenafiIssuer{
			Zone: `Certificates\Scripted`,
			TPP:  &cmapi.VenafiTPP{URL: "https://tpp.invalid/vedsdk", CredentialsRef: cmmeta.LocalObjectReference{Name: "unused"}},
		}}}})
	scripted.script(t, ns, name, fake)
	user := "requester-" + ns
	env.GrantCSRCreate(t, user)
	env.GrantReference(t, ns, name, harness.UserSubject(user))
	iut := issuerUnderTest{name: "Issuer/scripted", signerName: "issuers.cert-manager.io/" + ns + "." + name, secretNamespace: ns, requester: env.User(t, user)}
	governed(t, iut.signerName, user)
	return iut
}

// submitApproved sends a CSR to the issuer and approves it as a person would.
func submitApproved(t *testing.T, iut issuerUnderTest) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	c := env.SubmitCSR(t, iut.requester, harness.CSR{SignerName: iut.signerName, Request: dnsCSR(t, "web.example.com")})
	if err := harness.Approve(env.Admin, c.Name); err != nil {
		t.Fatalf("approving: %v", err)
	}
	return c
}

// notFailedNorIssued reads the CSR and fails the test if it is Failed or carries a certificate.
func notFailedNorIssued(t *testing.T, name string) {
	t.Helper()
	var got certificatesv1.CertificateSigningRequest
	if err := env.Admin.Get(context.Background(), client.ObjectKey{Name: name}, &got); err != nil {
		t.Fatal(err)
	}
	if cond := harness.Condition(&got, certificatesv1.CertificateFailed); cond != nil || len(got.Status.Certificate) > 0 {
		t.Fatalf("CSR is Failed (%+v) or issued (%t), want it still pending", cond, len(got.Status.Certificate) > 0)
	}
}

// The signer contract, end to end through the controller: a pending signer gets an event and is
// asked again after its RequeueAfter without the CSR failing; a plain error gets a retry event and
// is retried without the CSR failing; the chain the signer finally returns is what the requester
// receives, byte for byte.
func TestSignerPendingThenPlainErrorThenChainIssuesTheChain(t *testing.T) {
	fake := signertest.New(signertest.Fails(signer.PendingAfter(250*time.Millisecond, "ScriptedOrderPending", "order %d is still pending", 42)))
	iut := scriptedIssuer(t, fake)
	c := submitApproved(t, iut)

	ev := waitForEvent(t, c, "ScriptedOrderPending")
	if !strings.Contains(ev.Note, "order 42 is still pending") {
		t.Errorf("pending event note %q does not carry the signer's message", ev.Note)
	}
	// Nothing changes the CSR while it is pending, so more calls can only be the requeue the
	// signer asked for.
	before := fake.Calls()
	harness.Eventually(t, wait, func() error {
		if n := fake.Calls(); n < before+2 {
			return fmt.Errorf("signer called %d times, want the pending CSR requeued past %d", n, before+2)
		}
		return nil
	})
	notFailedNorIssued(t, c.Name)
	if req := fake.Requests()[0]; req.CSR.Name != c.Name || req.Issuer.GetName() != "scripted" {
		t.Fatalf("the fake was asked to sign %s for issuer %s, want %s for scripted", req.CSR.Name, req.Issuer.GetName(), c.Name)
	}

	// The plain error and the chain are queued together: the chain answers the retry, so the
	// rate limiter's backoff stays at its first few milliseconds.
	root := signertest.NewRootCA(t, signertest.ECDSA, "scripted root")
	chain := append(leafFor(t, root, c, nil), root.CertPEM...)
	fake.Enqueue(signertest.Fails(errors.New("scripted upstream timeout")), signertest.Returns(chain))
	ev = waitForEvent(t, c, "SigningRetry")
	if !strings.Contains(ev.Note, "scripted upstream timeout") {
		t.Errorf("retry event note %q does not carry the signer's error", ev.Note)
	}
	got := env.WaitForCSR(t, c.Name, wait, harness.Issued)
	if !bytes.Equal(got.Status.Certificate, chain) {
		t.Errorf("status.certificate is not the chain the signer returned:\n%s\nwant\n%s", got.Status.Certificate, chain)
	}
	if cond := harness.Condition(got, certificatesv1.CertificateFailed); cond != nil {
		t.Errorf("issued CSR is also Failed: %+v", cond)
	}
}

// A certificate that is not what the gate decided is never delivered, whoever signed it: here an
// upstream that adds a name and the CA flag, and one that leaves out an approved usage.
func TestSignerReturningOtherThanWasDecidedFailsIssuedCertificateMismatch(t *testing.T) {
	root := signertest.NewRootCA(t, signertest.ECDSA, "scripted root")
	for name, tc := range map[string]struct {
		edit    func(*x509.Certificate)
		mention []string
	}{
		"more": {edit: func(l *x509.Certificate) {
			l.DNSNames = append(l.DNSNames, "evil.example.com")
			l.IsCA, l.BasicConstraintsValid = true, true
		}, mention: []string{`holds the DNS name "evil.example.com"`, "CA flag is true"}},
		"less": {edit: func(l *x509.Certificate) { l.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth} },
			mention: []string{"lacks the approved usages server auth"}},
	} {
		t.Run(name, func(t *testing.T) {
			fake := signertest.New()
			iut := scriptedIssuer(t, fake)
			c := env.SubmitCSR(t, iut.requester, harness.CSR{SignerName: iut.signerName, Request: dnsCSR(t, "web.example.com")})
			fake.Enqueue(signertest.Returns(leafFor(t, root, c, tc.edit)))
			if err := harness.Approve(env.Admin, c.Name); err != nil {
				t.Fatal(err)
			}
			got := env.WaitForCSR(t, c.Name, wait, failedWith("IssuedCertificateMismatch"))
			msg := harness.Condition(got, certificatesv1.CertificateFailed).Message
			for _, m := range tc.mention {
				if !strings.Contains(msg, m) {
					t.Errorf("Failed message %q does not mention %q", msg, m)
				}
			}
		})
	}
}

// leafFor is what an honest upstream would issue for the CSR under the scripted issuer's policy,
// signed by root, edited by edit.
func leafFor(t *testing.T, root *signertest.CA, c *certificatesv1.CertificateSigningRequest, edit func(*x509.Certificate)) []byte {
	t.Helper()
	req, err := pki.DecodeX509CertificateRequestBytes(c.Spec.Request)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), DNSNames: req.DNSNames,
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if edit != nil {
		edit(leaf)
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, root.Cert, req.PublicKey, root.Key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestSignerPermanentErrorFailsWithItsReason(t *testing.T) {
	fake := signertest.New(signertest.Fails(signer.Permanent("ScriptedRefusal", "the zone refuses web.example.com")))
	iut := scriptedIssuer(t, fake)
	c := submitApproved(t, iut)

	got := env.WaitForCSR(t, c.Name, wait, failedWith("ScriptedRefusal"))
	if msg := harness.Condition(got, certificatesv1.CertificateFailed).Message; msg != "the zone refuses web.example.com" {
		t.Errorf("Failed message = %q, want the signer's message", msg)
	}
	waitForEvent(t, c, "ScriptedRefusal")
}
