package bundle

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	scapiv1alpha3 "github.com/operator-framework/api/pkg/apis/scorecard/v1alpha3"
	"github.com/operator-framework/api/pkg/manifests"
	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	"sigs.k8s.io/yaml"
)

func TestScorecardConfigRunsTheBasicAndOLMSuites(t *testing.T) {
	root := moduleRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "bundle", scorecardPath))
	if err != nil {
		t.Fatal(err)
	}
	var cfg scapiv1alpha3.Configuration
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		t.Fatalf("bundle/%s: %v", scorecardPath, err)
	}
	if cfg.Kind != scapiv1alpha3.ConfigurationKind || cfg.APIVersion != scapiv1alpha3.GroupVersion.String() {
		t.Errorf("bundle/%s is a %s %s", scorecardPath, cfg.APIVersion, cfg.Kind)
	}
	suites := map[string][]string{}
	for _, stage := range cfg.Stages {
		for _, test := range stage.Tests {
			suites[test.Labels["suite"]] = append(suites[test.Labels["suite"]], test.Entrypoint[len(test.Entrypoint)-1])
		}
	}
	if !slices.Contains(suites["basic"], "basic-check-spec") || len(suites["olm"]) != 5 {
		t.Errorf("scorecard suites %v, want basic (basic-check-spec) and all five olm tests", suites)
	}
	if got := Annotations()["operators.operatorframework.io.test.config.v1"]; filepath.Join(got, "config.yaml") != scorecardPath {
		t.Errorf("the bundle's test config annotation %q does not lead to %s", got, scorecardPath)
	}
}

// The scorecard's tests need a cluster to run, but apart from olm-bundle-validation (the default
// validators, which TestBundlePassesOperatorFrameworkValidators runs) they only read the bundle:
// this checks here what each would check, so that the config shipped is one the bundle passes.
func TestBundlePassesWhatTheScorecardChecks(t *testing.T) {
	b, err := manifests.GetBundleFromDir(filepath.Join(moduleRoot(t), "bundle"))
	if err != nil {
		t.Fatalf("loading the bundle: %v", err)
	}
	var examples []map[string]any
	if err := json.Unmarshal([]byte(b.CSV.Annotations["alm-examples"]), &examples); err != nil || len(examples) == 0 {
		t.Fatalf("alm-examples: %v (%d examples)", err, len(examples))
	}
	owned := map[string]operatorsv1alpha1.CRDDescription{}
	for _, d := range b.CSV.Spec.CustomResourceDefinitions.Owned {
		owned[d.Kind] = d
		// olm-crds-have-resources
		if len(d.Resources) == 0 {
			t.Errorf("olm-crds-have-resources: owned CRD %s lists no resources", d.Name)
		}
	}
	for _, example := range examples {
		kind, _ := example["kind"].(string)
		name, _ := example["metadata"].(map[string]any)["name"].(string)
		spec, _ := example["spec"].(map[string]any)
		// basic-check-spec
		if len(spec) == 0 {
			t.Errorf("basic-check-spec: example %s has no spec", name)
		}
		description, ok := owned[kind]
		if !ok {
			t.Errorf("example %s is a %s, which the CSV does not own", name, kind)
			continue
		}
		defined := schemaProperties(b, kind, description.Version, "spec")
		for field := range spec {
			// olm-crds-have-validation
			if !defined[field] {
				t.Errorf("olm-crds-have-validation: example %s sets spec.%s, which the CRD does not define", name, field)
			}
			// olm-spec-descriptors
			if !slices.ContainsFunc(description.SpecDescriptors, func(d operatorsv1alpha1.SpecDescriptor) bool { return d.Path == field }) {
				t.Errorf("olm-spec-descriptors: example %s sets spec.%s, which no spec descriptor names", name, field)
			}
		}
	}
	// olm-status-descriptors fails a CR with a status and no status descriptors; examples have no
	// status, so hold the bundle to more: a descriptor for every status field of every owned CRD.
	for kind, description := range owned {
		for field := range schemaProperties(b, kind, description.Version, "status") {
			if !slices.ContainsFunc(description.StatusDescriptors, func(d operatorsv1alpha1.StatusDescriptor) bool { return d.Path == field }) {
				t.Errorf("olm-status-descriptors: %s status.%s has no status descriptor", kind, field)
			}
		}
	}
}

// schemaProperties are the properties of spec or status in the schema of the bundle's CRD for
// kind at version.
func schemaProperties(b *manifests.Bundle, kind, version, part string) map[string]bool {
	properties := map[string]bool{}
	for _, crd := range b.V1CRDs {
		for _, v := range crd.Spec.Versions {
			if crd.Spec.Names.Kind == kind && v.Name == version && v.Schema != nil && v.Schema.OpenAPIV3Schema != nil {
				for name := range v.Schema.OpenAPIV3Schema.Properties[part].Properties {
					properties[name] = true
				}
			}
		}
	}
	return properties
}
