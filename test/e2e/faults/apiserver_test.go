package faults

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/signerpolicy/signer-policy-operator/controllers"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

// TestAPIServerRestartWhileCSRsPendingRecoversWithoutOperatorRestart restarts the API server
// (etcd keeps running and keeps the data) while approved CSRs wait for their issuer's Secret, and
// checks that the one manager started at the beginning, never restarted, signs them once the
// Secret appears and also approves and signs CSRs created after the restart: its informers
// re-established their watches on their own.
func TestAPIServerRestartWhileCSRsPendingRecoversWithoutOperatorRestart(t *testing.T) {
	const perBatch = 10
	cp, e := startControlPlane(t)
	sink := &harness.AuditSink{}
	stop, err := e.RunManager(e.Config, options(sink), metricsserver.Options{BindAddress: "0"})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = stop()
		}
	})

	user := "requester-apiserver"
	requester := userClient(t, cp, e, user)
	// The Secret is created only after the restart, so the first batch is approved and then
	// held pending by the CA signer across it.
	tn := newTenant(t, e, user)
	e.WaitForPolicyReady(t, tn.policy, policyReadyTimeout)
	run := tn.ns
	deleteRun(t, e, run)
	submit := func(batch string) {
		t.Helper()
		for i := range perBatch {
			name := fmt.Sprintf("%s-%s-%d", run, batch, i)
			if err := createCSR(context.Background(), requester, newCSR(name, tn.signerName, run, requestPEM(t, name))); err != nil {
				t.Fatal(err)
			}
		}
	}
	submit("before")
	harness.Eventually(t, 60*time.Second, func() error {
		items, _, err := listRun(e, run)
		if err != nil {
			return err
		}
		for i := range items {
			if harness.Condition(&items[i], certificatesv1.CertificateApproved) == nil || len(items[i].Status.Certificate) > 0 {
				return fmt.Errorf("CSR %s is not approved-and-pending: %+v", items[i].Name, items[i].Status.Conditions)
			}
		}
		if len(items) != perBatch {
			return fmt.Errorf("%d CSRs listed", len(items))
		}
		return nil
	})

	apiServer := cp.ControlPlane.APIServer
	port := apiServer.SecureServing.Port
	if err := apiServer.Stop(); err != nil {
		t.Fatalf("stopping the API server: %v", err)
	}
	// The outage is real: the address the operator uses answers nothing.
	if err := e.Admin.Get(context.Background(), client.ObjectKey{Name: run + "-before-0"}, &certificatesv1.CertificateSigningRequest{}); err == nil {
		t.Fatal("the API server still answers after Stop")
	}
	restarted := time.Now()
	if err := apiServer.Start(); err != nil {
		t.Fatalf("restarting the API server: %v", err)
	}
	// envtest chose the port at the first start and keeps it in SecureServing, so the operator's
	// REST config still points at the API server; a new port would test nothing about recovery.
	host, err := url.Parse(e.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	if apiServer.SecureServing.Port != port || host.Port() != port {
		t.Fatalf("API server came back on port %s, was %s; the operator talks to %s", apiServer.SecureServing.Port, port, e.Config.Host)
	}

	tn.installCA(t, e)
	submit("after")
	items := waitDone(t, e, run, 2*perBatch, 3*time.Minute)
	t.Logf("all %d CSRs done %s after the API server restart began", 2*perBatch, time.Since(restarted).Round(time.Millisecond))
	for i := range items {
		verifyIssuedOnce(t, &items[i], sink, tn.root)
	}
	// RunManager's stop returns what the manager's Start returned: an error here would mean the
	// manager had given up during the outage and the CSRs were signed by nothing we started.
	stopped = true
	if err := stop(); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("the manager exited with %v", err)
	}
}

// startControlPlane starts a control plane of the test's own, because harness.Env keeps its
// envtest.Environment unexported and this test must restart the API server. CertDir is fixed so
// that the restarted API server serves with the same certificate and trusts the same client CA:
// envtest otherwise makes a new temporary directory, and so a new serving CA, on every start,
// and the operator's REST config would no longer trust the server it reconnects to.
func startControlPlane(t *testing.T) (*envtest.Environment, *harness.Env) {
	t.Helper()
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmCRDs, err := harness.CertManagerCRDs(root)
	if err != nil {
		t.Fatal(err)
	}
	scheme, err := controllers.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	cp := &envtest.Environment{
		Scheme:                scheme,
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases"), cmCRDs},
		ErrorIfCRDPathMissing: true,
		ControlPlane:          envtest.ControlPlane{APIServer: &envtest.APIServer{CertDir: t.TempDir()}},
	}
	// Without a watch termination grace period the API server waits out its 60 s shutdown
	// timeout for the operator's open watches, longer than envtest's 20 s stop timeout, and is
	// then killed. A second is plenty for the watches to be closed cleanly.
	cp.ControlPlane.APIServer.Configure().Set("shutdown-watch-termination-grace-period", "1s")
	cfg, err := cp.Start()
	if err != nil {
		t.Fatalf("starting a second control plane: %v", err)
	}
	t.Cleanup(func() {
		if err := cp.Stop(); err != nil {
			t.Errorf("stopping the second control plane: %v", err)
		}
	})
	admin, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	// Only the exported fields are set: the methods used here (RunManager, Namespace, Create)
	// need nothing else, and users are added through cp.
	return cp, &harness.Env{Config: cfg, Scheme: scheme, Admin: admin, KubeConfig: cp.KubeConfig}
}

func userClient(t *testing.T, cp *envtest.Environment, e *harness.Env, name string, groups ...string) client.Client {
	t.Helper()
	u, err := cp.AddUser(envtest.User{Name: name, Groups: groups}, e.Config)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(u.Config(), client.Options{Scheme: e.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
