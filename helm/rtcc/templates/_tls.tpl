{{/*
gRPC between the targets over TLS, or mutual TLS (values `tls.*`). The certificate,
its key and the CA come from one kubernetes.io/tls Secret with `tls.crt`, `tls.key`
and `ca.crt` (what cert-manager writes), mounted at /etc/rtcc/tls. Every target uses
the same certificate as server and as client; its names are every target's Service
(see certificate.yaml) plus localhost/127.0.0.1, so in-pod probes verify it too.
Kubernetes' own gRPC probes cannot speak TLS: with TLS the probes run `rtcc health`,
which reads the same RTCC_TLS__* variables.
*/}}

{{- define "rtcc.tls.secretName" -}}
{{- .Values.tls.existingSecret | default (printf "%s-grpc-tls" (include "rtcc.fullname" .)) -}}
{{- end -}}

{{- define "rtcc.tls.mountPath" -}}/etc/rtcc/tls{{- end -}}

{{/* RTCC_TLS__* variables of a pod (empty without TLS). */}}
{{- define "rtcc.tls.env" -}}
{{- if .Values.tls.enabled -}}
{{- $dir := include "rtcc.tls.mountPath" . -}}
- name: RTCC_TLS__CERT_FILE
  value: {{ printf "%s/tls.crt" $dir | quote }}
- name: RTCC_TLS__KEY_FILE
  value: {{ printf "%s/tls.key" $dir | quote }}
- name: RTCC_TLS__CA_FILE
  value: {{ printf "%s/ca.crt" $dir | quote }}
{{- if .Values.tls.mutual }}
- name: RTCC_TLS__CLIENT_CA_FILE
  value: {{ printf "%s/ca.crt" $dir | quote }}
- name: RTCC_TLS__CLIENT_CERT_FILE
  value: {{ printf "%s/tls.crt" $dir | quote }}
- name: RTCC_TLS__CLIENT_KEY_FILE
  value: {{ printf "%s/tls.key" $dir | quote }}
{{- end }}
{{- end -}}
{{- end -}}

{{- define "rtcc.tls.volume" -}}
{{- if .Values.tls.enabled -}}
- name: grpc-tls
  secret:
    secretName: {{ include "rtcc.tls.secretName" . }}
    defaultMode: 0440
{{- end -}}
{{- end -}}

{{- define "rtcc.tls.volumeMount" -}}
{{- if .Values.tls.enabled -}}
- name: grpc-tls
  mountPath: {{ include "rtcc.tls.mountPath" . }}
  readOnly: true
{{- end -}}
{{- end -}}

{{/*
One probe's handler and timing. (dict "root" $ "probe" <values> "service" "<name or empty>")
*/}}
{{- define "rtcc.tls.probe" -}}
{{- $root := .root -}}
{{- if $root.Values.tls.enabled -}}
exec:
  command:
    - rtcc
    - health
    - --address
    - {{ printf "127.0.0.1:%v" $root.Values.config.grpcPort | quote }}
    {{- with .service }}
    - --service
    - {{ . }}
    {{- end }}
{{- /* Starting Python takes a moment: give `rtcc health` at least 5 s. */}}
timeoutSeconds: {{ max (int .probe.timeoutSeconds) 5 }}
{{- toYaml (omit .probe "enabled" "timeoutSeconds") | nindent 0 }}
{{- else -}}
grpc:
  port: {{ $root.Values.config.grpcPort }}
  {{- with .service }}
  service: {{ . }}
  {{- end }}
{{- toYaml (omit .probe "enabled") | nindent 0 }}
{{- end }}
{{- end -}}

{{- define "rtcc.validateValues.tls" -}}
{{- $tls := .Values.tls -}}
{{- if $tls.enabled -}}
{{- if and $tls.existingSecret $tls.certManager.enabled -}}
rtcc: tls
    Both tls.existingSecret and tls.certManager.enabled are set: choose one source for
    the gRPC certificate.
{{- else if and (not $tls.existingSecret) (not $tls.certManager.enabled) -}}
rtcc: tls
    tls.enabled needs a certificate: set tls.existingSecret (a kubernetes.io/tls Secret
    with tls.crt, tls.key and ca.crt) or tls.certManager.enabled with tls.certManager.issuerRef.
{{- else if and $tls.certManager.enabled (not $tls.certManager.issuerRef.name) -}}
rtcc: tls
    tls.certManager.enabled needs tls.certManager.issuerRef.name (an Issuer or
    ClusterIssuer of cert-manager that signs the targets' certificate).
{{- end -}}
{{- end -}}
{{- end -}}
