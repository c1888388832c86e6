// Package badinput submits a corpus of malformed CSRs, annotations, signerNames and policies
// (test/testdata/badinput) to a real API server with the operator running, and checks that each
// gets its documented outcome, that the operator never panics, and that a good CSR submitted
// among them is still issued promptly.
package badinput

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/signerpolicy/signer-policy-operator/controllers"
	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/ca"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

// clusterResourceNamespace holds ClusterIssuers' Secrets in these tests.
const clusterResourceNamespace = "signer-policy-system"

var (
	env *harness.Env
	// records are the governance records the operator wrote.
	records = &harness.AuditSink{}
)

func TestMain(m *testing.M) {
	harness.LogToStderr()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	e, err := harness.Start(clusterResourceNamespace)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if err := e.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the control plane:", err)
		}
	}()
	stop, err := startManager(e)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env = e
	code := m.Run()
	// The manager must still be running after every bad input, and stop cleanly.
	if err := stop(); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "the manager stopped with:", err)
		code = 1
	}
	return code
}

// startManager runs the operator as harness.RunManager does, except that panics in reconcilers
// are not recovered: controller-runtime recovers them by default and turns them into errors,
// which would hide exactly what this package looks for. Unrecovered, a panic crashes the test
// binary and fails the run.
func startManager(e *harness.Env) (stop func() error, err error) {
	mgr, err := ctrl.NewManager(e.Config, ctrl.Options{
		Scheme:                 e.Scheme,
		Cache:                  controllers.CacheOptions(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true), RecoverPanic: ptr.To(false)},
	})
	if err != nil {
		return nil, fmt.Errorf("creating manager: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	opts := controllers.Options{
		Signers: func(mgr ctrl.Manager) (*signer.Registry, error) {
			return signer.NewRegistry(signer.Entry{Type: signer.TypeCA, Signer: ca.New(mgr.GetAPIReader())})
		},
		ClusterResourceNamespace: clusterResourceNamespace,
		Concurrency:              4,
		AuditLog:                 records.Logger(),
	}
	if err := controllers.Setup(ctx, mgr, opts); err != nil {
		cancel()
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		cancel()
		return nil, errors.Join(errors.New("manager cache did not sync"), <-done)
	}
	return func() error { cancel(); return <-done }, nil
}
