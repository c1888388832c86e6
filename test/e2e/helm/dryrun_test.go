//go:build !unit

package helm

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

var env *harness.Env

func TestMain(m *testing.M) {
	// The release namespace, which `helm install --create-namespace` would create.
	os.Exit(harness.ControlPlaneMain(m, &env, namespace))
}

// TestChartIsAcceptedByTheAPIServer server-side applies, as a dry run, what the chart renders
// with its defaults, in split mode, and with every option on, to the real API server: each
// object must pass its schema with strict field validation (an unknown or misspelt field fails),
// its validation and its admission, and nothing is stored.
func TestChartIsAcceptedByTheAPIServer(t *testing.T) {
	installServiceMonitorStandIn(t)
	for name, vals := range map[string]string{"defaults": "", "split": "mode: split", "everything": everything} {
		t.Run(name, func(t *testing.T) {
			objs := mustRender(t, vals)
			for _, o := range objs {
				if err := dryRunApply(t, o); err != nil {
					t.Errorf("the API server refuses %s: %v", key(o), err)
				}
			}
			for _, o := range ofKind(objs, "Deployment") {
				err := env.Admin.Get(context.Background(), types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}, o.DeepCopy())
				if !apierrors.IsNotFound(err) {
					t.Errorf("after a dry run, getting %s gives %v, want NotFound", key(o), err)
				}
			}
		})
	}
}

// TestDryRunRefusesWhatTheSchemaLetsThrough shows the dry run checks more than values.schema.json:
// the chart passes Kubernetes objects through (here a pod security context with a misspelt
// field), and the API server refuses them.
func TestDryRunRefusesWhatTheSchemaLetsThrough(t *testing.T) {
	objs := mustRender(t, "podSecurityContext: {runAsNonroot: true}")
	for _, o := range ofKind(objs, "Deployment") {
		err := dryRunApply(t, o)
		if err == nil || !strings.Contains(err.Error(), "runAsNonroot") {
			t.Errorf("the dry run of %s gave %v, want it refused for runAsNonroot", key(o), err)
		}
	}
}

// dryRunApply server-side applies an object with dryRun=All and strict field validation, as
// `kubectl apply --server-side --dry-run=server --validate=strict` does.
func dryRunApply(t *testing.T, o *unstructured.Unstructured) error {
	t.Helper()
	gvk := o.GroupVersionKind()
	mapping, err := env.Admin.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	var resource dynamic.ResourceInterface = dyn.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		resource = dyn.Resource(mapping.Resource).Namespace(o.GetNamespace())
	}
	data, err := json.Marshal(o.Object)
	if err != nil {
		t.Fatal(err)
	}
	_, err = resource.Patch(context.Background(), o.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{
		DryRun: []string{metav1.DryRunAll}, FieldManager: "helm-chart-test", Force: ptr.To(true), FieldValidation: "Strict",
	})
	return err
}

// installServiceMonitorStandIn installs testdata's ServiceMonitor and PrometheusRule CRDs and
// waits until the API server serves the kinds.
func installServiceMonitorStandIn(t *testing.T) {
	t.Helper()
	for file, kind := range map[string]string{
		"testdata/servicemonitor-standin-crd.yaml": "ServiceMonitorList", "testdata/prometheusrule-standin-crd.yaml": "PrometheusRuleList",
	} {
		crds, err := harness.ReadObjects(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := harness.Apply(context.Background(), env.Admin, crds); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = env.Admin.Delete(context.Background(), crds[0]) })
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(schema.GroupVersionKind{Group: "monitoring.coreos.com", Version: "v1", Kind: kind})
		harness.Eventually(t, 30*time.Second, func() error {
			return env.Admin.List(context.Background(), list, client.InNamespace(namespace))
		})
	}
}
