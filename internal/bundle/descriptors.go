package bundle

import (
	"slices"
	"strings"
	"unicode"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// completeDescriptors gives every top-level spec and status field of each owned CRD a descriptor.
// The scorecard's olm-spec-descriptors test fails a bundle whose alm-examples set a spec field no
// descriptor names, and the console shows only described fields. Descriptors written in the CSV
// base stay as written and come first; the others follow sorted, titled from the field's name and
// described by the first paragraph of its description in the CRD, so a field added to the API is
// described without anyone editing config/manifests.
func (g *generator) completeDescriptors() {
	owned := g.csv.Spec.CustomResourceDefinitions.Owned
	for i := range owned {
		crd := g.crds[owned[i].Kind]
		if crd == nil {
			continue
		}
		spec, status := schemaFields(crd, owned[i].Version, "spec"), schemaFields(crd, owned[i].Version, "status")
		owned[i].SpecDescriptors = appendMissing(owned[i].SpecDescriptors, spec,
			func(d operatorsv1alpha1.SpecDescriptor) string { return d.Path },
			func(path, description string) operatorsv1alpha1.SpecDescriptor {
				return operatorsv1alpha1.SpecDescriptor{Path: path, DisplayName: displayName(path), Description: description}
			})
		owned[i].StatusDescriptors = appendMissing(owned[i].StatusDescriptors, status,
			func(d operatorsv1alpha1.StatusDescriptor) string { return d.Path },
			func(path, description string) operatorsv1alpha1.StatusDescriptor {
				return operatorsv1alpha1.StatusDescriptor{Path: path, DisplayName: displayName(path), Description: description}
			})
	}
}

// appendMissing appends a descriptor for each field no descriptor's path names.
func appendMissing[D any](have []D, fields map[string]string, path func(D) string, describe func(path, description string) D) []D {
	names := make([]string, 0, len(fields))
	for name := range fields {
		if !slices.ContainsFunc(have, func(d D) bool { return path(d) == name }) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		have = append(have, describe(name, fields[name]))
	}
	return have
}

// schemaFields maps each property of the CRD version's spec or status to the first paragraph of
// its description, on one line.
func schemaFields(crd *unstructured.Unstructured, version, part string) map[string]string {
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	for _, v := range versions {
		v, ok := v.(map[string]any)
		if !ok || v["name"] != version {
			continue
		}
		props, _, _ := unstructured.NestedMap(v, "schema", "openAPIV3Schema", "properties", part, "properties")
		fields := make(map[string]string, len(props))
		for name, prop := range props {
			description, _, _ := unstructured.NestedString(prop.(map[string]any), "description")
			first, _, _ := strings.Cut(description, "\n\n")
			fields[name] = strings.Join(strings.Fields(first), " ")
		}
		return fields
	}
	return nil
}

// displayName turns a field name into words, capitalised as a sentence: privateKey is "Private
// key", allowCA "Allow CA".
func displayName(field string) string {
	var words []string
	start := 0
	runes := []rune(field)
	for i := 1; i < len(runes); i++ {
		// A word starts at an upper-case letter after a lower-case one (privateKey), or at the last
		// capital of an initialism followed by a lower-case letter (CAName).
		if unicode.IsUpper(runes[i]) && (unicode.IsLower(runes[i-1]) || i+1 < len(runes) && unicode.IsLower(runes[i+1]) && unicode.IsUpper(runes[i-1])) {
			words = append(words, string(runes[start:i]))
			start = i
		}
	}
	words = append(words, string(runes[start:]))
	for i, w := range words {
		if isInitialism(w) {
			continue
		}
		if i == 0 {
			words[i] = strings.ToUpper(w[:1]) + w[1:]
		} else {
			words[i] = strings.ToLower(w)
		}
	}
	return strings.Join(words, " ")
}

func isInitialism(word string) bool {
	return len(word) > 1 && strings.ToUpper(word) == word
}
