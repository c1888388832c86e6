// Command demo runs signer-policy-operator end to end on a local control plane: it starts
// kube-apiserver and etcd, runs the operator binary against them as its own process, and shows
// with kubectl what a platform team sees when it applies an issuer and its SignerPolicies.
//
// Run it with `make demo`; `make demo KEEP=1` leaves everything running for exploration.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

// clusterResourceNamespace stands for the namespace the operator would be installed in.
const clusterResourceNamespace = "signer-policy-system"

func main() {
	manager := flag.String("manager", "bin/manager", "Path of the operator binary to run.")
	plugin := flag.String("plugin", "bin/kubectl-signerpolicy", "Path of the kubectl plugin to run.")
	keep := flag.Bool("keep", false, "Keep the control plane and operator running until interrupted.")
	readme := flag.String("readme", "", "Check that the transcript in this README is what the demo printed.")
	flag.Parse()
	stop, err := teeStdout()
	if err == nil {
		err = run(*manager, *plugin, *keep)
		output := stop()
		if err == nil && *readme != "" {
			err = checkREADME(*readme, output)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

func run(managerPath, pluginPath string, keep bool) error {
	root, err := harness.ModuleRoot()
	if err != nil {
		return err
	}
	step("Starting a local control plane (kube-apiserver and etcd built from source)")
	env, err := harness.Start()
	if err != nil {
		return err
	}
	defer func() {
		step("Stopping the control plane")
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the control plane:", err)
		}
	}()

	dir, err := os.MkdirTemp("", "signer-policy-demo-")
	if err != nil {
		return err
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.KubeConfig, 0o600); err != nil {
		return err
	}
	k := kubectl{path: filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl"), plugin: inRoot(root, pluginPath), kubeconfig: kubeconfig, root: root}

	// ClusterIssuers' Secrets live in the operator's namespace, as with cert-manager.
	if err := env.Admin.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: clusterResourceNamespace}}); err != nil {
		return err
	}
	step("Starting the operator as its own process (logs: " + filepath.Join(dir, "operator.log") + ")")
	stopOperator, err := startOperator(inRoot(root, managerPath), kubeconfig, filepath.Join(dir, "operator.log"))
	if err != nil {
		return err
	}
	defer stopOperator()

	if err := showPolicyLifecycle(k); err != nil {
		return err
	}
	if err := showCSRRoundTrip(context.Background(), env, k, dir); err != nil {
		return err
	}
	if err := showTenancy(context.Background(), env, k, dir); err != nil {
		return err
	}

	if keep {
		fmt.Printf("\nThe control plane and the operator keep running. Explore with:\n\n"+
			"  export KUBECONFIG=%s\n  %s get signerpolicies\n\nPress Ctrl-C to stop.\n", kubeconfig, k.path)
		ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer cancel()
		<-ctx.Done()
	}
	return nil
}

// showPolicyLifecycle applies a policy before its issuer exists, then the issuer, then the rest
// of the samples, showing what the operator reports at each step.
func showPolicyLifecycle(k kubectl) error {
	step("A SignerPolicy for team-a's CA Issuer, applied before the issuer exists")
	if err := k.show("create", "namespace", "team-a"); err != nil {
		return err
	}
	if err := k.show("apply", "--server-side", "-f", "config/samples/policy_v1alpha1_signerpolicy_automatic.yaml"); err != nil {
		return err
	}
	if err := k.waitFor("signerpolicy/team-a-workloads", "condition=Ready=False"); err != nil {
		return err
	}
	if err := k.show("get", "signerpolicies"); err != nil {
		return err
	}
	if err := k.show("get", "signerpolicy", "team-a-workloads", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].message}{"\n"}`); err != nil {
		return err
	}

	step("Creating the issuer: the policy becomes Ready")
	if err := k.show("apply", "--server-side", "-f", "config/samples/cert-manager_v1_issuer_ca.yaml"); err != nil {
		return err
	}
	if err := k.waitFor("signerpolicy/team-a-workloads", "condition=Ready"); err != nil {
		return err
	}

	step("All samples: policies on one issuer and on issuers by pattern, Automatic and Manual")
	if err := k.show("apply", "--server-side", "-k", "config/samples"); err != nil {
		return err
	}
	if err := k.show("wait", "--for=condition=Ready", "signerpolicies", "--all", "--timeout=60s"); err != nil {
		return err
	}
	if err := k.show("get", "signerpolicies"); err != nil {
		return err
	}
	step("The status a requester needs: the exact signerName for their CSRs")
	return k.show("get", "signerpolicy", "team-a-workloads", "-o", "jsonpath={.status}{\"\\n\"}")
}

// startOperator runs the operator binary against the demo's kubeconfig and returns a function
// that stops it gracefully.
func startOperator(path, kubeconfig, logPath string) (func(), error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, "--kubeconfig", kubeconfig, "--metrics-bind-address", "0", "--health-probe-bind-address", "0",
		"--cluster-resource-namespace", clusterResourceNamespace, "--acme-http01-bind-address", "127.0.0.1:0")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s (run `make build` first): %w", path, err)
	}
	return func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
		_ = logFile.Close()
	}, nil
}

// inRoot resolves a path given relative to the module root, as the Makefile gives them.
func inRoot(root, path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(root, path)
}

// kubectl runs kubectl, and the kubectl plugin at plugin, as a reader would type them.
type kubectl struct{ path, plugin, kubeconfig, root string }

// as runs kubectl with the user's own credentials.
func (k kubectl) as(u user) kubectl {
	k.kubeconfig = u.kubeconfig
	return k
}

// show prints a kubectl command the way a reader would type it, then its output.
func (k kubectl) show(args ...string) error {
	fmt.Printf("\n$ kubectl %s\n", strings.Join(quote(args), " "))
	cmd := exec.Command(k.path, append([]string{"--kubeconfig", k.kubeconfig}, args...)...)
	cmd.Dir = k.root
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stdout
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("kubectl %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// signerpolicy prints `kubectl signerpolicy args...` and runs the plugin's binary, as kubectl
// itself would once the binary is on PATH.
func (k kubectl) signerpolicy(args ...string) error {
	fmt.Printf("\n$ kubectl signerpolicy %s\n", strings.Join(quote(args), " "))
	cmd := exec.Command(k.plugin, append([]string{"--kubeconfig", k.kubeconfig}, args...)...)
	cmd.Dir = k.root
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stdout
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("kubectl signerpolicy %s (run `make plugin` first): %w", strings.Join(args, " "), err)
	}
	return nil
}

func (k kubectl) waitFor(object, condition string) error {
	return k.show("wait", "--for="+condition, object, "--timeout=60s")
}

func quote(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, ` {}[]"?@()`) {
			a = "'" + a + "'"
		}
		out[i] = a
	}
	return out
}

func step(s string) { fmt.Printf("\n==> %s\n", s) }
