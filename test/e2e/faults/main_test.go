// Package faults runs the operator against a real control plane and breaks things underneath
// it: the manager is killed mid-flight, the API server restarts, two replicas elect a leader, and
// writes conflict or fail. Each test asserts that nothing is lost or doubled: every CSR ends with
// one certificate and one governance record of its issuance, and none is Failed or Denied.
//
// Managers are started by the tests themselves (TestMain starts only the control plane) so that
// each test controls restarts.
package faults

import (
	"context"
	"fmt"
	"os"
	"testing"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/signerpolicy/signer-policy-operator/controllers"
	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/ca"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

// clusterResourceNamespace holds ClusterIssuers' Secrets in these tests.
const clusterResourceNamespace = "signer-policy-system"

// env is the control plane every test here shares except the API server restart test, which
// needs a control plane of its own to restart.
var env *harness.Env

func TestMain(m *testing.M) {
	logf.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.UseDevMode(true), zap.Level(logLevel())))
	os.Exit(run(m))
}

func run(m *testing.M) int {
	e, err := harness.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if err := e.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the control plane:", err)
		}
	}()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: clusterResourceNamespace}}
	if err := e.Admin.Create(context.Background(), ns); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env = e
	return m.Run()
}

// options wires the operator as main.go does, with the CA signer only and the governance records
// going to sink. Concurrency 4 is main.go's default.
func options(sink *harness.AuditSink) controllers.Options {
	return controllers.Options{
		Signers: func(mgr ctrl.Manager) (*signer.Registry, error) {
			return signer.NewRegistry(signer.Entry{Type: signer.TypeCA, Signer: ca.New(mgr.GetAPIReader())})
		},
		ClusterResourceNamespace: clusterResourceNamespace,
		Concurrency:              4,
		AuditLog:                 sink.Logger(),
	}
}

// logLevel keeps output to errors unless TEST_LOG_LEVEL asks for more, as the harness does.
// Faults make the operator log errors on purpose (cancelled contexts, conflicts, a missing API
// server); they are expected here and the assertions decide the outcome.
func logLevel() zapcore.Level {
	if l, err := zapcore.ParseLevel(os.Getenv("TEST_LOG_LEVEL")); err == nil && os.Getenv("TEST_LOG_LEVEL") != "" {
		return l
	}
	return zapcore.ErrorLevel
}
