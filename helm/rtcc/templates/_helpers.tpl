{{/*
Names, labels, images and derived values shared by every template.

Helpers that take the chart root are called with `.` (or `$`); helpers about one
target or component take `(dict "root" $ "target" "<name>")`.
*/}}

{{/*
The targets table: each target of `rtcc serve --target=<t>` and the gRPC service
name its health server reports. The one place that lists them.
*/}}
{{- define "rtcc.targets" -}}
registry: rtcc.registry.v1.RegistryService
ingest: rtcc.ingest.v1.IngestService
analytics: rtcc.analytics.v1.AnalyticsService
alerting: rtcc.alerting.v1.AlertingService
evidence: rtcc.evidence.v1.EvidenceService
playback: rtcc.playback.v1.PlaybackService
{{- end -}}

{{/* Targets that may have a HorizontalPodAutoscaler. */}}
{{- define "rtcc.scalableTargets" -}}
{{- list "ingest" "analytics" "playback" | toJson -}}
{{- end -}}

{{- define "rtcc.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Resource name prefix, at most 40 characters so that "<prefix>-postgresql-headless" and
a StatefulSet's revision-hash label stay within 63.
*/}}
{{- define "rtcc.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "rtcc.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "rtcc.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Name of one target's or component's objects: rtcc-registry, rtcc-postgresql. */}}
{{- define "rtcc.componentName" -}}
{{- printf "%s-%s" (include "rtcc.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels every pod of this release carries; NetworkPolicies select on them. */}}
{{- define "rtcc.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rtcc.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "rtcc.labels" -}}
helm.sh/chart: {{ include "rtcc.chart" . }}
{{ include "rtcc.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: openrtcc
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* (dict "root" $ "component" "registry") */}}
{{- define "rtcc.componentSelectorLabels" -}}
{{ include "rtcc.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* (dict "root" $ "component" "registry") */}}
{{- define "rtcc.componentLabels" -}}
{{ include "rtcc.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/*
Metadata common to every object: name, namespace, labels, annotations.
(dict "root" $ "component" "registry" ["name" "<override>"])
*/}}
{{- define "rtcc.metadata" -}}
name: {{ .name | default (include "rtcc.componentName" .) }}
namespace: {{ include "rtcc.namespace" .root }}
labels:
  {{- include "rtcc.componentLabels" . | nindent 2 }}
{{- with .root.Values.commonAnnotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
An image reference. (dict "root" $ "image" .Values.image "defaultTag" "1.2.3")
global.imageRegistry overrides the registry; a digest pins the image.
*/}}
{{- define "rtcc.imageRef" -}}
{{- $registry := .root.Values.global.imageRegistry | default .image.registry -}}
{{- $tag := .image.tag | default .defaultTag | toString -}}
{{- $ref := .image.repository -}}
{{- if $registry -}}{{- $ref = printf "%s/%s" $registry $ref -}}{{- end -}}
{{- if $tag -}}{{- $ref = printf "%s:%s" $ref $tag -}}{{- end -}}
{{- if .image.digest -}}{{- $ref = printf "%s@%s" $ref .image.digest -}}{{- end -}}
{{- $ref -}}
{{- end -}}

{{/* The OpenRTCC image. */}}
{{- define "rtcc.image" -}}
{{- include "rtcc.imageRef" (dict "root" . "image" .Values.image "defaultTag" .Chart.AppVersion) -}}
{{- end -}}

{{- define "rtcc.imagePullSecrets" -}}
{{- $secrets := concat .Values.global.imagePullSecrets .Values.imagePullSecrets | uniq -}}
{{- if $secrets -}}
imagePullSecrets:
  {{- toYaml $secrets | nindent 2 }}
{{- end -}}
{{- end -}}

{{- define "rtcc.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "rtcc.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
Pod affinity: the target's own `affinity` when set, else the anti-affinity preset,
which spreads the target's replicas over nodes. (dict "root" $ "component" "registry")
*/}}
{{- define "rtcc.affinity" -}}
{{- $values := index .root.Values .component -}}
{{- if $values.affinity -}}
{{- toYaml $values.affinity -}}
{{- else if eq .root.Values.podAntiAffinityPreset "soft" -}}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "rtcc.componentSelectorLabels" . | nindent 12 }}
{{- else if eq .root.Values.podAntiAffinityPreset "hard" -}}
podAntiAffinity:
  requiredDuringSchedulingIgnoredDuringExecution:
    - topologyKey: kubernetes.io/hostname
      labelSelector:
        matchLabels:
          {{- include "rtcc.componentSelectorLabels" . | nindent 10 }}
{{- end -}}
{{- end -}}

{{/* RTCC_PUBLIC_URL: config.publicUrl, else derived from the playback Ingress. */}}
{{- define "rtcc.publicUrl" -}}
{{- $ingress := .Values.playback.ingress -}}
{{- if .Values.config.publicUrl -}}
{{- .Values.config.publicUrl -}}
{{- else if and $ingress.enabled $ingress.hosts (first $ingress.hosts).host -}}
{{- printf "%s://%s" (ternary "https" "http" (not (empty $ingress.tls))) (first $ingress.hosts).host -}}
{{- end -}}
{{- end -}}

{{/* ---------------------------------------------------------------------------
Backends: each derived value is the bundled server's when it is enabled, else the
external one's. Credentials live in Secrets; URLs are assembled in the container
with $(VAR) references (see rtcc.backendEnv).
--------------------------------------------------------------------------- */}}

{{/* The chart's own Secret (holds whatever no existingSecret provides). */}}
{{- define "rtcc.secretName" -}}
{{- include "rtcc.fullname" . -}}
{{- end -}}

{{- define "rtcc.jwt.secretName" -}}
{{- .Values.auth.existingSecret | default (include "rtcc.secretName" .) -}}
{{- end -}}

{{- define "rtcc.jwt.secretKey" -}}
{{- if .Values.auth.existingSecret -}}{{- .Values.auth.existingSecretJwtKey -}}{{- else -}}jwt-secret{{- end -}}
{{- end -}}

{{- define "rtcc.database.host" -}}
{{- if .Values.postgresql.enabled -}}
{{- include "rtcc.componentName" (dict "root" . "component" "postgresql") -}}
{{- else -}}
{{- .Values.externalDatabase.host -}}
{{- end -}}
{{- end -}}

{{- define "rtcc.database.port" -}}
{{- if .Values.postgresql.enabled -}}5432{{- else -}}{{- .Values.externalDatabase.port -}}{{- end -}}
{{- end -}}

{{- define "rtcc.database.user" -}}
{{- if .Values.postgresql.enabled -}}{{- .Values.postgresql.auth.username -}}{{- else -}}{{- .Values.externalDatabase.user -}}{{- end -}}
{{- end -}}

{{- define "rtcc.database.name" -}}
{{- if .Values.postgresql.enabled -}}{{- .Values.postgresql.auth.database -}}{{- else -}}{{- .Values.externalDatabase.database -}}{{- end -}}
{{- end -}}

{{- define "rtcc.database.secretName" -}}
{{- if and (not .Values.postgresql.enabled) .Values.externalDatabase.existingSecret -}}
{{- .Values.externalDatabase.existingSecret -}}
{{- else -}}
{{- include "rtcc.secretName" . -}}
{{- end -}}
{{- end -}}

{{- define "rtcc.database.secretPasswordKey" -}}
{{- if and (not .Values.postgresql.enabled) .Values.externalDatabase.existingSecret -}}
{{- .Values.externalDatabase.existingSecretPasswordKey -}}
{{- else -}}database-password{{- end -}}
{{- end -}}

{{/* RTCC_DATABASE_URL with the password left as a $(VAR) reference. */}}
{{- define "rtcc.database.url" -}}
{{- $url := printf "postgresql://%s:$(RTCC_DATABASE_PASSWORD)@%s:%s/%s" (include "rtcc.database.user" .) (include "rtcc.database.host" .) (include "rtcc.database.port" .) (include "rtcc.database.name" .) -}}
{{- if and (not .Values.postgresql.enabled) .Values.externalDatabase.query -}}
{{- $url = printf "%s?%s" $url .Values.externalDatabase.query -}}
{{- end -}}
{{- $url -}}
{{- end -}}

{{- define "rtcc.s3.host" -}}
{{- if .Values.minio.enabled -}}
{{- include "rtcc.componentName" (dict "root" . "component" "minio") -}}
{{- else -}}
{{- .Values.externalS3.host -}}
{{- end -}}
{{- end -}}

{{- define "rtcc.s3.port" -}}
{{- if .Values.minio.enabled -}}9000{{- else -}}{{- .Values.externalS3.port -}}{{- end -}}
{{- end -}}

{{- define "rtcc.s3.secure" -}}
{{- if .Values.minio.enabled -}}false{{- else -}}{{- .Values.externalS3.secure -}}{{- end -}}
{{- end -}}

{{- define "rtcc.s3.region" -}}
{{- if .Values.minio.enabled -}}us-east-1{{- else -}}{{- .Values.externalS3.region -}}{{- end -}}
{{- end -}}

{{- define "rtcc.s3.secretName" -}}
{{- if and (not .Values.minio.enabled) .Values.externalS3.existingSecret -}}
{{- .Values.externalS3.existingSecret -}}
{{- else -}}
{{- include "rtcc.secretName" . -}}
{{- end -}}
{{- end -}}

{{- define "rtcc.s3.accessKeyIdKey" -}}
{{- if and (not .Values.minio.enabled) .Values.externalS3.existingSecret -}}
{{- .Values.externalS3.existingSecretAccessKeyIdKey -}}
{{- else -}}s3-access-key-id{{- end -}}
{{- end -}}

{{- define "rtcc.s3.secretAccessKeyKey" -}}
{{- if and (not .Values.minio.enabled) .Values.externalS3.existingSecret -}}
{{- .Values.externalS3.existingSecretSecretAccessKeyKey -}}
{{- else -}}s3-secret-access-key{{- end -}}
{{- end -}}

{{/* RTCC_OBJECT_STORE_URL with both keys left as $(VAR) references. */}}
{{- define "rtcc.s3.url" -}}
{{- printf "s3://$(RTCC_S3_ACCESS_KEY_ID):$(RTCC_S3_SECRET_ACCESS_KEY)@%s:%s?secure=%s&region=%s" (include "rtcc.s3.host" .) (include "rtcc.s3.port" .) (include "rtcc.s3.secure" .) (include "rtcc.s3.region" . | urlquery) -}}
{{- end -}}

{{- define "rtcc.nats.host" -}}
{{- if .Values.nats.enabled -}}
{{- include "rtcc.componentName" (dict "root" . "component" "nats") -}}
{{- else -}}
{{- .Values.externalNats.host -}}
{{- end -}}
{{- end -}}

{{- define "rtcc.nats.port" -}}
{{- if .Values.nats.enabled -}}4222{{- else -}}{{- .Values.externalNats.port -}}{{- end -}}
{{- end -}}

{{- define "rtcc.bus.url" -}}
{{- printf "nats://%s:%s" (include "rtcc.nats.host" .) (include "rtcc.nats.port" .) -}}
{{- end -}}

{{/*
Environment of every OpenRTCC container that carries or builds on credentials.
Order matters: Kubernetes expands $(VAR) only from variables defined earlier.
*/}}
{{- define "rtcc.backendEnv" -}}
- name: RTCC_AUTH__JWT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "rtcc.jwt.secretName" . }}
      key: {{ include "rtcc.jwt.secretKey" . }}
- name: RTCC_DATABASE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "rtcc.database.secretName" . }}
      key: {{ include "rtcc.database.secretPasswordKey" . }}
- name: RTCC_DATABASE_URL
  value: {{ include "rtcc.database.url" . | quote }}
- name: RTCC_S3_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ include "rtcc.s3.secretName" . }}
      key: {{ include "rtcc.s3.accessKeyIdKey" . }}
- name: RTCC_S3_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "rtcc.s3.secretName" . }}
      key: {{ include "rtcc.s3.secretAccessKeyKey" . }}
