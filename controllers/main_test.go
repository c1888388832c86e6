package controllers_test

import (
	"os"
	"testing"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/signerpolicy/signer-policy-operator/controllers"
	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/ca"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/selfsigned"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

// clusterResourceNamespace holds ClusterIssuers' Secrets in these tests.
const clusterResourceNamespace = "signer-policy-system"

var (
	// env is the control plane and manager every test in this package shares.
	env *harness.Env
	// records are the governance records the operator wrote.
	records = &harness.AuditSink{}
)

func TestMain(m *testing.M) {
	os.Exit(harness.Main(m, &env, controllers.Options{
		Signers: func(mgr ctrl.Manager) (*signer.Registry, error) {
			secrets := mgr.GetAPIReader()
			return signer.NewRegistry(
				signer.Entry{Type: signer.TypeCA, Signer: ca.New(secrets)},
				signer.Entry{Type: signer.TypeSelfSigned, Signer: selfsigned.New(secrets)},
			)
		},
		ClusterResourceNamespace: clusterResourceNamespace,
		Concurrency:              4, // main.go's default
		AuditLog:                 records.Logger(),
	}))
}
