//go:build !unit

package controllers_test

import (
	"os"
	"testing"

	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/signerpolicy/signer-policy-operator/controllers"
	"github.com/signerpolicy/signer-policy-operator/internal/approvers"
	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/acme"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/ca"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/selfsigned"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/vault"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/venafi"
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
	os.Exit(harness.Main(m, &env, managerOptions()))
}

// managerOptions is the wiring main.go ships, with the approval-observing webhook served; each
// call is a fresh process's, which remembers no approver.
func managerOptions() controllers.Options {
	return controllers.Options{
		// The issuer types main.go registers, so that every sample policy can become Ready; the
		// Vault, Venafi and ACME signers are exercised against their peers in test/e2e.
		Signers: func(mgr ctrl.Manager) (*signer.Registry, error) {
			secrets := mgr.GetAPIReader()
			venafiSigner, err := venafi.New(venafi.Options{APIReader: secrets})
			if err != nil {
				return nil, err
			}
			acmeSigner, err := acme.New(mgr, acme.Options{ClusterResourceNamespace: clusterResourceNamespace})
			if err != nil {
				return nil, err
			}
			return signer.NewRegistry(
				signer.Entry{Type: signer.TypeCA, Signer: ca.New(secrets)},
				signer.Entry{Type: signer.TypeSelfSigned, Signer: selfsigned.New(secrets)},
				signer.Entry{Type: signer.TypeVault, Signer: vault.New(secrets, mgr.GetClient(), clock.RealClock{})},
				signer.Entry{Type: signer.TypeVenafi, Signer: venafiSigner},
				signer.Entry{Type: signer.TypeACME, Signer: acmeSigner},
			)
		},
		ClusterResourceNamespace: clusterResourceNamespace,
		Concurrency:              4, // main.go's default
		AuditLog:                 records.Logger(),
		Approvers:                approvers.NewObservations(clock.RealClock{}),
	}
}
