package manifests

import "testing"

func TestDecodeSkipsEmptyDocumentsAndGivesJSONValues(t *testing.T) {
	objs, err := Decode([]byte("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {n: \"1\"}\n---\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: b}\nspec: {replicas: 2}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 || objs[0].GetName() != "a" || objs[1].GetKind() != "Deployment" {
		t.Fatalf("decoded %v", objs)
	}
	// DeepCopy panics on a value that is not a JSON value (a plain int, as kustomize's maps hold).
	if replicas := objs[1].DeepCopy().Object["spec"].(map[string]any)["replicas"]; replicas != float64(2) {
		t.Errorf("replicas = %#v, want the JSON number 2", replicas)
	}
	if _, err := Decode([]byte("kind: [unclosed")); err == nil {
		t.Error("malformed YAML decoded without an error")
	}
}
