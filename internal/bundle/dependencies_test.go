package bundle

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/signerpolicy/signer-policy-operator/internal/manifests"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

func TestExternalAPIsAreThePROJECTsExternalResources(t *testing.T) {
	project := []byte(`
resources:
- api: {crdVersion: v1}
  domain: signerpolicy.dev
  group: policy
  kind: SignerPolicy
  version: v1alpha1
- domain: k8s.io
  group: certificates
  kind: CertificateSigningRequest
  version: v1
- domain: io
  external: true
  group: cert-manager
  kind: Issuer
  version: v1
`)
	got, err := ExternalAPIs(project)
	if err != nil {
		t.Fatal(err)
	}
	want := []schema.GroupVersionKind{{Group: "cert-manager.io", Version: "v1", Kind: "Issuer"}}
	if !slices.Equal(got, want) {
		t.Errorf("ExternalAPIs = %v, want %v", got, want)
	}
	if _, err := ExternalAPIs([]byte("resources:\n- external: true\n  kind: Issuer\n")); err == nil {
		t.Error("an external resource without group or version was accepted")
	}
}

// OLM installs the bundle only where the kinds it declares are served, so each must be a kind
// cert-manager's CRDs (those of the module the operator builds against) really serve, and the
// two issuer kinds the operator reads must both be there.
func TestBundleDependsOnCertManagersIssuerKinds(t *testing.T) {
	root := moduleRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "bundle", "metadata", "dependencies.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Dependencies []Dependency `json:"dependencies"`
	}
	if err := yaml.UnmarshalStrict(data, &file); err != nil {
		t.Fatalf("bundle/metadata/dependencies.yaml: %v", err)
	}
	served := certManagerKinds(t, root)
	var declared []GVKValue
	for _, d := range file.Dependencies {
		if d.Type != DependencyTypeGVK {
			t.Errorf("dependency of type %q, want %s", d.Type, DependencyTypeGVK)
		}
		if !served[d.Value] {
			t.Errorf("dependency on %+v, which no cert-manager CRD serves", d.Value)
		}
		declared = append(declared, d.Value)
	}
	for _, kind := range []string{"Issuer", "ClusterIssuer"} {
		if !slices.Contains(declared, GVKValue{Group: "cert-manager.io", Kind: kind, Version: "v1"}) {
			t.Errorf("the bundle does not declare its dependency on cert-manager.io/v1 %s", kind)
		}
	}
}

// certManagerKinds are the group, kind and served versions of cert-manager's CRDs.
func certManagerKinds(t *testing.T, root string) map[GVKValue]bool {
	t.Helper()
	dir, err := harness.CertManagerCRDs(root)
	if err != nil {
		t.Fatal(err)
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no CRDs in %s (%v)", dir, err)
	}
	served := map[GVKValue]bool{}
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := manifests.Decode(data)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, o := range objs {
			crd := struct {
				Spec struct {
					Group string `json:"group"`
					Names struct {
						Kind string `json:"kind"`
					} `json:"names"`
					Versions []struct {
						Name   string `json:"name"`
						Served bool   `json:"served"`
					} `json:"versions"`
				} `json:"spec"`
			}{}
			if err := fromUnstructured(o, &crd); err != nil {
				t.Fatal(err)
			}
			for _, v := range crd.Spec.Versions {
				if v.Served {
					served[GVKValue{Group: crd.Spec.Group, Kind: crd.Spec.Names.Kind, Version: v.Name}] = true
				}
			}
		}
	}
	return served
}
