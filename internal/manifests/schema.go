package manifests

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// JSONSchemas turns CustomResourceDefinitions into the JSON Schemas offline validators
// (kubeconform and the like) read, one per served version, keyed by the path they look it up
// under: <group>/<kind>_<version>.json, lower-case. Objects that list their properties refuse
// any other, as the API server prunes and strict field validation refuses them.
func JSONSchemas(crds []*unstructured.Unstructured) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, crd := range crds {
		group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
		versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
		for _, v := range versions {
			version, _ := v.(map[string]any)
			name, _ := version["name"].(string)
			schema, found, err := unstructured.NestedMap(version, "schema", "openAPIV3Schema")
			if err != nil || !found {
				return nil, fmt.Errorf("CRD %s version %s has no openAPIV3Schema", crd.GetName(), name)
			}
			strict(schema)
			data, err := json.MarshalIndent(schema, "", "  ")
			if err != nil {
				return nil, err
			}
			out[path.Join(group, strings.ToLower(kind)+"_"+name+".json")] = append(data, '\n')
		}
	}
	return out, nil
}

// strict closes every object schema that lists its properties and keeps no unknown fields.
func strict(schema map[string]any) {
	if props, ok := schema["properties"].(map[string]any); ok {
		if _, set := schema["additionalProperties"]; !set && schema["x-kubernetes-preserve-unknown-fields"] != true {
			schema["additionalProperties"] = false
		}
		for _, p := range props {
			if sub, ok := p.(map[string]any); ok {
				strict(sub)
			}
		}
	}
	if items, ok := schema["items"].(map[string]any); ok {
		strict(items)
	}
	if extra, ok := schema["additionalProperties"].(map[string]any); ok {
		strict(extra)
	}
}
