package bundle

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// committedCSV reads the generated CSV as plain YAML, to see exactly what was written.
func committedCSV(t *testing.T) map[string]any {
	t.Helper()
	files := generate(t, moduleRoot(t))
	var csv map[string]any
	if err := yaml.Unmarshal(files[filepath.Join("manifests", Package+".clusterserviceversion.yaml")], &csv); err != nil {
		t.Fatal(err)
	}
	return csv
}

func TestCSVCarriesWhatOperatorHubReads(t *testing.T) {
	csv := &unstructured.Unstructured{Object: committedCSV(t)}
	annotations := csv.GetAnnotations()
	if _, err := time.Parse(time.RFC3339, annotations[AnnotationCreatedAt]); err != nil {
		t.Errorf("createdAt %q: %v", annotations[AnnotationCreatedAt], err)
	}
	if ns := annotations[AnnotationSuggestedNamespace]; ns != "signer-policy-system" {
		t.Errorf("suggested namespace %q, want the namespace config/default installs into", ns)
	}
	images, _, _ := unstructured.NestedSlice(csv.Object, "spec", "relatedImages")
	if len(images) != 1 || images[0].(map[string]any)["image"] != annotations["containerImage"] {
		t.Errorf("relatedImages %v, want the operator image %s alone", images, annotations["containerImage"])
	}
	if _, ok := csv.Object["status"]; ok {
		t.Error("the CSV carries a status, which is OLM's to write")
	}
}

// createdAt is copied from config/manifests, never read from the clock, so the committed bundle
// stays current; without it generation fails rather than invent one.
func TestCreatedAtComesFromTheCSVBase(t *testing.T) {
	objs, err := Build(filepath.Join(moduleRoot(t), "config", "manifests"))
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(objs, func(o *unstructured.Unstructured) bool { return o.GetKind() == "ClusterServiceVersion" })
	base := objs[i].GetAnnotations()[AnnotationCreatedAt]
	if got := committedCSV(t)["metadata"].(map[string]any)["annotations"].(map[string]any)[AnnotationCreatedAt]; got != base {
		t.Errorf("createdAt %v, want the CSV base's %q", got, base)
	}
	for _, value := range []string{"", "yesterday"} {
		objs := cloneAll(objs)
		annotations := objs[i].GetAnnotations()
		annotations[AnnotationCreatedAt] = value
		objs[i].SetAnnotations(annotations)
		if _, err := Generate(objs, nil); err == nil || !strings.Contains(err.Error(), AnnotationCreatedAt) {
			t.Errorf("createdAt %q: generation gave error %v, want one naming createdAt", value, err)
		}
	}
}

func cloneAll(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		out[i] = o.DeepCopy()
	}
	return out
}

func TestBundleDockerfileCopiesEveryBundleDirectory(t *testing.T) {
	dockerfile := string(Dockerfile())
	dirs := map[string]bool{}
	for name := range generate(t, moduleRoot(t)) {
		dirs[filepath.Dir(name)] = true
	}
	for dir := range dirs {
		if !strings.Contains(dockerfile, "COPY bundle/"+dir+" ") {
			t.Errorf("bundle.Dockerfile does not copy bundle/%s into the image", dir)
		}
	}
}
