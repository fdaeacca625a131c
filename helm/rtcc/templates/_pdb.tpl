{{/*
The PodDisruptionBudget of one target. (dict "root" $ "component" "<target>")
*/}}
{{- define "rtcc.target.pdb" -}}
{{- $pdb := (index .root.Values .component).pdb -}}
{{- if $pdb.create -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  {{- include "rtcc.metadata" . | nindent 2 }}
spec:
  {{- if not (eq (toString $pdb.minAvailable) "") }}
  minAvailable: {{ $pdb.minAvailable }}
  {{- else }}
  maxUnavailable: {{ $pdb.maxUnavailable }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "rtcc.componentSelectorLabels" . | nindent 6 }}
{{- end -}}
{{- end -}}
