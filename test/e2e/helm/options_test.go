package helm

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
)

// typed converts every rendered object of T's kind.
func typed[T any](t *testing.T, objs []*unstructured.Unstructured, kind string) []*T {
	t.Helper()
	var out []*T
	for _, o := range ofKind(objs, kind) {
		v := new(T)
		if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(o.Object, v, true); err != nil {
			t.Fatalf("%s: %v", key(o), err)
		}
		out = append(out, v)
	}
	return out
}

// selects tells whether a label selector picks objects with these labels.
func selects(t *testing.T, selector *metav1.LabelSelector, set map[string]string) bool {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil {
		t.Fatal(err)
	}
	return !s.Empty() && s.Matches(labels.Set(set))
}

// TestEveryOptionReachesTheDeployments renders every value away from its default and finds
// each in the three split Deployments.
func TestEveryOptionReachesTheDeployments(t *testing.T) {
	objs := mustRender(t, everything)
	deployments := typed[appsv1.Deployment](t, objs, "Deployment")
	if len(deployments) != 3 {
		t.Fatalf("split mode renders %d Deployments, want 3", len(deployments))
	}
	for _, d := range deployments {
		pod, c := d.Spec.Template.Spec, d.Spec.Template.Spec.Containers[0]
		component := d.Spec.Selector.MatchLabels["app.kubernetes.io/component"]
		for what, ok := range map[string]bool{
			"3 replicas":                     *d.Spec.Replicas == 3,
			"the image by digest":            c.Image == "registry.example.com/signer-policy-operator@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			"the pull policy":                c.ImagePullPolicy == corev1.PullIfNotPresent,
			"the pull secret":                len(pod.ImagePullSecrets) == 1 && pod.ImagePullSecrets[0].Name == "registry",
			"its own ServiceAccount":         pod.ServiceAccountName == "sp-"+component,
			"no leader election":             !slices.Contains(c.Args, "--leader-elect"),
			"the metrics port":               slices.Contains(c.Args, "--metrics-bind-address=:9444") && slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "https-metrics" && p.ContainerPort == 9444 }),
			"the log level":                  slices.Contains(c.Args, "--zap-log-level=debug"),
			"the cluster resource namespace": slices.Contains(c.Args, "--cluster-resource-namespace=cert-manager"),
			"the extra args last":            c.Args[len(c.Args)-1] == "--concurrency=8",
			"the extra env":                  slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "HTTPS_PROXY" }),
			"the resources":                  c.Resources.Limits.Memory().String() == "512Mi" && c.Resources.Limits.Cpu().IsZero(),
			"the pod security context":       pod.SecurityContext != nil && *pod.SecurityContext.RunAsUser == 65532,
			"the pod annotation":             d.Spec.Template.Annotations["example.com/scrape"] == "false",
			"the pod label":                  d.Spec.Template.Labels["team"] == "platform",
			"the node selector":              pod.NodeSelector["kubernetes.io/os"] == "linux",
			"the toleration":                 len(pod.Tolerations) == 1,
			"the affinity":                   pod.Affinity != nil && pod.Affinity.PodAntiAffinity != nil,
			"the topology spread":            len(pod.TopologySpreadConstraints) == 1,
			"the priority class":             pod.PriorityClassName == "system-cluster-critical",
			"its selector on its pods":       selects(t, d.Spec.Selector, d.Spec.Template.Labels),
		} {
			if !ok {
				t.Errorf("Deployment %s lacks %s", d.Name, what)
			}
		}
		// Only the signing Deployment serves ACME HTTP-01, behind a Service named after fullname.
		serves := slices.Contains(c.Args, "--acme-http01-service="+namespace+"/sp-acme-http01-signing")
		if serves != (component == "signing") {
			t.Errorf("Deployment %s args %q", d.Name, c.Args)
		}
	}
	for _, sa := range typed[corev1.ServiceAccount](t, objs, "ServiceAccount") {
		if sa.Annotations["example.com/role"] != "signer" {
			t.Errorf("ServiceAccount %s lacks the annotation: %v", sa.Name, sa.Annotations)
		}
	}
}

