//go:build !unit

package kubebuilder

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/signerpolicy/signer-policy-operator/internal/bundle"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

// `make build-installer` writes one file holding exactly what the overlay installs, with the
// operator image set to IMG, and leaves config/ as it found it.
func TestBuildInstallerWritesTheOverlayWithTheImage(t *testing.T) {
	managerKustomization := filepath.Join(root, "config", "manager", "kustomization.yaml")
	before, err := os.ReadFile(managerKustomization)
	if err != nil {
		t.Fatal(err)
	}
	for overlay, deployments := range map[string]int{"config/default": 1, "config/split": 3} {
		t.Run(overlay, func(t *testing.T) {
			dist := t.TempDir()
			mustMake(t, "build-installer", "IMG="+testImage, "DIST="+dist, "DEPLOY_CONFIG="+overlay)
			entries, err := os.ReadDir(dist)
			if err != nil || len(entries) != 1 || entries[0].Name() != "install.yaml" {
				t.Fatalf("make build-installer wrote %v (%v), want install.yaml alone", entries, err)
			}
			got, err := harness.ReadObjects(filepath.Join(dist, "install.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			want := build(t, overlay)
			if len(got) != len(want) {
				t.Errorf("install.yaml holds %d objects, %s renders %d", len(got), overlay, len(want))
			}
			images := 0
			for _, w := range want {
				g := find(got, w)
				if g == nil {
					t.Errorf("install.yaml lacks %s %s/%s", w.GetKind(), w.GetNamespace(), w.GetName())
					continue
				}
				if w.GetKind() == "Deployment" {
					images += setImages(t, w, testImage)
				}
				if !equality.Semantic.DeepEqual(g.Object, w.Object) {
					t.Errorf("install.yaml's %s %s differs from %s's beyond the image", w.GetKind(), w.GetName(), overlay)
				}
			}
			if images != deployments {
				t.Errorf("%d Deployments run the image, want %d", images, deployments)
			}
		})
	}
	if after, err := os.ReadFile(managerKustomization); err != nil || !bytes.Equal(before, after) {
		t.Errorf("make build-installer changed config/manager/kustomization.yaml (%v)", err)
	}
}

// build runs kustomize over an overlay of config/ in-process, as the bundle generator does.
func build(t *testing.T, overlay string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := bundle.Build(filepath.Join(root, overlay))
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func find(objs []*unstructured.Unstructured, like *unstructured.Unstructured) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == like.GetKind() && o.GetNamespace() == like.GetNamespace() && o.GetName() == like.GetName() {
			return o
		}
	}
	return nil
}

// setImages sets the image of the Deployment's operator container, returning 1 when it had one.
func setImages(t *testing.T, d *unstructured.Unstructured, image string) int {
	t.Helper()
	containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	for _, c := range containers {
		if c := c.(map[string]any); c["name"] == "manager" {
			c["image"] = image
			if err := unstructured.SetNestedSlice(d.Object, containers, "spec", "template", "spec", "containers"); err != nil {
				t.Fatal(err)
			}
			return 1
		}
	}
	return 0
}
