package controllers

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/audit"
	"github.com/signerpolicy/signer-policy-operator/internal/csr"
	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/signertest"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

// contractFixture is a signing controller over a fake client holding one approved CSR (verdictCSR),
// the CA ClusterIssuer it names and the requester's Ready policy, with the scripted signer
// registered for the CA type: the signer contract is tested on the controller's own code, with no
// issuer of another type standing in.
type contractFixture struct {
	r      *SigningReconciler
	fake   *signertest.Signer
	events *record.FakeRecorder
	csr    *certificatesv1.CertificateSigningRequest
}

func newContractFixture(t *testing.T) *contractFixture {
	t.Helper()
	c := verdictCSR(t, nil)
	policy := readyPolicy("narrow", nil)
	issuer := &cmapi.ClusterIssuer{ObjectMeta: c.ObjectMeta, Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: "ca"}}}}
	issuer.Name = "ca"
	cl := fake.NewClientBuilder().WithScheme(signertest.Scheme(t)).
		WithObjects(c.DeepCopy(), &policy, issuer).
		WithStatusSubresource(&certificatesv1.CertificateSigningRequest{}).
		WithIndex(&policyv1alpha1.SignerPolicy{}, policyBySignerNameIndex, indexPolicyBySignerName).
		WithIndex(&policyv1alpha1.SignerPolicy{}, policyBySelectedKindIndex, indexPolicyBySelectedKind).
		Build()
	f := &contractFixture{fake: signertest.New(), events: record.NewFakeRecorder(16), csr: c}
	signers, err := signer.NewRegistry(signer.Entry{Type: signer.TypeCA, Signer: f.fake})
	if err != nil {
		t.Fatal(err)
	}
	f.r = &SigningReconciler{Client: cl, APIReader: cl, Events: f.events, Audit: audit.New(logr.Discard()),
		Clock: clock.RealClock{}, Signers: signers, Evaluator: newEvaluator(t), ClusterResourceNamespace: "signer-policy-system"}
	return f
}

// reconcile runs one reconcile of the CSR, as the controller's queue would.
func (f *contractFixture) reconcile(t *testing.T) (ctrl.Result, error) {
	t.Helper()
	return f.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Name: f.csr.Name}})
}

// current reads the CSR as the API server holds it.
func (f *contractFixture) current(t *testing.T) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	var got certificatesv1.CertificateSigningRequest
	if err := f.r.Client.Get(context.Background(), client.ObjectKey{Name: f.csr.Name}, &got); err != nil {
		t.Fatal(err)
	}
	return &got
}

// expectEvent fails unless the next event recorded is of reason and carries note.
func (f *contractFixture) expectEvent(t *testing.T, reason, note string) {
	t.Helper()
	select {
	case ev := <-f.events.Events:
		if !strings.Contains(ev, " "+reason+" ") || !strings.Contains(ev, note) {
			t.Errorf("event %q, want reason %s carrying %q", ev, reason, note)
		}
	default:
		t.Errorf("no event recorded, want %s", reason)
	}
}

// expectPending fails if the CSR is Failed or carries a certificate.
func (f *contractFixture) expectPending(t *testing.T) {
	t.Helper()
	got := f.current(t)
	if cond := csr.Condition(got, certificatesv1.CertificateFailed); cond != nil || len(got.Status.Certificate) > 0 {
		t.Fatalf("CSR is Failed (%+v) or issued (%t), want it still pending", cond, len(got.Status.Certificate) > 0)
	}
}