- name: RTCC_OBJECT_STORE_URL
  value: {{ include "rtcc.s3.url" . | quote }}
{{- end -}}

{{/*
A credential the chart generates for a bundled backend: the given value, else the
one already in the chart's Secret (so upgrades keep it), else a new random one.
(dict "root" $ "key" "database-password" "value" .Values.postgresql.auth.password)
*/}}
{{- define "rtcc.generatedSecret" -}}
{{- if .value -}}
{{- .value -}}
{{- else -}}
{{- $existing := lookup "v1" "Secret" (include "rtcc.namespace" .root) (include "rtcc.secretName" .root) -}}
{{- if and $existing (hasKey (default (dict) $existing.data) .key) -}}
{{- index $existing.data .key | b64dec -}}
{{- else -}}
{{- randAlphaNum 32 -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Plain-text data of the chart's Secret, as YAML; empty when existing Secrets cover everything. */}}
{{- define "rtcc.secretData" -}}
{{- $data := dict -}}
{{- if not .Values.auth.existingSecret -}}
{{- $_ := set $data "jwt-secret" .Values.auth.jwtSecret -}}
{{- end -}}
{{- if .Values.postgresql.enabled -}}
{{- $_ := set $data "database-password" (include "rtcc.generatedSecret" (dict "root" . "key" "database-password" "value" .Values.postgresql.auth.password)) -}}
{{- else if not .Values.externalDatabase.existingSecret -}}
{{- $_ := set $data "database-password" .Values.externalDatabase.password -}}
{{- end -}}
{{- if .Values.minio.enabled -}}
{{- $_ := set $data "s3-access-key-id" .Values.minio.auth.rootUser -}}
{{- $_ := set $data "s3-secret-access-key" (include "rtcc.generatedSecret" (dict "root" . "key" "s3-secret-access-key" "value" .Values.minio.auth.rootPassword)) -}}
{{- else if not .Values.externalS3.existingSecret -}}
{{- $_ := set $data "s3-access-key-id" .Values.externalS3.accessKeyId -}}
{{- $_ := set $data "s3-secret-access-key" .Values.externalS3.secretAccessKey -}}
{{- end -}}
{{- if $data -}}{{- toYaml $data -}}{{- end -}}
{{- end -}}

{{/*
What the chart's Secret is made from, for the checksum/secret annotation. The values,
not the rendered Secret: generated passwords would change the checksum on every render.
*/}}
{{- define "rtcc.secretInputs" -}}
{{- list .Values.auth .Values.externalDatabase .Values.externalS3 .Values.postgresql.auth .Values.minio.auth | toJson -}}
{{- end -}}
