package helm

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/signerpolicy/signer-policy-operator/internal/manifests"
)

// shippedRuleSpec is the spec of config/prometheus's PrometheusRule, the alerts of docs/metrics.md.
func shippedRuleSpec(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(repoPath(t, "config", "prometheus", "prometheus_rule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rule map[string]any
	if err := yaml.Unmarshal(data, &rule); err != nil {
		t.Fatal(err)
	}
	return rule["spec"].(map[string]any)
}

func onlyOne(t *testing.T, objs []*unstructured.Unstructured, kind string) *unstructured.Unstructured {
	t.Helper()
	found := ofKind(objs, kind)
	if len(found) != 1 {
		t.Fatalf("%d %ss, want 1", len(found), kind)
	}
	return found[0]
}

// The chart's PrometheusRule holds exactly config/prometheus's alerts, Prometheus' own
// {{ $labels }} templates untouched, and its dashboard ConfigMap exactly config/grafana's JSON.
func TestPrometheusRuleAndDashboardAreTheShippedOnes(t *testing.T) {
	objs := mustRender(t, everything)
	rule := onlyOne(t, objs, "PrometheusRule")
	if !reflect.DeepEqual(rule.Object["spec"], shippedRuleSpec(t)) {
		t.Errorf("the chart's PrometheusRule spec differs from config/prometheus/prometheus_rule.yaml's")
	}
	if rule.GetNamespace() != namespace || rule.GetLabels()["release"] != "prometheus" {
		t.Errorf("PrometheusRule %s has labels %v, want the release namespace and metrics.prometheusRule.labels", key(rule), rule.GetLabels())
	}
	if data, _ := json.Marshal(rule.Object["spec"]); !strings.Contains(string(data), "{{ $labels.policy }}") {
		t.Errorf("the chart's PrometheusRule lost Prometheus' templates: %s", data)
	}

	dashboards := typed[corev1.ConfigMap](t, objs, "ConfigMap")
	if len(dashboards) != 1 || dashboards[0].Labels["grafana_dashboard"] != "1" || dashboards[0].Labels["team"] != "platform" {
		t.Fatalf("want one dashboard ConfigMap with metrics.grafanaDashboard.labels, got %d: %+v", len(dashboards), dashboards)
	}
	shipped, err := os.ReadFile(repoPath(t, "config", "grafana", "signer-policy-operator.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want, got any
	if err := json.Unmarshal(shipped, &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(dashboards[0].Data["signer-policy-operator.json"]), &got); err != nil {
		t.Fatalf("the dashboard ConfigMap holds no valid JSON: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Error("the chart's dashboard differs from config/grafana/signer-policy-operator.json")
	}

	for _, vals := range []string{"", "metrics: {enabled: false, prometheusRule: {enabled: true}, grafanaDashboard: {enabled: true}}"} {
		objs := mustRender(t, vals)
		if n := len(ofKind(objs, "PrometheusRule")) + len(ofKind(objs, "ConfigMap")); n != 0 {
			t.Errorf("with values %q the chart renders %d PrometheusRules and dashboards, want none", vals, n)
		}
	}
}

// withFile is the disk with one file's content replaced.
type withFile struct {
	filesys.FileSystem
	path string
	data []byte
}

func (f withFile) ReadFile(path string) ([]byte, error) {
	if path == f.path {
		return f.data, nil
	}
	return f.FileSystem.ReadFile(path)
}

// buildWithPrometheus renders config/<overlay> with its commented-out config/prometheus
// component uncommented, as a user enabling it would.
func buildWithPrometheus(t *testing.T, overlay string) []*unstructured.Unstructured {
	t.Helper()
	dir := repoPath(t, "config", overlay)
	path := filepath.Join(dir, "kustomization.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	enabled := strings.Replace(string(data), "#components:\n#  - ../prometheus\n", "components:\n  - ../prometheus\n", 1)
	if enabled == string(data) {
		t.Fatalf("config/%s/kustomization.yaml has no commented-out config/prometheus component to enable", overlay)
	}
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(withFile{filesys.MakeFsOnDisk(), path, []byte(enabled)}, dir)
	if err != nil {
		t.Fatalf("config/%s with config/prometheus enabled: %v", overlay, err)
	}
	yamlData, err := res.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := manifests.Decode(yamlData)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// config/prometheus, enabled in config/default or config/split as their comments say, adds a
// ServiceMonitor scraping every metrics Service of the install and the same PrometheusRule as the
// chart.
func TestPrometheusComponentMonitorsEveryMetricsService(t *testing.T) {
	for _, overlay := range []string{"default", "split"} {
		t.Run(overlay, func(t *testing.T) {
			objs := buildWithPrometheus(t, overlay)
			rule := onlyOne(t, objs, "PrometheusRule")
			if !reflect.DeepEqual(rule.Object["spec"], shippedRuleSpec(t)) || rule.GetNamespace() != namespace {
				t.Errorf("PrometheusRule %s is not config/prometheus's in the install's namespace", key(rule))
			}
			monitor := onlyOne(t, objs, "ServiceMonitor")
			if monitor.GetNamespace() != namespace {
				t.Errorf("ServiceMonitor %s is outside the install's namespace", key(monitor))
			}
			matchLabels, _, _ := unstructured.NestedStringMap(monitor.Object, "spec", "selector", "matchLabels")
			endpoints, _, _ := unstructured.NestedSlice(monitor.Object, "spec", "endpoints")
			port, _, _ := unstructured.NestedString(endpoints[0].(map[string]any), "port")
			var scraped []string
			for _, svc := range typed[corev1.Service](t, objs, "Service") {
				if !selects(t, &metav1.LabelSelector{MatchLabels: matchLabels}, svc.Labels) {
					continue
				}
				scraped = append(scraped, svc.Name)
				if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != port {
					t.Errorf("the ServiceMonitor scrapes port %q of Service %s, which has %+v", port, svc.Name, svc.Spec.Ports)
				}
			}
			deployments := len(ofKind(objs, "Deployment"))
			if len(scraped) != deployments || !strings.Contains(strings.Join(scraped, " "), "metrics-service") {
				t.Errorf("the ServiceMonitor selects %v, want the %d metrics Services", scraped, deployments)
			}
		})
	}
}
