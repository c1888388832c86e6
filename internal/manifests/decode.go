// Package manifests reads Kubernetes objects from YAML, for the bundle generator and the tests
// that install what config/ renders.
package manifests

import (
	"bytes"
	"errors"
	"io"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// Decode decodes every object of a multi-document YAML or JSON stream, skipping empty documents.
// It goes through apimachinery's decoder, which reads YAML as JSON, so that every value is a JSON
// value unstructured objects can deep-copy (a plain YAML decoder gives ints, on which they panic).
func Decode(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, err
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}
