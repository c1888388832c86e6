package bundle

import (
	scapiv1alpha3 "github.com/operator-framework/api/pkg/apis/scorecard/v1alpha3"
	"sigs.k8s.io/yaml"
)

// ScorecardImage runs the scorecard's built-in tests; it follows the operator-sdk release whose
// `operator-sdk scorecard` reads the config.
const ScorecardImage = "quay.io/operator-framework/scorecard-test:v1.42.0"

// ScorecardTests are the scorecard's basic and OLM suites, by suite and test, in the order
// operator-sdk's own scaffold lists them.
var ScorecardTests = []struct{ Suite, Test string }{
	{"basic", "basic-check-spec"},
	{"olm", "olm-bundle-validation"},
	{"olm", "olm-crds-have-validation"},
	{"olm", "olm-crds-have-resources"},
	{"olm", "olm-spec-descriptors"},
	{"olm", "olm-status-descriptors"},
}

// scorecardPath is where `operator-sdk scorecard` looks for its config inside the bundle, and
// what the bundle's test annotations point at.
const scorecardPath = "tests/scorecard/config.yaml"

// scorecardConfig renders tests/scorecard/config.yaml: one parallel stage running every test of
// ScorecardTests.
func scorecardConfig() ([]byte, error) {
	cfg := scapiv1alpha3.Configuration{}
	cfg.APIVersion, cfg.Kind = scapiv1alpha3.GroupVersion.String(), scapiv1alpha3.ConfigurationKind
	cfg.Metadata.Name = "config"
	stage := scapiv1alpha3.StageConfiguration{Parallel: true}
	for _, t := range ScorecardTests {
		stage.Tests = append(stage.Tests, scapiv1alpha3.TestConfiguration{
			Image:      ScorecardImage,
			Entrypoint: []string{"scorecard-test", t.Test},
			Labels:     map[string]string{"suite": t.Suite, "test": t.Test + "-test"},
		})
	}
	cfg.Stages = []scapiv1alpha3.StageConfiguration{stage}
	return yaml.Marshal(cfg)
}
