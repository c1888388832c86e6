package helm

import (
	"testing"

	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
)

// everything turns on every optional part of the chart and sets every value away from its
// default, so that lint, the schema and the API server see each template's every branch.
const everything = `
mode: split
fullnameOverride: sp
image: {repository: registry.example.com/signer-policy-operator, digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", pullPolicy: IfNotPresent}
imagePullSecrets: [{name: registry}]
replicaCount: 3
leaderElection: {enabled: false}
logLevel: debug
clusterResourceNamespace: cert-manager
extraArgs: [--concurrency=8]
extraEnv: [{name: HTTPS_PROXY, value: "http://proxy.example.com:3128"}]
crds: {enabled: true, keep: false}
serviceAccount: {annotations: {example.com/role: signer}}
resources: {requests: {cpu: 100m, memory: 128Mi}, limits: {cpu: null, memory: 512Mi}}
podSecurityContext: {runAsNonRoot: true, runAsUser: 65532, seccompProfile: {type: RuntimeDefault}}
podAnnotations: {example.com/scrape: "false"}
podLabels: {team: platform}
nodeSelector: {kubernetes.io/os: linux}
tolerations: [{key: dedicated, operator: Equal, value: platform, effect: NoSchedule}]
affinity: {podAntiAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [{weight: 100, podAffinityTerm: {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {control-plane: controller-manager}}}}]}}
topologySpreadConstraints: [{maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: ScheduleAnyway, labelSelector: {matchLabels: {control-plane: controller-manager}}}]
priorityClassName: system-cluster-critical
metrics:
  enabled: true
  port: 9444
  serviceMonitor: {enabled: true, interval: 30s, scrapeTimeout: 10s, labels: {release: prometheus}}
  prometheusRule: {enabled: true, labels: {release: prometheus}}
  grafanaDashboard: {enabled: true, labels: {grafana_dashboard: "1", team: platform}}
podDisruptionBudget: {enabled: true, maxUnavailable: 1}
networkPolicy:
  enabled: true
  metricsFrom: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}}]
  acmeHTTP01From: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ingress-nginx}}}]
  egress: [{}]
`

// TestChartLints runs `helm lint` with the chart's defaults, in split mode, and with every
// option on: any warning or error fails.
func TestChartLints(t *testing.T) {
	for name, vals := range map[string]string{"defaults": "", "split": "mode: split", "everything": everything} {
		t.Run(name, func(t *testing.T) {
			linter := lint.All(chartDir(t), values(t, vals), namespace, false)
			for _, m := range linter.Messages {
				if m.Severity >= support.WarningSev {
					t.Error(m)
				} else {
					t.Log(m)
				}
			}
		})
	}
}
