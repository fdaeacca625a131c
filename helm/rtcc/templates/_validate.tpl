{{/*
validateValues: refuse combinations the schema cannot express, with a message that
names the values to change. Called from configmap.yaml (always rendered) and NOTES.txt.
Each check returns one message or nothing.
*/}}
{{- define "rtcc.validateValues" -}}
{{- $messages := list -}}
{{- $messages = append $messages (include "rtcc.validateValues.auth" .) -}}
{{- $messages = append $messages (include "rtcc.validateValues.database" .) -}}
{{- $messages = append $messages (include "rtcc.validateValues.objectStore" .) -}}
{{- $messages = append $messages (include "rtcc.validateValues.bus" .) -}}
{{- $messages = append $messages (include "rtcc.validateValues.configEnv" .) -}}
{{- $messages = append $messages (include "rtcc.validateValues.tls" .) -}}
{{- range $target, $_ := fromYaml (include "rtcc.targets" $) -}}
{{- $messages = append $messages (include "rtcc.validateValues.pdb" (dict "root" $ "target" $target)) -}}
{{- end -}}
{{- range (include "rtcc.scalableTargets" .) | fromJsonArray -}}
{{- $messages = append $messages (include "rtcc.validateValues.autoscaling" (dict "root" $ "target" .)) -}}
{{- end -}}
{{- $messages = without $messages "" -}}
{{- if $messages -}}
{{- printf "\nVALUES VALIDATION:\n%s" (join "\n" $messages) | fail -}}
{{- end -}}
{{- end -}}

{{- define "rtcc.validateValues.auth" -}}
{{- if not .Values.auth.existingSecret -}}
{{- if not .Values.auth.jwtSecret -}}
rtcc: auth
    No JWT secret: set auth.jwtSecret (at least 32 characters) or auth.existingSecret
    (a Secret with the key named by auth.existingSecretJwtKey).
{{- else if lt (len .Values.auth.jwtSecret) 32 -}}
rtcc: auth
    auth.jwtSecret is {{ len .Values.auth.jwtSecret }} characters long; use at least 32.
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "rtcc.validateValues.database" -}}
{{- $bundled := .Values.postgresql.enabled -}}
{{- $external := .Values.externalDatabase -}}
{{- if and $bundled $external.host -}}
rtcc: database
    Both postgresql.enabled=true and externalDatabase.host are set: choose the bundled
    trial PostgreSQL or your own, not both.
{{- else if and (not $bundled) (not $external.host) -}}
rtcc: database
    No database: set externalDatabase.host (with externalDatabase.password or
    externalDatabase.existingSecret) for your PostgreSQL, or postgresql.enabled=true
    to bring up the bundled one for a trial.
{{- else if and (not $bundled) (not $external.existingSecret) (not $external.password) -}}
rtcc: database
    externalDatabase.host is set but no password: set externalDatabase.password or
    externalDatabase.existingSecret.
{{- end -}}
{{- end -}}

{{- define "rtcc.validateValues.objectStore" -}}
{{- $bundled := .Values.minio.enabled -}}
{{- $external := .Values.externalS3 -}}
{{- if and $bundled $external.host -}}
rtcc: object store
    Both minio.enabled=true and externalS3.host are set: choose the bundled trial
    MinIO or your own S3, not both.
{{- else if and (not $bundled) (not $external.host) -}}
rtcc: object store
    No object store: set externalS3.host (with externalS3.accessKeyId and
    externalS3.secretAccessKey, or externalS3.existingSecret) for your S3, or
    minio.enabled=true to bring up the bundled MinIO for a trial.
{{- else if and (not $bundled) (not $external.existingSecret) (not (and $external.accessKeyId $external.secretAccessKey)) -}}
rtcc: object store
    externalS3.host is set but credentials are missing: set externalS3.accessKeyId and
    externalS3.secretAccessKey, or externalS3.existingSecret.
{{- end -}}
{{- end -}}

{{- define "rtcc.validateValues.bus" -}}
{{- if and .Values.nats.enabled .Values.externalNats.host -}}
rtcc: event bus
    Both nats.enabled=true and externalNats.host are set: choose the bundled trial
    NATS or your own, not both.
{{- else if and (not .Values.nats.enabled) (not .Values.externalNats.host) -}}
rtcc: event bus
    No event bus: set externalNats.host for your NATS (JetStream enabled), or
    nats.enabled=true to bring up the bundled one for a trial.
{{- end -}}
{{- end -}}

{{/* The ConfigMap is readable by anyone who can read the namespace: no credentials in it. */}}
{{- define "rtcc.validateValues.configEnv" -}}
{{- $suspect := list -}}
{{- range $name, $_ := .Values.config.env -}}
{{- if regexMatch "(?i)(PASSWORD|SECRET|TOKEN|KEY|CREDENTIAL)" $name -}}
{{- $suspect = append $suspect $name -}}
{{- end -}}
{{- end -}}
{{- if $suspect -}}
rtcc: config.env
    config.env is rendered into a ConfigMap, but these names look like credentials:
    {{ join ", " $suspect }}. Put them in a Secret and reference it from extraEnv
    (valueFrom.secretKeyRef).
{{- end -}}
{{- end -}}

{{/* (dict "root" $ "target" "registry") */}}
{{- define "rtcc.validateValues.pdb" -}}
{{- $pdb := (index .root.Values .target).pdb -}}
{{- if and $pdb.create (not (eq (toString $pdb.minAvailable) "")) (not (eq (toString $pdb.maxUnavailable) "")) -}}
rtcc: {{ .target }}.pdb
    Set either {{ .target }}.pdb.minAvailable or {{ .target }}.pdb.maxUnavailable, not both
    (clear the other with "").
{{- else if and $pdb.create (eq (toString $pdb.minAvailable) "") (eq (toString $pdb.maxUnavailable) "") -}}
rtcc: {{ .target }}.pdb
    {{ .target }}.pdb.create is true but neither minAvailable nor maxUnavailable is set.
{{- end -}}
{{- end -}}

{{/* (dict "root" $ "target" "ingest") */}}
{{- define "rtcc.validateValues.autoscaling" -}}
{{- $hpa := (index .root.Values .target).autoscaling -}}
{{- if $hpa.enabled -}}
{{- if gt (int $hpa.minReplicas) (int $hpa.maxReplicas) -}}
rtcc: {{ .target }}.autoscaling
    minReplicas ({{ $hpa.minReplicas }}) is greater than maxReplicas ({{ $hpa.maxReplicas }}).
{{- else if and (not $hpa.targetCPUUtilizationPercentage) (not $hpa.targetMemoryUtilizationPercentage) -}}
rtcc: {{ .target }}.autoscaling
    Autoscaling is enabled with no metric: set targetCPUUtilizationPercentage or
    targetMemoryUtilizationPercentage.
{{- end -}}
{{- end -}}
{{- end -}}
