// Package venafi_test runs the Venafi signer end to end: the operator's manager on a real
// control plane (test/harness) signs CSRs for Venafi Issuers and ClusterIssuers through the real
// vcert client, against the TPP and Venafi Cloud stand-ins of test/venafi on 127.0.0.1.
package venafi_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/signerpolicy/signer-policy-operator/controllers"
	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/ca"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/venafi"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
	venafitest "github.com/signerpolicy/signer-policy-operator/test/venafi"
)

// clusterResourceNamespace holds ClusterIssuers' Secrets in these tests.
const clusterResourceNamespace = "venafi-e2e-system"

// Polling is fast here so that several pending answers take well under a second; production
// keeps the defaults (5s to 5m).
const (
	minPoll    = 100 * time.Millisecond
	maxPoll    = time.Second
	retryAfter = time.Second
)

var (
	// env is the control plane and manager every test in this package shares.
	env *harness.Env
	// records are the governance records the operator wrote.
	records = &harness.AuditSink{}
	// serving is the TLS certificate every stand-in presents. The operator's signer is built
	// when the manager starts, before any test server exists, so the servers share one
	// certificate whose CA the signer trusts (Venafi Cloud issuers have no CA bundle field).
	serving *venafitest.LoopbackTLS
	// options start the manager, at first and after a restart.
	options controllers.Options
)

func TestMain(m *testing.M) {
	var err error
	if serving, err = venafitest.NewLoopbackTLS(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	options = controllers.Options{
		// As main.go registers them: one signer per issuer type, built with the manager's
		// API reader. CA issuers are here too, as the healthy neighbours of some tests.
		Signers: func(mgr ctrl.Manager) (*signer.Registry, error) {
			v, err := venafi.New(venafi.Options{
				APIReader: mgr.GetAPIReader(), Clock: clock.RealClock{},
				MinPoll: minPoll, MaxPoll: maxPoll, RetryAfter: retryAfter, RootCAs: serving.Pool,
			})
			if err != nil {
				return nil, err
			}
			return signer.NewRegistry(
				signer.Entry{Type: signer.TypeCA, Signer: ca.New(mgr.GetAPIReader())},
				signer.Entry{Type: signer.TypeVenafi, Signer: v},
			)
		},
		ClusterResourceNamespace: clusterResourceNamespace,
		Concurrency:              4,
		AuditLog:                 records.Logger(),
	}
	os.Exit(harness.Main(m, &env, options))
}
