{{/*
Pieces shared by the bundled trial backends (postgresql/, minio/, nats/): each is one
single-replica StatefulSet behind one headless Service, running as a non-root user
on a read-only root filesystem.
*/}}

{{/* A headless Service; also the StatefulSet's serviceName. (dict "root" $ "component" "nats" "ports" (list (dict "name" "client" "port" 4222))) */}}
{{- define "rtcc.bundled.service" -}}
apiVersion: v1
kind: Service
metadata:
  {{- include "rtcc.metadata" . | nindent 2 }}
spec:
  clusterIP: None
  selector:
    {{- include "rtcc.componentSelectorLabels" . | nindent 4 }}
  ports:
    {{- range .ports }}
    - name: {{ .name }}
      port: {{ .port }}
      targetPort: {{ .name }}
      protocol: TCP
    {{- end }}
{{- end -}}

{{/* Pod security context of a bundled backend. (dict "uid" 70) */}}
{{- define "rtcc.bundled.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
fsGroup: {{ .uid }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "rtcc.bundled.containerSecurityContext" -}}
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* The data volume when persistence is off (else volumeClaimTemplates provides it). */}}
{{- define "rtcc.bundled.dataVolume" -}}
{{- if not .persistence.enabled -}}
- name: data
  emptyDir: {}
{{- end -}}
{{- end -}}

{{/* (dict "root" $ "component" "nats" "persistence" .Values.nats.persistence) */}}
{{- define "rtcc.bundled.volumeClaimTemplates" -}}
{{- if .persistence.enabled -}}
volumeClaimTemplates:
  - metadata:
      name: data
      labels:
        {{- include "rtcc.componentSelectorLabels" . | nindent 8 }}
    spec:
      accessModes: ["ReadWriteOnce"]
      {{- with .persistence.storageClass }}
      storageClassName: {{ . | quote }}
      {{- end }}
      resources:
        requests:
          storage: {{ .persistence.size }}
{{- end -}}
{{- end -}}
