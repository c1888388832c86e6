package acme

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/go-acme/lego/v4/acme"
	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

func TestStateStorePrefersMemoryAndSweeps(t *testing.T) {
	seal := testSealer(t)
	seal.csrUID = "u1"
	csr := &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{UID: "u1", Annotations: map[string]string{OrderURLAnnotation: seal.orderURL("https://acme/order/1")}}}
	var s stateStore
	now := time.Now()
	st := s.load(csr, now, seal, "b")
	if st.orderURL != "https://acme/order/1" {
		t.Fatalf("state from annotations: %+v", st)
	}
	st.orderURL = "https://acme/order/2"
	// A stale copy from the cache does not override what this process knows.
	if got := s.load(csr, now.Add(time.Second), seal, "b"); got.orderURL != "https://acme/order/2" {
		t.Errorf("memory lost to the annotation: %q", got.orderURL)
	}
	other := &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{UID: "u2"}}
	s.load(other, now.Add(idleExpiry+2*time.Minute), seal, "b")
	if _, kept := s.states["u1"]; kept {
		t.Error("an idle state survived the sweep")
	}
	s.forget("u2")
	if len(s.states) != 0 {
		t.Errorf("states left: %v", s.states)
	}
}

func TestPollBackoff(t *testing.T) {
	b := pollBackoff{base: time.Second, max: 5 * time.Second}
	for idle, want := range []time.Duration{time.Second, time.Second, 2 * time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second} {
		if got := b.after(idle); got != want {
			t.Errorf("after(%d) = %s, want %s", idle, got, want)
		}
	}
	if got := b.after(1000); got != 5*time.Second {
		t.Errorf("after(1000) = %s", got)
	}
}

func TestClassifyOrderError(t *testing.T) {
	problem := func(status int, typ string) error {
		return fmt.Errorf("wrapped: %w", &acme.ProblemDetails{HTTPStatus: status, Type: "urn:ietf:params:acme:error:" + typ, Detail: "the detail"})
	}
	err := classifyOrderError(problem(http.StatusBadRequest, "rejectedIdentifier"), "creating", time.Second)
	if pe, ok := signer.AsPermanent(err); !ok || pe.Reason != ReasonOrderFailed || pe.Message != "creating: the ACME server refused: rejectedIdentifier: the detail" {
		t.Errorf("refusal: %v", err)
	}
	rl := &acme.RateLimitedError{ProblemDetails: &acme.ProblemDetails{HTTPStatus: http.StatusTooManyRequests, Type: acme.RateLimitedErr}, RetryAfter: "7"}
	if pe, ok := signer.AsPending(classifyOrderError(rl, "creating", time.Second)); !ok || pe.Reason != ReasonRateLimited || pe.RequeueAfter != 7*time.Second {
		t.Errorf("rate limit: %+v", pe)
	}
	for _, err := range []error{problem(http.StatusInternalServerError, "serverInternal"), problem(http.StatusBadRequest, "badNonce"), errors.New("connection reset")} {
		got := classifyOrderError(err, "creating", time.Second)
		if _, ok := signer.AsPermanent(got); ok {
			t.Errorf("%v became permanent", err)
		}
		if _, ok := signer.AsPending(got); ok {
			t.Errorf("%v became pending", err)
		}
	}
}
