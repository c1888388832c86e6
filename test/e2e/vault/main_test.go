// Package vault_test runs the Vault signer end to end: the operator's manager on a real control
// plane (test/harness) signs CSRs for Vault Issuers and ClusterIssuers through the real Vault API
// client, against the Vault test server of test/vault on 127.0.0.1. Kubernetes auth is real end to
// end: the operator requests service-account tokens with the TokenRequest API and the test server
// validates them with the API server's TokenReview API.
package vault_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/signerpolicy/signer-policy-operator/controllers"
	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/ca"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/vault"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
	vaulttest "github.com/signerpolicy/signer-policy-operator/test/vault"
)

// clusterResourceNamespace holds ClusterIssuers' Secrets and service accounts in these tests.
const clusterResourceNamespace = "vault-e2e-system"

var (
	// env is the control plane and manager every test in this package shares.
	env *harness.Env
	// records are the governance records the operator wrote.
	records = &harness.AuditSink{}
	// server is the Vault every test talks to; each test gives its issuer its own PKI role and
	// auth mount, so tests run in parallel and count their own logins.
	server *vaulttest.Server
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if server, err = vaulttest.Start(vaulttest.Config{TokenReviewer: envReviewer{}}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer server.Close()
	return harness.Main(m, &env, controllers.Options{
		// As main.go registers them: secrets through the API reader (never cached), service
		// account tokens through the manager's client. CA issuers are the healthy neighbours.
		Signers: func(mgr ctrl.Manager) (*signer.Registry, error) {
			return signer.NewRegistry(
				signer.Entry{Type: signer.TypeCA, Signer: ca.New(mgr.GetAPIReader())},
				signer.Entry{Type: signer.TypeVault, Signer: vault.New(mgr.GetAPIReader(), mgr.GetClient(), clock.RealClock{})},
			)
		},
		ClusterResourceNamespace: clusterResourceNamespace,
		Concurrency:              4, // main.go's default
		AuditLog:                 records.Logger(),
	})
}

// envReviewer validates JWTs through the suite's API server, as Vault's Kubernetes auth does with
// its token reviewer. The API server only exists once harness.Main has started it, after the
// Vault server, so the reviewer finds it at call time.
type envReviewer struct{}

func (envReviewer) Review(ctx context.Context, jwt string, audiences []string) (string, bool, error) {
	r, err := vaulttest.APIServerTokenReviewer(env.Config)
	if err != nil {
		return "", false, err
	}
	return r.Review(ctx, jwt, audiences)
}
