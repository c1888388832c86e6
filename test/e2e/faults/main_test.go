// Package faults runs the operator against a real control plane and breaks things underneath
// it: the manager is killed mid-flight, the API server restarts, two replicas elect a leader, and
// writes conflict or fail. Each test asserts that nothing is lost or doubled: every CSR ends with
// one certificate and one governance record of its issuance, and none is Failed or Denied.
//
// Managers are started by the tests themselves (TestMain starts only the control plane) so that
// each test controls restarts.
package faults

import (
	"os"
	"testing"

	ctrl "sigs.k8s.io/controller-runtime"

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
	os.Exit(harness.ControlPlaneMain(m, &env, clusterResourceNamespace))
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
