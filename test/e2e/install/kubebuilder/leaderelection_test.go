//go:build !unit

package kubebuilder

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

// Outside a cluster the operator has no namespace of its own to hold its leader election Lease:
// with --leader-elect alone it exits saying so, and --leader-election-namespace, as kubebuilder's
// scaffold takes it, names one. This is how `make run ARGS="--leader-elect
// --leader-election-namespace=..."` runs it against a cluster.
func TestOperatorOutsideAClusterElectsItsLeaderInTheNamedNamespace(t *testing.T) {
	bin := buildOperator(t)
	config := kubeconfig(t)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "leases-"}}
	if err := env.Admin.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	args := []string{"--kubeconfig", config, "--controllers=policy", "--cluster-resource-namespace", ns.Name,
		"--metrics-bind-address=0", "--health-probe-bind-address=0", "--leader-elect"}

	out, err := runFor(t, bin, time.Minute, args...)
	if err == nil || !strings.Contains(out, "LeaderElectionNamespace") {
		t.Errorf("--leader-elect without a namespace, outside a cluster: exited with %v, want an error naming the lease namespace:\n%s", err, out)
	}

	cmd := exec.Command(bin, append(args, "--leader-election-namespace", ns.Name)...)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Registered first, so it runs after the process is stopped and its log complete.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("operator log:\n%s", log.String())
		}
	})
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	harness.Eventually(t, time.Minute, func() error {
		var lease coordinationv1.Lease
		key := client.ObjectKey{Namespace: ns.Name, Name: "signer-policy-operator-policy"}
		if err := env.Admin.Get(context.Background(), key, &lease); err != nil {
			return err
		}
		if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
			return fmt.Errorf("lease %s has no holder", key)
		}
		return nil
	})
}

// buildOperator builds main.go as `make build` does, into the test's own directory.
func buildOperator(t *testing.T) string {
	t.Helper()
	bin := t.TempDir() + "/manager"
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the operator: %v\n%s", err, out)
	}
	return bin
}

// runFor runs the binary until it exits or the timeout passes, returning its output.
func runFor(t *testing.T, bin string, timeout time.Duration, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if ctx.Err() != nil {
		return string(out), fmt.Errorf("still running after %s", timeout)
	}
	return string(out), err
}
