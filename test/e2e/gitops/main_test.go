//go:build !unit

// Package gitops proves that the tools GitOps users watch their SignerPolicies with read them
// right: kstatus (the library Flux and kpt judge health with) and the Argo CD health check in
// config/gitops, each against policies the operator really reported on, on a real control plane.
package gitops

import (
	"os"
	"testing"

	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

// TestMain runs the policy controller with options, on the control plane env is; tests stop and
// start it again to see policies it has not reported on.
func TestMain(m *testing.M) {
	os.Exit(harness.Main(m, &env, options))
}
