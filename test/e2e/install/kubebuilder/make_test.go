//go:build !unit

package kubebuilder

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

// testImage is the operator image the deployment targets are given, as a user's IMG.
const testImage = "registry.example.com/team/signer-policy-operator:v9.9.9"

// runMake runs a target of the Makefile with the given variables, against the test's API server,
// and returns its combined output. It never lets make regenerate the committed generated files
// or rebuild the control plane binaries (-o); the make that runs `go test` does both first.
func runMake(t *testing.T, args ...string) (string, error) {
	t.Helper()
	kubectl := filepath.Join(root, "bin", "k8s", "kubectl")
	cmd := exec.Command("make", append([]string{"--no-print-directory", "-o", "manifests", "-o", "generate", "-o", kubectl}, args...)...)
	cmd.Dir = root
	cmd.Env = append(makeFreeEnv(), "KUBECONFIG="+kubeconfig(t))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// mustMake is runMake that fails the test when the target fails.
func mustMake(t *testing.T, args ...string) string {
	t.Helper()
	out, err := runMake(t, args...)
	if err != nil {
		t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// makeFreeEnv is the test's environment without what an enclosing `make test` passes down, so
// that its flags and variables do not leak into the targets under test.
func makeFreeEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "KUBECONFIG":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// kubeconfig writes the admin's kubeconfig for the test's API server, as a user's would be.
func kubeconfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, env.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// restoreCRD puts the CRDs back as the harness installed them, for the tests that follow one
// that uninstalls them.
func restoreCRD(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		for _, name := range []string{"policy.signerpolicy.dev_signerpolicies.yaml", "policy.signerpolicy.dev_namespacedsignerpolicies.yaml"} {
			objs, err := harness.ReadObjects(filepath.Join(root, "config", "crd", "bases", name))
			if err == nil {
				err = harness.Apply(context.Background(), env.Admin, objs)
			}
			if err != nil {
				t.Errorf("restoring the CRD of %s: %v", name, err)
			}
		}
	})
}

// exists reads the object, returning whether it exists.
func exists(t *testing.T, obj client.Object) bool {
	t.Helper()
	err := env.Admin.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
	if client.IgnoreNotFound(err) != nil {
		t.Fatal(err)
	}
	return err == nil
}
