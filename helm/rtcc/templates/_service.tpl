{{/*
The Service of one target: gRPC, metrics, and HTTP for playback.
(dict "root" $ "component" "<target>")
*/}}
{{- define "rtcc.target.service" -}}
{{- $root := .root -}}
{{- $values := index $root.Values .component -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "rtcc.componentName" . }}
  namespace: {{ include "rtcc.namespace" $root }}
  labels:
    {{- include "rtcc.componentLabels" . | nindent 4 }}
  {{- $annotations := merge (dict) $values.service.annotations $root.Values.commonAnnotations }}
  {{- with $annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ $values.service.type }}
  selector:
    {{- include "rtcc.componentSelectorLabels" . | nindent 4 }}
  ports:
    - name: grpc
      port: {{ $root.Values.config.grpcPort }}
      targetPort: grpc
      protocol: TCP
      appProtocol: grpc
    - name: metrics
      port: {{ $root.Values.config.metricsPort }}
      targetPort: metrics
      protocol: TCP
    {{- if eq .component "playback" }}
    - name: http
      port: {{ $root.Values.config.httpPort }}
      targetPort: http
      protocol: TCP
    {{- end }}
{{- end -}}

{{/*
The headless Service of ingest: one DNS name per pod
(<pod>.<release>-ingest-headless.<namespace>.svc), which each replica advertises in
its camera leases so that the others relay live streams to it. Not-ready pods are
published too: a replica that is starting still records and serves its cameras.
(dict "root" $ "component" "ingest")
*/}}
{{- define "rtcc.target.headlessService" -}}
{{- $root := .root -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "rtcc.componentName" . }}-headless
  namespace: {{ include "rtcc.namespace" $root }}
  labels:
    {{- include "rtcc.componentLabels" . | nindent 4 }}
spec:
  clusterIP: None
  publishNotReadyAddresses: true
  selector:
    {{- include "rtcc.componentSelectorLabels" . | nindent 4 }}
  ports:
    - name: grpc
      port: {{ $root.Values.config.grpcPort }}
      targetPort: grpc
      protocol: TCP
      appProtocol: grpc
{{- end -}}
