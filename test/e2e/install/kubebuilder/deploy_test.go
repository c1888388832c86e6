//go:build !unit

package kubebuilder

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// `make deploy` installs everything config/default holds, running IMG, and `make undeploy`
// removes all of it again: the namespace, the CRD, the cluster-wide RBAC.
func TestDeployAndUndeploy(t *testing.T) {
	restoreCRD(t)
	want := build(t, "config/default")
	mustMake(t, "deploy", "IMG="+testImage)
	for _, o := range want {
		if !exists(t, o.DeepCopy()) {
			t.Errorf("make deploy did not create %s %s/%s", o.GetKind(), o.GetNamespace(), o.GetName())
		}
	}
	var deployment unstructured.Unstructured
	deployment.SetAPIVersion("apps/v1")
	deployment.SetKind("Deployment")
	if err := env.Admin.Get(context.Background(), client.ObjectKey{Namespace: "signer-policy-system", Name: "signer-policy-controller-manager"}, &deployment); err != nil {
		t.Fatal(err)
	}
	containers, _, _ := unstructured.NestedSlice(deployment.Object, "spec", "template", "spec", "containers")
	if image := containers[0].(map[string]any)["image"]; image != testImage {
		t.Errorf("the deployed operator runs %v, want IMG %s", image, testImage)
	}

	// The control plane has no namespace controller to empty and finalize a deleted namespace,
	// and `kubectl delete` waits until it is gone; act as that controller.
	finalized := finalizeNamespaceWhenDeleted(t, "signer-policy-system")
	mustMake(t, "undeploy")
	if err := <-finalized; err != nil {
		t.Fatal(err)
	}
	for _, o := range want {
		if exists(t, o.DeepCopy()) {
			t.Errorf("make undeploy left %s %s/%s", o.GetKind(), o.GetNamespace(), o.GetName())
		}
	}
	mustMake(t, "undeploy", "ignore-not-found=true")
}

// finalizeNamespaceWhenDeleted waits for the namespace to be marked for deletion and then
// finalizes it, as kube-controller-manager's namespace controller would once it is empty.
func finalizeNamespaceWhenDeleted(t *testing.T, name string) <-chan error {
	t.Helper()
	clientset, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	go func() {
		for {
			ns, err := clientset.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
			switch {
			case err != nil:
				done <- fmt.Errorf("waiting for namespace %s to be deleted: %w", name, err)
				return
			case ns.DeletionTimestamp != nil:
				ns.Spec.Finalizers = []corev1.FinalizerName{}
				_, err := clientset.CoreV1().Namespaces().Finalize(ctx, ns, metav1.UpdateOptions{})
				done <- err
				return
			}
			select {
			case <-ctx.Done():
				done <- ctx.Err()
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return done
}