// TestOptionalObjectsSelectTheOperator checks the PodDisruptionBudgets, the NetworkPolicy and the
// ServiceMonitor each pick what they are for, and only that.
func TestOptionalObjectsSelectTheOperator(t *testing.T) {
	objs := mustRender(t, everything)
	deployments := typed[appsv1.Deployment](t, objs, "Deployment")
	pdbs := typed[policyv1.PodDisruptionBudget](t, objs, "PodDisruptionBudget")
	if len(pdbs) != len(deployments) {
		t.Fatalf("%d PodDisruptionBudgets for %d Deployments", len(pdbs), len(deployments))
	}
	for _, pdb := range pdbs {
		var covers []string
		for _, d := range deployments {
			if selects(t, pdb.Spec.Selector, d.Spec.Template.Labels) {
				covers = append(covers, d.Name)
			}
		}
		if len(covers) != 1 || pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 || pdb.Spec.MinAvailable != nil {
			t.Errorf("PodDisruptionBudget %s covers %v with %+v, want one Deployment, maxUnavailable 1", pdb.Name, covers, pdb.Spec)
		}
	}

	policies := typed[networkingv1.NetworkPolicy](t, objs, "NetworkPolicy")
	if len(policies) != 1 {
		t.Fatalf("%d NetworkPolicies, want 1", len(policies))
	}
	np := policies[0]
	container := deployments[0].Spec.Template.Spec.Containers[0]
	for _, d := range deployments {
		if !selects(t, &np.Spec.PodSelector, d.Spec.Template.Labels) {
			t.Errorf("the NetworkPolicy does not select Deployment %s's pods", d.Name)
		}
	}
	for _, rule := range np.Spec.Ingress {
		for _, p := range rule.Ports {
			named := slices.ContainsFunc(container.Ports, func(cp corev1.ContainerPort) bool { return cp.Name == p.Port.String() })
			if !named && p.Port.IntValue() != container.ReadinessProbe.HTTPGet.Port.IntValue() {
				t.Errorf("the NetworkPolicy admits port %s, which the operator does not listen on", p.Port.String())
			}
		}
	}
	if len(np.Spec.Egress) != 1 || !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
		t.Errorf("the NetworkPolicy does not restrict egress as asked: %+v", np.Spec)
	}

	monitors := ofKind(objs, "ServiceMonitor")
	if len(monitors) != 1 {
		t.Fatalf("%d ServiceMonitors, want 1", len(monitors))
	}
	var selector metav1.LabelSelector
	matchLabels, _, _ := unstructured.NestedStringMap(monitors[0].Object, "spec", "selector", "matchLabels")
	selector.MatchLabels = matchLabels
	endpoints, _, _ := unstructured.NestedSlice(monitors[0].Object, "spec", "endpoints")
	port, _, _ := unstructured.NestedString(endpoints[0].(map[string]any), "port")
	var scraped []string
	for _, svc := range typed[corev1.Service](t, objs, "Service") {
		if !selects(t, &selector, svc.Labels) {
			continue
		}
		scraped = append(scraped, svc.Name)
		if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != port || svc.Spec.Ports[0].Port != 9444 {
			t.Errorf("the ServiceMonitor scrapes port %q of Service %s, which has %+v", port, svc.Name, svc.Spec.Ports)
		}
	}
	if len(scraped) != len(deployments) || !strings.Contains(strings.Join(scraped, " "), "metrics-service") {
		t.Errorf("the ServiceMonitor selects %v, want the %d metrics Services", scraped, len(deployments))
	}
}

// TestMetricsOffLeavesNoMetricsObjects: with metrics off there is no listener, no Service, no
// ServiceMonitor, PrometheusRule or dashboard, and no metrics RBAC.
func TestMetricsOffLeavesNoMetricsObjects(t *testing.T) {
	objs := mustRender(t, "metrics: {enabled: false, serviceMonitor: {enabled: true}, prometheusRule: {enabled: true}, grafanaDashboard: {enabled: true}}")
	for _, o := range objs {
		if strings.Contains(o.GetName(), "metrics") || o.GetKind() == "ServiceMonitor" || o.GetKind() == "PrometheusRule" || o.GetKind() == "ConfigMap" {
			t.Errorf("metrics off, the chart renders %s", key(o))
		}
	}
	for _, d := range typed[appsv1.Deployment](t, objs, "Deployment") {
		c := d.Spec.Template.Spec.Containers[0]
		if !slices.Contains(c.Args, "--metrics-bind-address=0") || slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "https-metrics" }) {
			t.Errorf("metrics off, Deployment %s has args %q and ports %+v", d.Name, c.Args, c.Ports)
		}
	}
}
