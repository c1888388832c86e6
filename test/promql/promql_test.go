// Package promql parses every PromQL expression the project ships (the alerts of
// config/prometheus, the Grafana dashboard's queries, the examples of docs/metrics.md) with
// Prometheus' own parser, and checks that they use only metrics docs/metrics.md documents. It is
// a module of its own so that Prometheus' dependencies stay out of the operator's go.mod.
package promql

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"
)

const (
	rulesPath     = "../../config/prometheus/prometheus_rule.yaml"
	chartRules    = "../../config/helm/signer-policy-operator/files/prometheus/prometheus_rule.yaml"
	dashboardPath = "../../config/grafana/signer-policy-operator.json"
	docsPath      = "../../docs/metrics.md"
)

type ruleFile struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Metadata   map[string]any `json:"metadata"`
	Spec       struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Alert       string            `json:"alert"`
				Expr        string            `json:"expr"`
				For         string            `json:"for"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"rules"`
		} `json:"groups"`
	} `json:"spec"`
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// documentedMetrics are the metric names of docs/metrics.md's table of metrics.
func documentedMetrics(t *testing.T) []string {
	t.Helper()
	row := regexp.MustCompile("(?m)^\\| `(signerpolicy_[a-z_]+)` \\|")
	var names []string
	for _, m := range row.FindAllStringSubmatch(string(read(t, docsPath)), -1) {
		names = append(names, m[1])
	}
	if len(names) == 0 {
		t.Fatal("docs/metrics.md documents no metric")
	}
	return names
}

// checkExpr parses expr and checks that every signerpolicy_ metric it selects is documented
// (a histogram's _bucket, _count and _sum series being its own).
func checkExpr(t *testing.T, where, expr string, documented []string) {
	t.Helper()
	parsed, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		t.Errorf("%s: %q does not parse: %v", where, expr, err)
		return
	}
	parser.Inspect(parsed, func(node parser.Node, _ []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok || !strings.HasPrefix(vs.Name, "signerpolicy_") {
			return nil
		}
		name := vs.Name
		for _, suffix := range []string{"_bucket", "_count", "_sum"} {
			if base, found := strings.CutSuffix(name, suffix); found && slices.Contains(documented, base) {
				name = base
			}
		}
		if !slices.Contains(documented, name) {
			t.Errorf("%s: %q uses %s, which docs/metrics.md does not document", where, expr, vs.Name)
		}
		return nil
	})
}

// Every alert parses, uses documented metrics, has a severity and a summary, and is the one
// docs/metrics.md lists; the Helm chart ships the same file.
func TestAlertsParse(t *testing.T) {
	documented := documentedMetrics(t)
	var rules ruleFile
	data := read(t, rulesPath)
	if err := yaml.UnmarshalStrict(data, &rules); err != nil {
		t.Fatal(err)
	}
	if rules.Kind != "PrometheusRule" || len(rules.Spec.Groups) == 0 {
		t.Fatalf("%s is a %q with %d groups, want a PrometheusRule", rulesPath, rules.Kind, len(rules.Spec.Groups))
	}
	var alerts []string
	for _, g := range rules.Spec.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			checkExpr(t, r.Alert, r.Expr, documented)
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("alert %s lacks a severity, a summary or a description", r.Alert)
			}
		}
	}
	listed := regexp.MustCompile("(?m)^\\| `(SignerPolicy[A-Za-z]+)` \\|").FindAllStringSubmatch(string(read(t, docsPath)), -1)
	var documentedAlerts []string
	for _, m := range listed {
		documentedAlerts = append(documentedAlerts, m[1])
	}
	slices.Sort(alerts)
	slices.Sort(documentedAlerts)
	if !slices.Equal(alerts, documentedAlerts) {
		t.Errorf("the rules hold alerts %v, docs/metrics.md lists %v", alerts, documentedAlerts)
	}
	if !bytes.Equal(read(t, chartRules), data) {
		t.Errorf("%s differs from %s: run make manifests", chartRules, rulesPath)
	}
}

// grafanaVariables stand in for what Grafana substitutes before a query reaches Prometheus.
var grafanaVariables = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h")

// The dashboard is valid JSON and every query in it parses and uses documented metrics.
func TestDashboardParses(t *testing.T) {
	documented := documentedMetrics(t)
	var dashboard struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	decoder := json.NewDecoder(bytes.NewReader(read(t, dashboardPath)))
	if err := decoder.Decode(&dashboard); err != nil {
		t.Fatalf("%s is not valid JSON: %v", dashboardPath, err)
	}
	if dashboard.Title == "" || len(dashboard.Panels) == 0 {
		t.Fatalf("%s has no title or no panels", dashboardPath)
	}
	used := map[string]bool{}
	for _, p := range dashboard.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, target := range p.Targets {
			checkExpr(t, "panel "+p.Title, grafanaVariables.Replace(target.Expr), documented)
			for _, m := range documented {
				if strings.Contains(target.Expr, m) {
					used[m] = true
				}
			}
		}
	}
	for _, m := range documented {
		if !used[m] {
			t.Errorf("the dashboard shows nothing of %s", m)
		}
	}
}

// The PromQL examples of docs/metrics.md parse and use documented metrics.
func TestDocumentedQueriesParse(t *testing.T) {
	documented := documentedMetrics(t)
	blocks := regexp.MustCompile("(?s)```promql\n(.*?)```").FindAllStringSubmatch(string(read(t, docsPath)), -1)
	if len(blocks) == 0 {
		t.Fatal("docs/metrics.md has no promql examples")
	}
	for _, b := range blocks {
		checkExpr(t, "docs/metrics.md", b[1], documented)
	}
}
