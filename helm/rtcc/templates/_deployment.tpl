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
{{- /* Ingest is a StatefulSet: each pod keeps its spool on its own volume and its
  name (its replica id in camera leases) across restarts (docs/operations.md). */}}
{{- $stateful := eq $target "ingest" -}}
{{- $persistent := and $stateful $values.persistence.enabled -}}
apiVersion: apps/v1
kind: {{ ternary "StatefulSet" "Deployment" $stateful }}
metadata:
  {{- include "rtcc.metadata" . | nindent 2 }}
spec:
  {{- if not $autoscaled }}
  replicas: {{ $values.replicas }}
  {{- end }}
  revisionHistoryLimit: {{ $root.Values.revisionHistoryLimit }}
  {{- if $stateful }}
  serviceName: {{ include "rtcc.componentName" . }}-headless
  # Pods start and stop together: camera leases, not pod order, decide who records.
  podManagementPolicy: Parallel
  updateStrategy:
  {{- else }}
  strategy:
  {{- end }}
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
            {{- with (include "rtcc.tls.env" $root) }}
            {{- . | nindent 12 }}
            {{- end }}
            {{- if or $stateful (eq $target "playback") }}
            - name: POD_NAME
              valueFrom: {fieldRef: {fieldPath: metadata.name}}
            - name: POD_IP
              valueFrom: {fieldRef: {fieldPath: status.podIP}}
            {{- end }}
            {{- if $stateful }}
            # Other replicas reach this one under the headless Service, by pod name, to
            # relay the live streams of the cameras it records; the pod name is its id.
            - name: RTCC_INGEST__REPLICA_ID
              value: "$(POD_NAME)"
            - name: RTCC_INGEST__ADVERTISE_ADDRESS
              value: {{ printf "$(POD_NAME).%s-headless.%s.svc:%v" (include "rtcc.componentName" .) (include "rtcc.namespace" $root) $root.Values.config.grpcPort | quote }}
            {{- end }}
            {{- if eq $target "playback" }}
            # Session ids name their pod: any replica forwards a session's calls to it.
            - name: RTCC_PLAYBACK__ADVERTISE_ADDRESS
              value: {{ printf "$(POD_IP):%v" $root.Values.config.grpcPort | quote }}
            - name: RTCC_PLAYBACK__ADVERTISE_URL
              value: {{ printf "http://$(POD_IP):%v" $root.Values.config.httpPort | quote }}
            {{- end }}
            {{- with $values.accelerator }}
            # Where detectors run; a pod that requests GPUs uses them (auto).
            - name: RTCC_ANALYTICS__EXECUTION_PROVIDER
              value: {{ .executionProvider | default (ternary "auto" "cpu" (gt (int .gpus) 0)) | quote }}
            {{- if .objectRuntime }}
            - name: RTCC_ANALYTICS__OBJECT_RUNTIME
              value: {{ .objectRuntime | quote }}
            {{- end }}
            {{- end }}
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
          {{- /* gRPC probes, or `rtcc health` over TLS (templates/_tls.tpl). */}}
          {{- with $root.Values.startupProbe }}
          {{- if .enabled }}
          startupProbe:
            {{- include "rtcc.tls.probe" (dict "root" $root "probe" . "service" "") | nindent 12 }}
          {{- end }}
          {{- end }}
          {{- with $root.Values.livenessProbe }}
          {{- if .enabled }}
          livenessProbe:
            {{- include "rtcc.tls.probe" (dict "root" $root "probe" . "service" "") | nindent 12 }}
          {{- end }}
          {{- end }}
          {{- with $root.Values.readinessProbe }}
          {{- if .enabled }}
          readinessProbe:
            {{- include "rtcc.tls.probe" (dict "root" $root "probe" . "service" $healthService) | nindent 12 }}
          {{- end }}
          {{- end }}
          {{- $resources := deepCopy $values.resources }}
          {{- with $values.accelerator }}
          {{- if gt (int .gpus) 0 }}
          {{- $limits := merge (dict .gpuResource (int .gpus)) ($resources.limits | default dict) }}
          {{- $_ := set $resources "limits" $limits }}
          {{- end }}
          {{- end }}
          resources:
            {{- toYaml $resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.containerSecurityContext | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            - name: data
              mountPath: /var/lib/rtcc
            {{- with (include "rtcc.tls.volumeMount" $root) }}
            {{- . | nindent 12 }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: {{ $root.Values.tmpSizeLimit }}
        {{- if not $persistent }}
        - name: data
          emptyDir:
            sizeLimit: {{ $root.Values.dataDirSizeLimit }}
        {{- end }}
        {{- with (include "rtcc.tls.volume" $root) }}
        {{- . | nindent 8 }}
        {{- end }}
  {{- if $persistent }}
  # The spool (segments not yet stored) survives a restart, a reschedule or an eviction.
  volumeClaimTemplates:
    - metadata:
        name: data
        labels:
          {{- include "rtcc.componentSelectorLabels" . | nindent 10 }}
      spec:
        accessModes:
          {{- toYaml $values.persistence.accessModes | nindent 10 }}
        {{- with $values.persistence.storageClass }}
        storageClassName: {{ . }}
        {{- end }}
        resources:
          requests:
            storage: {{ $values.persistence.size }}
  {{- end }}
{{- end -}}
