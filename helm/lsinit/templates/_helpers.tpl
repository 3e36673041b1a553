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

{{/*
The lsinit container's environment, one list entry per variable: the writer's
and, after LSINIT_ROLE and LSINIT_FOLLOW_MAX_LAG, the followers'. extraEnv
comes last, so it can override.
*/}}
{{- define "lsinit.env" -}}
{{ include "lsinit.coreEnv" . }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The standby's: extraEnv without the names standby.extraEnv sets, then standby.extraEnv. */}}
{{- define "lsinit.standbyEnv" -}}
{{ include "lsinit.coreEnv" . }}
{{- $over := list }}
{{- range .Values.standby.extraEnv }}{{ $over = append $over .name }}{{ end }}
{{- $env := list }}
{{- range .Values.extraEnv }}{{ if not (has .name $over) }}{{ $env = append $env . }}{{ end }}{{ end }}
{{- with concat $env .Values.standby.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Everything but extraEnv. */}}
{{- define "lsinit.coreEnv" -}}
- name: LSINIT_DB
  value: {{ .Values.lsinit.db | quote }}
{{- with .Values.lsinit.replicaUrl }}
- name: LSINIT_REPLICA_URL
  value: {{ . | quote }}
{{- end }}
{{- with .Values.lsinit.replicaEndpoint }}
- name: LITESTREAM_REPLICA_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- with .Values.lsinit.replicaRegion }}
- name: LITESTREAM_REPLICA_REGION
  value: {{ . | quote }}
{{- end }}
{{- if include "lsinit.hasCredentials" . }}
- name: LITESTREAM_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ include "lsinit.secretName" . }}
      key: {{ .Values.credentials.accessKeyIdKey | quote }}
- name: LITESTREAM_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "lsinit.secretName" . }}
      key: {{ .Values.credentials.secretAccessKeyKey | quote }}
{{- end }}
- name: LSINIT_GRACE
  value: "{{ .Values.lsinit.graceSeconds }}s"
- name: LSINIT_HEALTH_ADDR
  value: "0.0.0.0:{{ .Values.lsinit.healthPort }}"
- name: LSINIT_VERIFY_INTERVAL
  value: {{ .Values.lsinit.verifyInterval | quote }}
- name: LSINIT_VERIFY_DIR
  value: /tmp
- name: LSINIT_RESTORE_TIMEOUT
  value: {{ .Values.lsinit.restoreTimeout | quote }}
- name: LSINIT_LOG_LEVEL
  value: {{ .Values.lsinit.logLevel | quote }}
{{- end }}

{{/*
Followers (followers.replicas > 0): their own app.kubernetes.io/name,
<name>-follower, so the writer's selectors (name + instance; immutable on the
StatefulSet) never match a follower pod and the writer's Services stay the
write path.
*/}}
{{- define "lsinit.followerName" -}}
{{- printf "%s-follower" (include "lsinit.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "lsinit.followerSelectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-follower" (include "lsinit.name" .) | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: follower
{{- end }}

{{- define "lsinit.followerLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "lsinit.followerSelectorLabels" . }}
app.kubernetes.io/part-of: {{ include "lsinit.name" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
The standby (standby.enabled): its own app.kubernetes.io/name, <name>-standby,
so the writer's selectors never match it. It shares the label
lsinit-writer-candidate with the writer (the <fullname>-write Service) and
lsinit-reader with the followers (the <fullname>-read Service).
*/}}
{{- define "lsinit.standbyName" -}}
{{- printf "%s-standby" (include "lsinit.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "lsinit.standbySelectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-standby" (include "lsinit.name" .) | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: standby
{{- end }}

{{- define "lsinit.standbyLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "lsinit.standbySelectorLabels" . }}
app.kubernetes.io/part-of: {{ include "lsinit.name" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
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
{{- if .Values.standby.enabled }}
{{- include "lsinit.validateStandby" . }}
{{- end }}
{{- end }}

{{/*
A standby takes over when the writer's lease is vacant: the replica must hold
one (lsinit refuses the standby otherwise, exit 78), and the writer must
restore from the replica whenever it gets the lease back (no volume).
*/}}
{{- define "lsinit.validateStandby" -}}
{{- if .Values.persistence.enabled }}
{{- fail "standby.enabled needs persistence.enabled=false: every stop of the writer hands its lease to the standby, and a writer that gets it back later restores only a missing database, so with a volume it would replicate a copy older than what the standby wrote" }}
{{- end }}
{{- $url := .Values.lsinit.replicaUrl }}
{{- if and $url (not (regexMatch "^(s3|file)://" $url)) }}
{{- fail (printf "standby.enabled: the replica %s cannot hold a lease (only s3:// and file:// do), and a standby takes over the writer's lease" $url) }}
{{- end }}
{{- $keyed := include "lsinit.hasCredentials" . }}
{{- if .Values.extraEnvFrom }}{{ $keyed = "true" }}{{ end }}
{{- range .Values.extraEnv }}
{{- if has .name (list "LITESTREAM_ACCESS_KEY_ID" "AWS_ACCESS_KEY_ID") }}{{ $keyed = "true" }}{{ end }}
{{- if and (eq .name "LSINIT_LEASE") (eq (lower (toString .value)) "off") }}
{{- fail "standby.enabled with LSINIT_LEASE=off in extraEnv: the standby takes over the writer's lease, so both need one" }}
{{- end }}
{{- end }}
{{- range .Values.standby.extraEnv }}
{{- if has .name (list "LSINIT_ROLE" "LSINIT_DB" "LSINIT_REPLICA_URL" "LSINIT_LEASE" "LSINIT_LEASE_TTL") }}
{{- fail (printf "standby.extraEnv sets %s: the standby needs the writer's (set it in extraEnv, which both use)" .name) }}
{{- end }}
{{- end }}
{{- if and (hasPrefix "s3://" $url) (not $keyed) }}
{{- fail "standby.enabled needs replica keys (credentials.existingSecret or accessKeyId/secretAccessKey): keyless credentials cannot sign the s3 lease a standby takes over" }}
{{- end }}
{{- end }}
