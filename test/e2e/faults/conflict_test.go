package faults

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

// labelPatch is another client's edit of a CSR: a merge patch without a resourceVersion, so it
// never conflicts itself but moves the CSR's resourceVersion past what the operator read.
func labelPatch(ctx context.Context, name, value string) error {
	patch := fmt.Appendf(nil, `{"metadata":{"labels":{"faults.signerpolicy.dev/touched":%q}}}`, value)
	obj := &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: name}}
	return env.Admin.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch))
}

// TestStatusWriteConflictIsRetriedNotFailed changes a CSR underneath the operator while it
// approves and signs it. Two kinds of change: for certain, a label added between the operator's
// read and its first write to /approval and to /status (done by a transport that sits between the
// operator and the API server, so both writes are known to have conflicted); and a stream of
// label updates from another client racing the whole time. A conflict is the API server saying
// "read again", so the CSR must end issued exactly once with no Failed condition.
func TestStatusWriteConflictIsRetriedNotFailed(t *testing.T) {
	user := "requester-conflict"
	tn, run := tenantWithCA(t, user)
	name := run + "-conflicted"

	var (
		mu       sync.Mutex
		touched  = map[string]bool{}
		statuses = map[string][]int{}
	)
	cfg := withTransport(env.Config, func(next http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			sub, ok := csrRequest(r, name)
			if !ok || r.Method != http.MethodPut || (sub != "approval" && sub != "status") {
				return next.RoundTrip(r)
			}
			mu.Lock()
			first := !touched[sub]
			touched[sub] = true
			mu.Unlock()
			if first {
				// The operator has read the CSR and is about to write: change it now.
				if err := labelPatch(r.Context(), name, "before-"+sub); err != nil {
					t.Errorf("changing the CSR before its %s write: %v", sub, err)
				}
			}
			resp, err := next.RoundTrip(r)
			if err == nil {
				mu.Lock()
				statuses[sub] = append(statuses[sub], resp.StatusCode)
				mu.Unlock()
			}
			return resp, err
		})
	})
	sink := &harness.AuditSink{}
	opts, metrics := options(sink), prometheus.NewRegistry()
	opts.Metrics = metrics
	stop, err := env.RunManager(cfg, opts, metricsserver.Options{BindAddress: "0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop() })
	env.WaitForPolicyReady(t, tn.policy, policyReadyTimeout)
	requester := env.User(t, user)

	if err := createCSR(context.Background(), requester, newCSR(name, tn.signerName, run, requestPEM(t, "conflicted"))); err != nil {
		t.Fatal(err)
	}
	// A bounded stream: unbounded, it could keep the operator's cache forever behind and push its
	// per-object backoff out of any reasonable test.
	const hammer = 200
	var writes atomic.Int64
	hammered := make(chan error, 1)
	go func() {
		for i := range hammer {
			if err := labelPatch(context.Background(), name, fmt.Sprint(i)); err != nil {
				hammered <- err
				return
			}
			writes.Add(1)
		}
		hammered <- nil
	}()

	got := env.WaitForCSR(t, name, 2*time.Minute, func(c *certificatesv1.CertificateSigningRequest) error {
		if cond := refusal(c); cond != nil {
			t.Fatalf("CSR %s: %s", cond.Type, cond.Message)
		}
		if !done(c) {
			return fmt.Errorf("not issued yet: %+v", c.Status.Conditions)
		}
		return nil
	})
	if err := <-hammered; err != nil {
		t.Errorf("label updates: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d concurrent label updates; operator writes by response code: /approval %v, /status %v; events %v",
		writes.Load(), countCodes(statuses["approval"]), countCodes(statuses["status"]), eventReasons(env, name))
	for _, sub := range []string{"approval", "status"} {
		if !slices.Contains(statuses[sub], http.StatusConflict) {
			t.Errorf("no /%s write conflicted (%v): the test did not exercise the conflict", sub, statuses[sub])
		}
		if !slices.Contains(statuses[sub], http.StatusOK) {
			t.Errorf("no /%s write succeeded (%v)", sub, statuses[sub])
		}
	}
	// After the hammer the CSR is re-read, so the check sees the final object.
	got = env.WaitForCSR(t, got.Name, 10*time.Second, func(*certificatesv1.CertificateSigningRequest) error { return nil })
	verifyIssuedOnce(t, got, sink, tn.root)
	// A retried write is one decision and one issuance, in the metrics as in the records.
	for _, m := range []struct {
		name   string
		labels map[string]string
	}{
		{"signerpolicy_csr_decisions_total", map[string]string{"policy": tn.policy, "result": "approve", "issuer_kind": "Issuer"}},
		{"signerpolicy_csr_signing_total", map[string]string{"issuer_kind": "Issuer", "issuer_type": "CA", "result": "issued", "reason": "CertificateIssued"}},
	} {
		if got := counterValue(t, metrics, m.name, m.labels); got != 1 {
			t.Errorf("%s%v = %v after one CSR, want 1", m.name, m.labels, got)
		}
	}
}

// counterValue reads one counter with exactly the given labels from the registry.
func counterValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func countCodes(codes []int) map[int]int {
	n := map[int]int{}
	for _, c := range codes {
		n[c]++
	}
	return n
}
