{{/*
The NetworkPolicy of one target. Pods of this release (the other targets, the
bundled backends, the helm test pod) always reach every port; other sources reach
gRPC (and playback HTTP) only as networkPolicy.* allows. (dict "root" $ "component" "<target>")
*/}}
{{- define "rtcc.target.networkPolicy" -}}
{{- $root := .root -}}
{{- $np := $root.Values.networkPolicy -}}
{{- if $np.enabled -}}
{{- $isPlayback := eq .component "playback" -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  {{- include "rtcc.metadata" . | nindent 2 }}
spec:
  podSelector:
    matchLabels:
      {{- include "rtcc.componentSelectorLabels" . | nindent 6 }}
  policyTypes:
    - Ingress
    {{- if not $np.allowExternalEgress }}
    - Egress
    {{- end }}
  ingress:
    - from:
        - podSelector:
            matchLabels:
              {{- include "rtcc.selectorLabels" $root | nindent 14 }}
    - ports:
        - port: grpc
        {{- if $isPlayback }}
        - port: http
        {{- end }}
      {{- if not $np.allowExternal }}
      from:
        - podSelector:
            matchLabels:
              {{ include "rtcc.fullname" $root }}-client: "true"
      {{- end }}
    {{- if and $isPlayback (not $np.allowExternal) $np.ingressControllers }}
    - ports:
        - port: http
      from:
        {{- toYaml $np.ingressControllers | nindent 8 }}
    {{- end }}
    - ports:
        - port: metrics
      {{- with $np.metricsFrom }}
      from:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    {{- with $np.extraIngress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- if not $np.allowExternalEgress }}
  egress:
    - ports:
        - port: 53
          protocol: UDP
        - port: 53
          protocol: TCP
    - to:
        - podSelector:
            matchLabels:
              {{- include "rtcc.selectorLabels" $root | nindent 14 }}
    {{- with $np.extraEgress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
{{- end -}}
{{- end -}}
