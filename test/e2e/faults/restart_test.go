package faults

import (
	"context"
	"errors"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

// TestManagerKilledTwiceMidFlightIssuesEachCSRExactlyOnce submits 200 CSRs to a CA Issuer under
// an Automatic policy while the operator is stopped and replaced twice, each time while CSRs are
// still being submitted or worked on. A stop cancels the manager's context, so reconciles in
// flight are cut off wherever they are, between approval and signing or between a signature and
// its status write, as a crash or a rollout would cut them. Every CSR must end issued exactly
// once, with every record there at least once (see verifyIssuedAtLeastOnce), and none Failed or
// Denied.
func TestManagerKilledTwiceMidFlightIssuesEachCSRExactlyOnce(t *testing.T) {
	const total = 200
	// Every manager writes into the same sink, as every replica of a Deployment writes into the
	// same log pipeline: the trail is judged as a whole.
	sink := &harness.AuditSink{}
	start := func() func() error {
		t.Helper()
		stop, err := env.RunManager(env.Config, options(sink), metricsserver.Options{BindAddress: "0"})
		if err != nil {
			t.Fatal(err)
		}
		return stop
	}
	stop := start()
	t.Cleanup(func() { _ = stop() })

	tn, run, sub := submitInBackground(t, "requester-restart", total)

	// Each kill waits for some progress, so that the operator is demonstrably at work, and
	// then stops it at once: CSRs are then in every state from unsubmitted to half-signed.
	for kill, progress := range []int{20, 100} {
		items := waitDone(t, env, run, progress, 3*time.Minute)
		doneNow, submittedNow := countDone(items), sub.created.Load()
		if err := stop(); err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("stopping the manager: %v", err)
		}
		t.Logf("kill %d: %d of %d CSRs done, %d submitted when the manager was stopped", kill+1, doneNow, total, submittedNow)
		if doneNow >= total {
			t.Fatalf("kill %d came after every CSR was done, so nothing was in flight", kill+1)
		}
		stop = start()
	}
	if err := <-sub.done; err != nil {
		t.Fatal(err)
	}
	items := waitDone(t, env, run, total, 3*time.Minute)
	t.Logf("all %d CSRs done %s after the first was submitted", total, time.Since(sub.began).Round(time.Millisecond))
	if len(items) != total {
		t.Fatalf("%d CSRs listed, want %d", len(items), total)
	}
	for i := range items {
		verifyIssuedAtLeastOnce(t, &items[i], sink, tn.root)
	}
}

func countDone(items []certificatesv1.CertificateSigningRequest) int {
	n := 0
	for i := range items {
		if done(&items[i]) {
			n++
		}
	}
	return n
}
