package helm

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestChartCarriesTheGeneratedFiles checks the chart's copies of what controller-gen writes (a
// chart reads only files inside itself) are the generated files, byte for byte: every CRD of
// config/crd/bases and no other, and config/rbac/role.yaml. `make manifests` refreshes them.
func TestChartCarriesTheGeneratedFiles(t *testing.T) {
	crds := func(dir string) []string {
		names, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for i := range names {
			names[i] = filepath.Base(names[i])
		}
		return names
	}
	generated, copied := repoPath(t, "config", "crd", "bases"), filepath.Join(chartDir(t), "files", "crds")
	if g, c := crds(generated), crds(copied); !slices.Equal(g, c) {
		t.Errorf("config/crd/bases has %v, the chart's files/crds %v: run make manifests", g, c)
	}
	pairs := [][2]string{{repoPath(t, "config", "rbac", "role.yaml"), filepath.Join(chartDir(t), "files", "rbac", "role.yaml")}}
	for _, name := range crds(generated) {
		pairs = append(pairs, [2]string{filepath.Join(generated, name), filepath.Join(copied, name)})
	}
	for _, p := range pairs {
		want, err := os.ReadFile(p[0])
		if err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(p[1]); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is not a copy of %s (%v): run make manifests", p[1], p[0], err)
		}
	}
}

// TestCRDsFollowTheCrdsValues: crds.enabled installs the CRDs with the chart, crds.keep leaves them
// (and with them every policy) behind on `helm uninstall`, as cert-manager's chart does.
func TestCRDsFollowTheCrdsValues(t *testing.T) {
	for _, tc := range []struct {
		values string
		crds   int
		keep   bool
	}{
		{"", 2, true},
		{"crds: {keep: false}", 2, false},
		{"crds: {enabled: false}", 0, false},
	} {
		crds := ofKind(mustRender(t, tc.values), "CustomResourceDefinition")
		if len(crds) != tc.crds {
			t.Errorf("with %q the chart renders %d CRDs, want %d", tc.values, len(crds), tc.crds)
			continue
		}
		for _, crd := range crds {
			if keep := crd.GetAnnotations()["helm.sh/resource-policy"] == "keep"; keep != tc.keep {
				t.Errorf("with %q the CRD's annotations are %v, want keep %v", tc.values, crd.GetAnnotations(), tc.keep)
			}
		}
	}
}
