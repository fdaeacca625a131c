{{/*
The Deployment of one target: `rtcc serve --target=<target>`.
(dict "root" $ "component" "<target>")
*/}}
{{- define "rtcc.target.deployment" -}}
{{- $root := .root -}}
{{- $target := .component -}}
{{- $values := index $root.Values $target -}}
{{- $healthService := index (fromYaml (include "rtcc.targets" $root)) $target -}}
{{- $autoscaled := and (hasKey $values "autoscaling") $values.autoscaling.enabled -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  {{- include "rtcc.metadata" . | nindent 2 }}
spec:
  {{- if not $autoscaled }}
  replicas: {{ $values.replicas }}
  {{- end }}
  revisionHistoryLimit: {{ $root.Values.revisionHistoryLimit }}
  strategy:
    {{- toYaml $values.updateStrategy | nindent 4 }}
  selector:
    matchLabels:
      {{- include "rtcc.componentSelectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "rtcc.componentLabels" . | nindent 8 }}
        {{- with $values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        # A change of configuration or credentials rolls the pods.
        checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
        checksum/secret: {{ include "rtcc.secretInputs" $root | sha256sum }}
        {{- if $root.Values.metrics.scrapeAnnotations }}
        prometheus.io/scrape: "true"
        prometheus.io/port: {{ $root.Values.config.metricsPort | quote }}
        prometheus.io/path: /metrics
        {{- end }}
        {{- with $values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "rtcc.serviceAccountName" $root }}
      automountServiceAccountToken: {{ $root.Values.serviceAccount.automountServiceAccountToken }}
      {{- with (include "rtcc.imagePullSecrets" $root) }}
      {{- . | nindent 6 }}
      {{- end }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      terminationGracePeriodSeconds: {{ $values.terminationGracePeriodSeconds }}
      {{- with $values.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      {{- with (include "rtcc.affinity" .) }}
      affinity:
        {{- . | nindent 8 }}
      {{- end }}
      {{- with $values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $values.topologySpreadConstraints }}
      topologySpreadConstraints:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ $target }}
          image: {{ include "rtcc.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args:
            - serve
            - --target={{ $target }}
          ports:
            - name: grpc
              containerPort: {{ $root.Values.config.grpcPort }}
              protocol: TCP
            - name: metrics
              containerPort: {{ $root.Values.config.metricsPort }}
              protocol: TCP
            {{- if eq $target "playback" }}
            - name: http
              containerPort: {{ $root.Values.config.httpPort }}
              protocol: TCP
            {{- end }}
          envFrom:
            - configMapRef:
                name: {{ include "rtcc.fullname" $root }}
            {{- with $root.Values.extraEnvFrom }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          env:
            {{- include "rtcc.backendEnv" $root | nindent 12 }}
            # Finish draining before Kubernetes' grace period runs out.
            - name: RTCC_DRAIN_GRACE_S
              value: {{ sub (int $values.terminationGracePeriodSeconds) 5 | max 0 | min 300 | quote }}
            # Every target has an HTTP listener; only playback's is reachable from outside the pod.
            - name: RTCC_HTTP_LISTEN
              {{- if eq $target "playback" }}
              value: {{ printf "%s:%v" $root.Values.config.listenHost $root.Values.config.httpPort | quote }}
              {{- else }}
              value: {{ printf "127.0.0.1:%v" $root.Values.config.httpPort | quote }}
              {{- end }}
            {{- with $root.Values.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
            {{- with $values.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- with $root.Values.startupProbe }}
          {{- if .enabled }}
          startupProbe:
            grpc:
              port: {{ $root.Values.config.grpcPort }}
            {{- toYaml (omit . "enabled") | nindent 12 }}
          {{- end }}
          {{- end }}
          {{- with $root.Values.livenessProbe }}
          {{- if .enabled }}
          livenessProbe:
            grpc:
              port: {{ $root.Values.config.grpcPort }}
            {{- toYaml (omit . "enabled") | nindent 12 }}
          {{- end }}
          {{- end }}
          {{- with $root.Values.readinessProbe }}
          {{- if .enabled }}
          readinessProbe:
            grpc:
              port: {{ $root.Values.config.grpcPort }}
              service: {{ $healthService }}
            {{- toYaml (omit . "enabled") | nindent 12 }}
          {{- end }}
          {{- end }}
          resources:
            {{- toYaml $values.resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.containerSecurityContext | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            - name: data
              mountPath: /var/lib/rtcc
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: {{ $root.Values.tmpSizeLimit }}
        - name: data
          emptyDir:
            sizeLimit: {{ $root.Values.dataDirSizeLimit }}
{{- end -}}
