//go:build !unit

package cli_test

import (
	"os"
	"testing"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/signerpolicy/signer-policy-operator/controllers"
	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/ca"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

// env is the control plane and operator every test of the plugin talks to: the plugin is run
// in-process against the real API server as users envtest authenticates, with the operator's
// controllers deciding and signing the CSRs it explains and submits.
var env *harness.Env

func TestMain(m *testing.M) {
	os.Exit(harness.Main(m, &env, controllers.Options{
		Signers: func(mgr ctrl.Manager) (*signer.Registry, error) {
			return signer.NewRegistry(signer.Entry{Type: signer.TypeCA, Signer: ca.New(mgr.GetAPIReader())})
		},
		ClusterResourceNamespace: "signer-policy-system",
	}))
}