// The signer contract, through the controller: a pending signer gets an event and a requeue after
// its RequeueAfter without the CSR failing; a plain error gets a retry event and is returned to
// the queue for backoff without the CSR failing; the chain the signer finally returns is what the
// requester receives, byte for byte.
func TestSignerPendingThenPlainErrorThenChainIssuesTheChain(t *testing.T) {
	f := newContractFixture(t)
	f.fake.Enqueue(signertest.Fails(signer.PendingAfter(250*time.Millisecond, "ScriptedOrderPending", "order %d is still pending", 42)))
	res, err := f.reconcile(t)
	if err != nil || res.RequeueAfter != 250*time.Millisecond {
		t.Fatalf("pending signer: Reconcile = %+v, %v; want a requeue after 250ms and no error", res, err)
	}
	f.expectEvent(t, "ScriptedOrderPending", "order 42 is still pending")
	f.expectPending(t)
	if req := f.fake.Requests()[0]; req.CSR.Name != f.csr.Name || req.Issuer.GetName() != "ca" || req.ResourceNamespace != "signer-policy-system" {
		t.Fatalf("the fake was asked to sign %s for issuer %s in %s, want %s for ca in signer-policy-system",
			req.CSR.Name, req.Issuer.GetName(), req.ResourceNamespace, f.csr.Name)
	}

	f.fake.Enqueue(signertest.Fails(errors.New("scripted upstream timeout")))
	if _, err := f.reconcile(t); err == nil || !strings.Contains(err.Error(), "scripted upstream timeout") {
		t.Fatalf("plain error: Reconcile error = %v, want the signer's error returned for backoff", err)
	}
	f.expectEvent(t, "SigningRetry", "scripted upstream timeout")
	f.expectPending(t)

	root := testpki.NewRootCA(t, testpki.ECDSA, "scripted root")
	chain := append(leafFor(t, root, f.csr, nil), root.CertPEM...)
	f.fake.Enqueue(signertest.Returns(chain))
	if res, err := f.reconcile(t); err != nil || res != (ctrl.Result{}) {
		t.Fatalf("chain: Reconcile = %+v, %v; want done", res, err)
	}
	got := f.current(t)
	if !bytes.Equal(got.Status.Certificate, chain) {
		t.Errorf("status.certificate is not the chain the signer returned:\n%s\nwant\n%s", got.Status.Certificate, chain)
	}
	if cond := csr.Condition(got, certificatesv1.CertificateFailed); cond != nil {
		t.Errorf("issued CSR is also Failed: %+v", cond)
	}
	f.expectEvent(t, ReasonCertificateIssued, `issued by ClusterIssuer "ca"`)
}

// A certificate that is not what the gate decided is never delivered, whoever signed it: here an
// upstream that adds a name and the CA flag, and one that leaves out an approved usage.
func TestSignerReturningOtherThanWasDecidedFailsIssuedCertificateMismatch(t *testing.T) {
	root := testpki.NewRootCA(t, testpki.ECDSA, "scripted root")
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
			f := newContractFixture(t)
			f.fake.Enqueue(signertest.Returns(leafFor(t, root, f.csr, tc.edit)))
			if _, err := f.reconcile(t); err != nil {
				t.Fatal(err)
			}
			got := f.current(t)
			cond := csr.Condition(got, certificatesv1.CertificateFailed)
			if cond == nil || cond.Reason != ReasonIssuedCertificateMismatch || len(got.Status.Certificate) > 0 {
				t.Fatalf("Failed condition %+v, certificate delivered %t; want IssuedCertificateMismatch and no certificate",
					cond, len(got.Status.Certificate) > 0)
			}
			for _, m := range tc.mention {
				if !strings.Contains(cond.Message, m) {
					t.Errorf("Failed message %q does not mention %q", cond.Message, m)
				}
			}
		})
	}
}

func TestSignerPermanentErrorFailsWithItsReason(t *testing.T) {
	f := newContractFixture(t)
	f.fake.Enqueue(signertest.Fails(signer.Permanent("ScriptedRefusal", "the zone refuses web.m.example.com")))
	if _, err := f.reconcile(t); err != nil {
		t.Fatal(err)
	}
	cond := csr.Condition(f.current(t), certificatesv1.CertificateFailed)
	if cond == nil || cond.Reason != "ScriptedRefusal" || cond.Message != "the zone refuses web.m.example.com" {
		t.Fatalf("Failed condition = %+v, want the signer's reason and message", cond)
	}
	f.expectEvent(t, "ScriptedRefusal", "the zone refuses web.m.example.com")
}

// leafFor is what an honest upstream would issue for the CSR under the requester's policy, signed
// by root, edited by edit.
func leafFor(t *testing.T, root *testpki.CA, c *certificatesv1.CertificateSigningRequest, edit func(*x509.Certificate)) []byte {
	t.Helper()
	req := testpki.ParseRequest(t, c.Spec.Request)
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

// At debug verbosity the gate says what it decided about each CSR and why, so a stuck CSR can be
// explained from the operator's log.
func TestGateDecisionsAreLoggedAtDebug(t *testing.T) {
	f := newContractFixture(t)
	f.fake.Enqueue(signertest.Fails(signer.Permanent("ScriptedRefusal", "no")))
	var lines []string
	log := funcr.NewJSON(func(obj string) { lines = append(lines, obj) }, funcr.Options{Verbosity: 1})
	ctx := ctrl.LoggerInto(context.Background(), log)
	if _, err := f.r.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Name: f.csr.Name}}); err != nil {
		t.Fatal(err)
	}
	if len(lines) == 0 || !strings.Contains(lines[0], `"msg":"signing gate"`) || !strings.Contains(lines[0], `"verdict":"sign"`) ||
		!strings.Contains(lines[0], verdictSigner) {
		t.Errorf("debug log %q, want the gate's verdict for the CSR's signer", lines)
	}
}
