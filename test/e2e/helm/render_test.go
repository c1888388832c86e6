// Package helm proves the Helm chart in config/helm/signer-policy-operator: it renders with
// Helm's own libraries as `helm template` does, passes `helm lint`, refuses values its schema
// refuses, renders the same objects as the kustomize overlays in config/ for the same choices,
// and what it renders is accepted by a real API server (a server-side dry run).
//
// Every test but the dry run needs no control plane: `go test -tags unit ./test/e2e/helm/`
// (`make helm-lint`) runs them alone.
//
// Helm's libraries come from helm.sh/helm/v3 v3.21.4, the newest Helm built on the k8s.io v0.36
// modules the operator uses (v3.22.0 and v4 require v0.37, and controller-runtime v0.25 for v4).
package helm

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/signerpolicy/signer-policy-operator/internal/manifests"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

const (
	// releaseName and namespace are the ones docs/install.md installs with; the namespace is the
	// one config/default and config/split install into.
	releaseName = "signer-policy"
	namespace   = "signer-policy-system"
)

// repoPath is a path inside the operator's repository.
func repoPath(t *testing.T, elem ...string) string {
	t.Helper()
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(append([]string{root}, elem...)...)
}

func chartDir(t *testing.T) string {
	return repoPath(t, "config", "helm", "signer-policy-operator")
}

// values reads chart values written as YAML, as `helm template -f` reads a values file.
func values(t *testing.T, yaml string) map[string]any {
	t.Helper()
	v, err := chartutil.ReadValues([]byte(yaml))
	if err != nil {
		t.Fatalf("values %q: %v", yaml, err)
	}
	return v.AsMap()
}

// renderChart renders the chart the way `helm template` does: the given values over the chart's
// defaults, checked against values.schema.json, then every template. The error is the schema's
// or a template's.
func renderChart(t *testing.T, vals map[string]any) ([]*unstructured.Unstructured, error) {
	t.Helper()
	chrt, err := loader.Load(chartDir(t))
	if err != nil {
		t.Fatalf("loading the chart: %v", err)
	}
	opts := chartutil.ReleaseOptions{Name: releaseName, Namespace: namespace, Revision: 1, IsInstall: true}
	top, err := chartutil.ToRenderValues(chrt, vals, opts, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	files, err := engine.Render(chrt, top)
	if err != nil {
		return nil, err
	}
	return decodeManifests(chrt, files)
}

// decodeManifests decodes the rendered manifests in file order, leaving out what Helm does not
// install: partials and NOTES.txt.
func decodeManifests(chrt *chart.Chart, files map[string]string) ([]*unstructured.Unstructured, error) {
	names := make([]string, 0, len(files))
	for name := range files {
		base := filepath.Base(name)
		if strings.HasPrefix(base, "_") || base == "NOTES.txt" {
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	var objs []*unstructured.Unstructured
	for _, name := range names {
		decoded, err := manifests.Decode([]byte(files[name]))
		if err != nil {
			return nil, fmt.Errorf("%s renders YAML that does not decode: %w", strings.TrimPrefix(name, chrt.Name()+"/"), err)
		}
		objs = append(objs, decoded...)
	}
	return objs, nil
}

// mustRender renders values that the chart must accept.
func mustRender(t *testing.T, yaml string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := renderChart(t, values(t, yaml))
	if err != nil {
		t.Fatalf("rendering the chart with %q: %v", yaml, err)
	}
	return objs
}

// kustomized is what `kustomize build config/<overlay>` renders.
func kustomized(t *testing.T, overlay string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := kustomizeBuild(repoPath(t, "config", overlay))
	if err != nil {
		t.Fatalf("kustomize build config/%s: %v", overlay, err)
	}
	return objs
}

func kustomizeBuild(dir string) ([]*unstructured.Unstructured, error) {
	resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, err
	}
	data, err := resMap.AsYaml()
	if err != nil {
		return nil, err
	}
	return manifests.Decode(data)
}

// key names an object the way the API server does.
func key(o *unstructured.Unstructured) string {
	return fmt.Sprintf("%s %s/%s", o.GetKind(), o.GetNamespace(), o.GetName())
}

// ofKind lists the objects of one kind.
func ofKind(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}
