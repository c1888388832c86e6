package faults

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/signerpolicy/signer-policy-operator/controllers"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

// Leader election timings short enough for a test and long enough for a loaded machine to renew
// in time: a leader that cannot renew within RenewDeadline steps down, which would be a flake.
const (
	leaseDuration = 4 * time.Second
	renewDeadline = 3 * time.Second
	retryPeriod   = 500 * time.Millisecond
)

// replica is one operator instance of a Deployment with leader election. Each has its own audit
// sink, so the records tell which replica's controllers acted.
type replica struct {
	name string
	mgr  ctrl.Manager
	sink *harness.AuditSink
	stop func() error
}

// startReplica builds a manager the way harness.RunManager does, with leader election on.
// LeaderElectionReleaseOnCancel stays false so that a stopped leader keeps its lease until it
// expires, as a crashed pod would: the takeover then has to come from the lease running out.
func startReplica(t *testing.T, name, leaseNamespace, leaseName string) *replica {
	t.Helper()
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:                        env.Scheme,
		Cache:                         controllers.CacheOptions(),
		Metrics:                       metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress:        "0",
		Controller:                    config.Controller{SkipNameValidation: ptr.To(true)},
		LeaderElection:                true,
		LeaderElectionID:              leaseName,
		LeaderElectionNamespace:       leaseNamespace,
		LeaderElectionReleaseOnCancel: false,
		LeaseDuration:                 ptr.To(leaseDuration),
		RenewDeadline:                 ptr.To(renewDeadline),
		RetryPeriod:                   ptr.To(retryPeriod),
	})
	if err != nil {
		t.Fatalf("creating manager %s: %v", name, err)
	}
	r := &replica{name: name, mgr: mgr, sink: &harness.AuditSink{}}
	ctx, cancel := context.WithCancel(context.Background())
	if err := controllers.Setup(ctx, mgr, options(r.sink)); err != nil {
		cancel()
		t.Fatalf("setting up manager %s: %v", name, err)
	}
	finished := make(chan error, 1)
	go func() { finished <- mgr.Start(ctx) }()
	r.stop = sync.OnceValue(func() error { cancel(); return <-finished })
	t.Cleanup(func() { _ = r.stop() })
	return r
}

func (r *replica) elected() bool {
	select {
	case <-r.mgr.Elected():
		return true
	default:
		return false
	}
}

// waitElected waits for the replica to lead; the timeout only stops a hung test.
func (r *replica) waitElected(t *testing.T, timeout time.Duration) {
	t.Helper()
	select {
	case <-r.mgr.Elected():
	case <-time.After(timeout):
		t.Fatalf("replica %s not elected within %s", r.name, timeout)
	}
}

// TestLeaderElectionOnlyTheLeaderActsAndTheStandbyTakesOver runs two replicas with leader
// election. While the first leads, only its controllers act: every governance record of the
// first batch of CSRs is in its sink and the standby's sink holds none. When the leader stops
// without releasing its lease, the standby takes over once the lease expires and issues the CSRs
// submitted after the handover, again exactly once each.
func TestLeaderElectionOnlyTheLeaderActsAndTheStandbyTakesOver(t *testing.T) {
	const perBatch = 5
	leaseNamespace := env.Namespace(t)
	leaseName := "signer-policy-operator-" + leaseNamespace
	first := startReplica(t, "first", leaseNamespace, leaseName)
	// Starting the standby only once the first leads makes the roles certain.
	first.waitElected(t, 60*time.Second)
	standby := startReplica(t, "standby", leaseNamespace, leaseName)

	tn, requester, run := tenantInForce(t, "requester-leader")
	submit := func(batch string) []string {
		t.Helper()
		names := make([]string, perBatch)
		for i := range names {
			names[i] = fmt.Sprintf("%s-%s-%d", run, batch, i)
			if err := createCSR(context.Background(), requester, newCSR(names[i], tn.signerName, run, requestPEM(t, names[i]))); err != nil {
				t.Fatal(err)
			}
		}
		return names
	}

	firstBatch := submit("first")
	items := waitDone(t, env, run, perBatch, 60*time.Second)
	if standby.elected() {
		t.Fatal("both replicas are elected")
	}
	for i := range items {
		verifyIssuedOnce(t, &items[i], first.sink, tn.root)
	}
	for _, name := range firstBatch {
		if recs := standby.sink.For(name); len(recs) > 0 {
			t.Errorf("the standby's controllers acted on %s while the first replica led: %+v", name, recs)
		}
	}

	stoppedAt := time.Now()
	if err := first.stop(); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("stopping the leader: %v", err)
	}
	standby.waitElected(t, 60*time.Second)
	takeover := time.Since(stoppedAt)
	t.Logf("standby elected %s after the leader stopped (lease %s, retry period %s)",
		takeover.Round(time.Millisecond), leaseDuration, retryPeriod)
	// The lease ran out at most leaseDuration after the leader's last renewal, which came before
	// it stopped. The standby measures that on its own clock from when it saw the renewal, up to
	// a retry period late, and tries again each retry period: so the takeover is due within the
	// lease and two retry periods. A second more allows for a busy machine.
	if bound := leaseDuration + 2*retryPeriod + time.Second; takeover > bound {
		t.Errorf("the standby took over %s after the leader stopped; the lease (%s) allows %s", takeover, leaseDuration, bound)
	}

	secondBatch := submit("second")
	items = waitDone(t, env, run, 2*perBatch, 60*time.Second)
	for i := range items {
		for _, name := range secondBatch {
			if items[i].Name == name {
				verifyIssuedOnce(t, &items[i], standby.sink, tn.root)
			}
		}
	}
	for _, name := range secondBatch {
		if recs := first.sink.For(name); len(recs) > 0 {
			t.Errorf("the stopped leader recorded decisions about %s: %+v", name, recs)
		}
	}
	// The first batch was finished before the handover; the new leader cannot know which of its
	// records were written, so it writes them again, each a copy with its original's recordID.
	for _, name := range firstBatch {
		original := map[string]bool{}
		for _, r := range first.sink.For(name) {
			original[r.RecordID] = true
		}
		for _, r := range standby.sink.For(name) {
			if !original[r.RecordID] {
				t.Errorf("the new leader wrote a %s record about %s, finished before it led, that is no copy of the first leader's: %+v", r.Event, name, r)
			}
		}
	}
}
