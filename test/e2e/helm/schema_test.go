package helm

import (
	"strings"
	"testing"
)

// TestSchemaRefusesWrongValues shows values.schema.json is enforced: rendering refuses a value
// of the wrong type, out of range, or under a name the chart does not know, naming it.
func TestSchemaRefusesWrongValues(t *testing.T) {
	for _, tc := range []struct{ values, names string }{
		{"replicaCount: two", "replicaCount"},
		{"replicaCount: -1", "replicaCount"},
		{"mode: both", "mode"},
		{"leaderElection: {enabled: yes please}", "leaderElection/enabled"},
		{"replicas: 3", "replicas"},
		{"image: {repository: ghcr.io/x, tags: v1}", "tags"},
		{"image: {digest: latest}", "image/digest"},
		{"metrics: {port: 70000}", "metrics/port"},
		{"metrics: {port: 8089}", "metrics/port"},
		{"metrics: {port: 9443}", "metrics/port"},
		{"metrics: {serviceMonitor: {interval: 1 minute}}", "metrics/serviceMonitor/interval"},
		{"podDisruptionBudget: {minAvailable: half}", "podDisruptionBudget/minAvailable"},
		{"crds: {keep: 1}", "crds/keep"},
		{"extraArgs: --concurrency=8", "extraArgs"},
		{"extraArgs: [concurrency=8]", "extraArgs/0"},
		{"fullnameOverride: a-name-of-twenty-chars", "fullnameOverride"},
		{"logLevel: verbose", "logLevel"},
		{"nodeSelector: {disktype: [ssd]}", "nodeSelector/disktype"},
		{"podLabels: {control-plane: mine}", "podLabels"},
	} {
		t.Run(tc.values, func(t *testing.T) {
			_, err := renderChart(t, values(t, tc.values))
			if err == nil {
				t.Fatalf("the chart rendered with %q", tc.values)
			}
			if !strings.Contains(err.Error(), "schema") || !strings.Contains(err.Error(), tc.names) {
				t.Errorf("rendering with %q failed with %v, want the schema to refuse %s", tc.values, err, tc.names)
			}
		})
	}
}
