package helm

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/diff"
)

// TestChartRendersWhatKustomizeRenders holds the chart to config/: with its defaults it renders
// every object config/default renders, and with mode split every object config/split renders,
// equal field for field (RBAC rules and bindings, Deployments' args, images, service accounts,
// security contexts, ports and probes, Services, the CRD). A change to config/, including
// `make manifests` regenerating the operator's ClusterRole, fails here until the chart follows.
func TestChartRendersWhatKustomizeRenders(t *testing.T) {
	// The chart's values for each overlay of config/.
	overlays := map[string]string{"default": "", "split": "mode: split"}
	for overlay, vals := range overlays {
		t.Run(overlay, func(t *testing.T) {
			want := byKey(kustomized(t, overlay))
			// Helm leaves creating the release namespace to `helm install --create-namespace`.
			for k, o := range want {
				if o.GetKind() == "Namespace" {
					delete(want, k)
				}
			}
			got := byKey(mustRender(t, vals))
			for _, k := range sortedKeys(want) {
				if got[k] == nil {
					t.Errorf("config/%s renders %s; the chart does not", overlay, k)
				}
			}
			for _, k := range sortedKeys(got) {
				if want[k] == nil {
					t.Errorf("the chart renders %s; config/%s does not", k, overlay)
					continue
				}
				chartObj := got[k].DeepCopy()
				acceptHelmsAdditions(t, chartObj, want[k])
				if !equality.Semantic.DeepEqual(chartObj.Object, want[k].Object) {
					t.Errorf("%s differs from config/%s (-chart +kustomize):\n%s", k, overlay, diff.Diff(chartObj.Object, want[k].Object))
				}
			}
		})
	}
}

// acceptHelmsAdditions removes from the chart's object what the chart legitimately adds to what
// config/ renders, after checking it adds without taking away: Helm's labels and the CRD's keep
// annotation beside config/'s own labels and annotations, and the combined Deployment's explicit
// --acme-http01-service, which names the Service main.go defaults to.
func acceptHelmsAdditions(t *testing.T, chartObj, kustomizeObj *unstructured.Unstructured) {
	t.Helper()
	for _, path := range [][]string{
		{"metadata", "labels"}, {"metadata", "annotations"},
		{"spec", "template", "metadata", "labels"}, {"spec", "template", "metadata", "annotations"},
	} {
		keepOnlyWhatKustomizeHas(t, key(kustomizeObj), chartObj, kustomizeObj, path)
	}
	if chartObj.GetKind() != "Deployment" || slices.ContainsFunc(containerArgs(kustomizeObj), namesACMEService) {
		return
	}
	args := containerArgs(chartObj)
	i := slices.IndexFunc(args, namesACMEService)
	if i < 0 {
		return
	}
	if want := "--acme-http01-service=" + namespace + "/signer-policy-acme-http01"; args[i] != want {
		t.Errorf("%s: the chart passes %s where config/ relies on main.go's default, %s", key(chartObj), args[i], want)
	}
	containers, _, _ := unstructured.NestedSlice(chartObj.Object, "spec", "template", "spec", "containers")
	containers[0].(map[string]any)["args"] = toAny(slices.Delete(args, i, i+1))
	_ = unstructured.SetNestedSlice(chartObj.Object, containers, "spec", "template", "spec", "containers")
}

func namesACMEService(arg string) bool { return strings.HasPrefix(arg, "--acme-http01-service=") }

// keepOnlyWhatKustomizeHas checks the chart's map at path holds every entry of config/'s, then
// drops the chart's extra entries.
func keepOnlyWhatKustomizeHas(t *testing.T, what string, chartObj, kustomizeObj *unstructured.Unstructured, path []string) {
	t.Helper()
	fromChart, _, _ := unstructured.NestedStringMap(chartObj.Object, path...)
	fromKustomize, found, _ := unstructured.NestedStringMap(kustomizeObj.Object, path...)
	for k, v := range fromKustomize {
		if fromChart[k] != v {
			t.Errorf("%s: config/ sets %s %s=%q, the chart %q", what, strings.Join(path, "."), k, v, fromChart[k])
		}
	}
	if found {
		_ = unstructured.SetNestedStringMap(chartObj.Object, fromKustomize, path...)
	} else {
		unstructured.RemoveNestedField(chartObj.Object, path...)
	}
}

// containerArgs are the args of a Deployment's first container.
func containerArgs(o *unstructured.Unstructured) []string {
	containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
	if len(containers) == 0 {
		return nil
	}
	args, _, _ := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
	return args
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func byKey(objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	m := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		m[key(o)] = o
	}
	return m
}

func sortedKeys(m map[string]*unstructured.Unstructured) []string {
	return slices.Sorted(maps.Keys(m))
}
