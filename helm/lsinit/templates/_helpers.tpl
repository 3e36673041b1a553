{{/*
Helpers of the lsinit chart. Kept plain on purpose: scripts/check-manifests
renders the chart without helm (text/template + sprig) and validates the output.
*/}}

{{/* Chart name, or nameOverride. */}}
{{- define "lsinit.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name, at most 63 characters. */}}
{{- define "lsinit.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "lsinit.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lsinit.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "lsinit.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "lsinit.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "lsinit.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "lsinit.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "lsinit.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* "true" when the chart creates the credentials Secret (inline keys). */}}
{{- define "lsinit.createSecret" -}}
{{- if and (not .Values.credentials.existingSecret) .Values.credentials.accessKeyId }}true{{ end }}
{{- end }}

{{/* "true" when the container reads keys from a Secret. */}}
{{- define "lsinit.hasCredentials" -}}
{{- if or .Values.credentials.existingSecret .Values.credentials.accessKeyId }}true{{ end }}
{{- end }}

{{- define "lsinit.secretName" -}}
{{- if .Values.credentials.existingSecret }}
{{- .Values.credentials.existingSecret }}
{{- else }}
{{- printf "%s-litestream" (include "lsinit.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* Pod annotations, one per line; empty when there are none. */}}
{{- define "lsinit.podAnnotations" -}}
{{- if .Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .Values.lsinit.healthPort | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- if include "lsinit.createSecret" . }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end }}
{{- with .Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Refuse values that would lose data or not start. */}}
{{- define "lsinit.validate" -}}
{{- $c := .Values.credentials }}
{{- if and $c.existingSecret (or $c.accessKeyId $c.secretAccessKey) }}
{{- fail "credentials: set existingSecret or accessKeyId/secretAccessKey, not both" }}
{{- end }}
{{- if ne (empty $c.accessKeyId) (empty $c.secretAccessKey) }}
{{- fail "credentials: accessKeyId and secretAccessKey must be set together" }}
{{- end }}
{{- if gt (add (int .Values.lsinit.graceSeconds) 2) (int .Values.terminationGracePeriodSeconds) }}
{{- fail (printf "lsinit.graceSeconds (%v) must be at least 2 s below terminationGracePeriodSeconds (%v): the kubelet's SIGKILL would cut the final sync" .Values.lsinit.graceSeconds .Values.terminationGracePeriodSeconds) }}
{{- end }}
{{- if not (hasPrefix (printf "%s/" (trimSuffix "/" .Values.persistence.mountPath)) .Values.lsinit.db) }}
{{- fail (printf "lsinit.db (%s) must be under persistence.mountPath (%s)" .Values.lsinit.db .Values.persistence.mountPath) }}
{{- end }}
{{- end }}
