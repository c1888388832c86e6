package bundle

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/operator-framework/api/pkg/manifests"
	"github.com/operator-framework/api/pkg/validation"
	"github.com/operator-framework/api/pkg/validation/errors"

	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

func generate(t *testing.T, root string) Files {
	t.Helper()
	objs, err := Build(filepath.Join(root, "config", "manifests"))
	if err != nil {
		t.Fatal(err)
	}
	project, err := os.ReadFile(filepath.Join(root, "PROJECT"))
	if err != nil {
		t.Fatal(err)
	}
	dependencies, err := ExternalAPIs(project)
	if err != nil {
		t.Fatal(err)
	}
	files, err := Generate(objs, dependencies)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func TestGenerationIsReproducible(t *testing.T) {
	root := moduleRoot(t)
	if a, b := generate(t, root), generate(t, root); !reflect.DeepEqual(a, b) {
		t.Error("two generations of the bundle differ")
	}
}

// The bundle is committed; this fails when config/ changed and `make bundle` was not run.
func TestCommittedBundleIsCurrent(t *testing.T) {
	root := moduleRoot(t)
	want := generate(t, root)
	got := Files{}
	err := filepath.WalkDir(filepath.Join(root, "bundle"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		rel, _ := filepath.Rel(filepath.Join(root, "bundle"), path)
		got[rel] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range want {
		if !bytes.Equal(got[name], data) {
			t.Errorf("bundle/%s is stale; run `make bundle`", name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("bundle/%s is no longer generated; run `make bundle`", name)
		}
	}
	if data, err := os.ReadFile(filepath.Join(root, "bundle.Dockerfile")); err != nil || !bytes.Equal(data, Dockerfile()) {
		t.Errorf("bundle.Dockerfile is stale (%v); run `make bundle`", err)
	}
}

// The validators OLM's tooling runs: the default bundle set, OperatorHub's (V2 with the
// standard capabilities and categories, which replace the deprecated OperatorHubValidator),
// and the good-practices one. Any error fails; warnings are shown.
func TestBundlePassesOperatorFrameworkValidators(t *testing.T) {
	b, err := manifests.GetBundleFromDir(filepath.Join(moduleRoot(t), "bundle"))
	if err != nil {
		t.Fatalf("loading the bundle: %v", err)
	}
	validators := validation.DefaultBundleValidators.WithValidators(
		validation.OperatorHubV2Validator, validation.StandardCapabilitiesValidator,
		validation.StandardCategoriesValidator, validation.GoodPracticesValidator,
	)
	objs := append(b.ObjectsToValidate(), map[string]string{"k8s-version": "1.36"})
	for _, result := range validators.Validate(objs...) {
		for _, e := range result.Errors {
			t.Errorf("%s: %s", result.Name, e.Error())
		}
		for _, w := range result.Warnings {
			if w.Level == errors.LevelWarn {
				t.Logf("warning %s: %s", result.Name, w.Error())
			}
		}
	}
}
