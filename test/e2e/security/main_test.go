// Package security checks, with the API server's real RBAC and admission, that tenants cannot
// reach each other's issuers: two namespaces, each with a CA Issuer under an Automatic policy
// and one under a Manual policy, each naming only that tenant's requester and approvers. No
// route gives a requester a certificate from the other tenant's issuer: automatic approval,
// the other tenant's approver, a person with every right approving anyway, or editing the
// policies; and the RBAC the operator generates grants exactly what the policies name.
package security

import (
	"os"
	"testing"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/signerpolicy/signer-policy-operator/controllers"
	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/ca"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

var (
	env *harness.Env
	// records are the governance records the operator wrote.
	records = &harness.AuditSink{}
)

func TestMain(m *testing.M) {
	os.Exit(harness.Main(m, &env, controllers.Options{
		Signers: func(mgr ctrl.Manager) (*signer.Registry, error) {
			return signer.NewRegistry(signer.Entry{Type: signer.TypeCA, Signer: ca.New(mgr.GetAPIReader())})
		},
		ClusterResourceNamespace: "signer-policy-system",
		Concurrency:              4,
		AuditLog:                 records.Logger(),
	}))
}
