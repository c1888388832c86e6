package signertest_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/signertest"
)

func requestNamed(name string) signer.Request {
	return signer.Request{CSR: &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: name}}}
}

func TestSignerScriptedResults(t *testing.T) {
	pending := signer.Pending("SecretMissing", "not yet")
	s := signertest.New(signertest.Fails(pending), signertest.Returns(signer.PEMChain("chain")))
	ctx := context.Background()

	if _, err := s.Sign(ctx, requestNamed("a")); !errors.Is(err, pending) {
		t.Errorf("first call error = %v, want %v", err, pending)
	}
	for range 2 {
		chain, err := s.Sign(ctx, requestNamed("b"))
		if err != nil || string(chain) != "chain" {
			t.Errorf("later call = %q, %v; want the last result repeated", chain, err)
		}
	}
	permanent := signer.Permanent("SigningError", "no")
	s.Enqueue(signertest.Fails(permanent))
	if _, err := s.Sign(ctx, requestNamed("c")); !errors.Is(err, permanent) {
		t.Errorf("call after Enqueue error = %v, want %v", err, permanent)
	}

	var names []string
	for _, r := range s.Requests() {
		names = append(names, r.CSR.Name)
	}
	if want := []string{"a", "b", "b", "c"}; len(names) != len(want) || s.Calls() != len(want) {
		t.Errorf("recorded %v (%d calls), want %v", names, s.Calls(), want)
	}
}

func TestSignerWithoutResultsErrs(t *testing.T) {
	_, err := signertest.New().Sign(context.Background(), signer.Request{})
	if err == nil {
		t.Fatal("unconfigured fake succeeded")
	}
	if _, ok := signer.AsPermanent(err); ok {
		t.Errorf("unconfigured fake must return a plain error, got %v", err)
	}
}

func TestSignerChainIsACopy(t *testing.T) {
	s := signertest.New(signertest.Returns(signer.PEMChain("chain")))
	chain, _ := s.Sign(context.Background(), signer.Request{})
	chain[0] = 'X'
	if again, _ := s.Sign(context.Background(), signer.Request{}); string(again) != "chain" {
		t.Errorf("modifying a returned chain changed the next answer to %q", again)
	}
}

// Run with -race: controllers sign from several workers at once.
func TestSignerConcurrentUse(t *testing.T) {
	s := signertest.New(signertest.Returns(signer.PEMChain("chain")))
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			_, _ = s.Sign(context.Background(), signer.Request{})
			s.Enqueue(signertest.Returns(signer.PEMChain("chain")))
			_ = s.Requests()
		})
	}
	wg.Wait()
	if s.Calls() != 20 {
		t.Errorf("Calls() = %d, want 20", s.Calls())
	}
}

func TestProgress(t *testing.T) {
	var p signertest.Progress
	ctx := context.Background()
	if err := p.Annotate(ctx, "k", "v"); err != nil {
		t.Fatalf("Annotate error = %v", err)
	}
	boom := errors.New("conflict")
	p.FailWith(boom)
	if err := p.Annotate(ctx, "k2", "v2"); !errors.Is(err, boom) {
		t.Errorf("Annotate after FailWith = %v, want %v", err, boom)
	}
	got := p.Annotations()
	if len(got) != 1 || got["k"] != "v" {
		t.Errorf("Annotations() = %v, want only k=v", got)
	}
	got["k"] = "changed"
	if p.Annotations()["k"] != "v" {
		t.Errorf("Annotations() is not a copy")
	}
}
