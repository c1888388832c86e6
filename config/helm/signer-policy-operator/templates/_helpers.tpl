{{/*
Prefix of every object's name: "signer-policy", as config/default and config/split name them,
unless fullnameOverride says otherwise. The operator is one per cluster, so names do not follow
the release.
*/}}
{{- define "signer-policy-operator.fullname" -}}
{{- default "signer-policy" .Values.fullnameOverride -}}
{{- end }}

{{/*
Labels on every object: the ones config/ puts there, and Helm's own.
*/}}
{{- define "signer-policy-operator.labels" -}}
app.kubernetes.io/name: signer-policy-operator
app.kubernetes.io/part-of: signer-policy-operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{/*
The Deployments the chart runs, as a YAML list. Each names its suffix (the one config/split
gives it), its ServiceAccount, the --controllers it runs, and whether it serves ACME HTTP-01
challenges (the signing controller does).
*/}}
{{- define "signer-policy-operator.components" -}}
{{- if eq .Values.mode "split" }}
- {component: policy, suffix: -policy, serviceAccount: policy, controllers: policy, acme: false}
- {component: approval, suffix: -approval, serviceAccount: approval, controllers: approval, acme: false}
- {component: signing, suffix: -signing, serviceAccount: signing, controllers: signing, acme: true}
{{- else }}
- {component: "", suffix: "", serviceAccount: controller-manager, controllers: "", acme: true}
{{- end }}
{{- end }}

{{/*
Labels selecting one Deployment's pods; the call passes the component's entry as "c".
*/}}
{{- define "signer-policy-operator.selectorLabels" -}}
{{- with .c.component -}}
app.kubernetes.io/component: {{ . }}
{{ end -}}
control-plane: controller-manager
{{- end }}

{{/*
The ServiceAccounts whose pods run the operator, as subjects of a binding.
*/}}
{{- define "signer-policy-operator.subjects" -}}
{{- $root := . }}
{{- range include "signer-policy-operator.components" . | fromYamlArray }}
- kind: ServiceAccount
  name: {{ include "signer-policy-operator.fullname" $root }}-{{ .serviceAccount }}
  namespace: {{ $root.Release.Namespace }}
{{- end }}
{{- end }}

{{- define "signer-policy-operator.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end }}
{{- end }}
