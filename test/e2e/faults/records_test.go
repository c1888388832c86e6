package faults

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/client-go/rest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

// TestDecisionsAreRecordedWhenTheWriteResponseIsLost lets the operator's first /approval and
// first /status write reach the API server and succeed there, then loses the response on the
// way back (the operator sees a 500), as a dropped connection or a process stopped mid-request
// would. The CSR is approved and issued all the same, so each must still have its one governance
// record: the API server holds the outcome, and the trail must say how it came about.
func TestDecisionsAreRecordedWhenTheWriteResponseIsLost(t *testing.T) {
	user := "requester-lost-response"
	tn, run := tenantWithCA(t, user)
	name := run + "-lost"

	var (
		mu   sync.Mutex
		lost = map[string]int{}
	)
	cfg := withTransport(env.Config, func(next http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			sub, ok := csrRequest(r, name)
			if !ok || r.Method != http.MethodPut || (sub != "approval" && sub != "status") {
				return next.RoundTrip(r)
			}
			resp, err := next.RoundTrip(r)
			if err != nil || resp.StatusCode != http.StatusOK {
				return resp, err
			}
			mu.Lock()
			defer mu.Unlock()
			if lost[sub] > 0 {
				return resp, nil
			}
			lost[sub]++
			_ = resp.Body.Close()
			return internalError(r), nil
		})
	})
	got, sink := issueThrough(t, cfg, tn, user, run, name, "lost")
	mu.Lock()
	if lost["approval"] != 1 || lost["status"] != 1 {
		t.Fatalf("responses lost: %v; the test did not exercise both writes", lost)
	}
	mu.Unlock()
	t.Logf("events %v", eventReasons(env, name))
	verifyIssuedOnce(t, got, sink, tn.root)
}

// issueThrough runs the operator over cfg, whose transport breaks what the test breaks, submits
// the CSR name for host.example.com as the tenant's requester user, and waits until it is issued
// It returns the CSR and the governance records the operator wrote.
func issueThrough(t *testing.T, cfg *rest.Config, tn *tenant, user, run, name, host string) (*certificatesv1.CertificateSigningRequest, *harness.AuditSink) {
	t.Helper()
	sink := &harness.AuditSink{}
	stop, err := env.RunManager(cfg, options(sink), metricsserver.Options{BindAddress: "0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop() })
	env.WaitForPolicyReady(t, tn.policy, policyReadyTimeout)
	requester := env.User(t, user)

	if err := createCSR(context.Background(), requester, newCSR(name, tn.signerName, run, requestPEM(t, host))); err != nil {
		t.Fatal(err)
	}
	got := env.WaitForCSR(t, name, time.Minute, func(c *certificatesv1.CertificateSigningRequest) error {
		if !done(c) {
			return fmt.Errorf("not issued yet: %+v", c.Status.Conditions)
		}
		return nil
	})
	return got, sink
}
