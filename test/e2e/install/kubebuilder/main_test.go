//go:build !unit

// Package kubebuilder runs the Makefile's kubebuilder targets as a kubebuilder user would, against
// the real control plane: `make install`, `uninstall`, `deploy` and `undeploy` with kubectl from
// bin/k8s and a kubeconfig for the test's API server, `make build-installer` and `make bundle`
// into temporary directories, the container targets against a stand-in container engine, and the
// operator binary run outside a cluster with leader election. Each target is run through make
// itself, never re-enacted in Go, and never writes to the working tree: generated files are
// checked current by `make verify-generated` before the tests, so make is told (-o) not to
// regenerate them.
package kubebuilder

import (
	"fmt"
	"os"
	"testing"

	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

var (
	env *harness.Env
	// root is the module root, where make runs.
	root string
)

func TestMain(m *testing.M) {
	var err error
	if root, err = harness.ModuleRoot(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(harness.ControlPlaneMain(m, &env))
}
