package bundle

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// ExternalAPIs are the APIs the kubebuilder PROJECT file records as external (`kubebuilder create
// api --external-api-path`): kinds the operator reads but another project installs, here
// cert-manager's Issuer and ClusterIssuer. They are what the bundle depends on, so recording a new
// one with kubebuilder is also what declares it to OLM.
func ExternalAPIs(project []byte) ([]schema.GroupVersionKind, error) {
	var p struct {
		Resources []struct {
			External bool   `json:"external"`
			Group    string `json:"group"`
			Domain   string `json:"domain"`
			Version  string `json:"version"`
			Kind     string `json:"kind"`
		} `json:"resources"`
	}
	if err := yaml.Unmarshal(project, &p); err != nil {
		return nil, fmt.Errorf("reading PROJECT: %w", err)
	}
	var gvks []schema.GroupVersionKind
	for _, r := range p.Resources {
		if !r.External {
			continue
		}
		// kubebuilder splits an external group at its first dot: cert-manager.io is group
		// cert-manager in domain io.
		group := r.Group
		if r.Domain != "" {
			group += "." + r.Domain
		}
		if group == "" || r.Version == "" || r.Kind == "" {
			return nil, fmt.Errorf("PROJECT: external resource %q lacks its group, version or kind", r.Kind)
		}
		gvks = append(gvks, schema.GroupVersionKind{Group: group, Version: r.Version, Kind: r.Kind})
	}
	return gvks, nil
}

// Dependency is one entry of metadata/dependencies.yaml. Only olm.gvk dependencies are written:
// OLM then installs the bundle only where some operator (or the cluster) provides the kind.
type Dependency struct {
	Type  string   `json:"type"`
	Value GVKValue `json:"value"`
}

// GVKValue is the value of an olm.gvk dependency.
type GVKValue struct {
	Group   string `json:"group"`
	Kind    string `json:"kind"`
	Version string `json:"version"`
}

// DependencyTypeGVK is OLM's dependency type on a group, version and kind.
const DependencyTypeGVK = "olm.gvk"

// dependenciesFile renders metadata/dependencies.yaml, sorted so that the output is stable.
func dependenciesFile(gvks []schema.GroupVersionKind) ([]byte, error) {
	deps := make([]Dependency, 0, len(gvks))
	for _, gvk := range gvks {
		deps = append(deps, Dependency{Type: DependencyTypeGVK, Value: GVKValue{Group: gvk.Group, Kind: gvk.Kind, Version: gvk.Version}})
	}
	slices.SortFunc(deps, func(a, b Dependency) int {
		return strings.Compare(a.Value.Group+"/"+a.Value.Kind+"/"+a.Value.Version, b.Value.Group+"/"+b.Value.Kind+"/"+b.Value.Version)
	})
	deps = slices.Compact(deps)
	return yaml.Marshal(map[string][]Dependency{"dependencies": deps})
}
