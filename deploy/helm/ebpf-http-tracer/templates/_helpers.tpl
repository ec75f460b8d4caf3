{{/* Object names: the release's, or fullnameOverride. */}}
{{- define "ebpf-http-tracer.fullname" -}}
{{ .Values.fullnameOverride | default .Release.Name }}
{{- end }}

{{/* What the DaemonSet and the Service select pods by: never changes over upgrades. */}}
{{- define "ebpf-http-tracer.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "ebpf-http-tracer.labels" -}}
{{ include "ebpf-http-tracer.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/component: agent
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end }}

{{/* The Secret the token is read from: yours, or the one the chart makes. */}}
{{- define "ebpf-http-tracer.tokenSecretName" -}}
{{- if .Values.apiToken.existingSecret -}}
{{ .Values.apiToken.existingSecret }}
{{- else -}}
{{ include "ebpf-http-tracer.fullname" . }}-api-token
{{- end }}
{{- end }}
