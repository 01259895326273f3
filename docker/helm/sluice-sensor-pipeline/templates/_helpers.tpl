{{/* Names, labels and the derived numbers every template shares. */}}

{{- define "sensor.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "sensor.headless" -}}{{ include "sensor.fullname" . }}-headless{{- end -}}

{{- define "sensor.baseLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "sensor.selectorLabels" -}}
{{ include "sensor.baseLabels" . }}
app.kubernetes.io/component: pipeline
{{- end -}}

{{- define "sensor.versionLabels" -}}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "sensor.labels" -}}
{{ include "sensor.selectorLabels" . }}
{{ include "sensor.versionLabels" . }}
{{- end -}}

{{- define "sensor.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "sensor.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{ .Values.serviceAccount.name | default (include "sensor.fullname" .) }}
{{- else -}}
{{ .Values.serviceAccount.name | default "default" }}
{{- end -}}
{{- end -}}

{{/* The Secret with SASL credentials, when SASL is on. */}}
{{- define "sensor.credentialsSecret" -}}
{{- if hasPrefix "SASL_" .Values.kafka.securityProtocol -}}
{{ .Values.kafka.sasl.existingSecret | default (printf "%s-credentials" (include "sensor.fullname" .)) }}
{{- end -}}
{{- end -}}

{{- define "sensor.topicNamespace" -}}
{{ .Values.topics.topicOperatorNamespace | default .Values.kafka.namespace | default .Release.Namespace }}
{{- end -}}

{{/* Clients per pod: a group and a restore consumer per thread, one standby consumer. */}}
{{- define "sensor.consumers" -}}
{{ add (mul 2 .Values.pipeline.numStreamThreads) (ternary 1 0 (gt (int .Values.pipeline.numStandbyReplicas) 0)) }}
{{- end -}}

{{/* The pod's memory budget in MiB (request = limit): see values.yaml "memory". */}}
{{- define "sensor.memoryMiB" -}}
{{- $m := .Values.memory -}}
{{- $threads := int .Values.pipeline.numStreamThreads -}}
{{- add $m.rocksdbMiB $m.recordCacheMiB (mul (include "sensor.consumers" . | int) $m.consumerQueueMiB) (mul $threads $m.producerQueueMiB) $m.overheadMiB -}}
{{- end -}}

{{/* Checks that fail the render with a message naming the value. */}}
{{- define "sensor.checks" -}}
{{- $partitions := int .Values.topics.partitions -}}
{{- $threads := int .Values.pipeline.numStreamThreads -}}
{{- if ne .Values.autoscaling.mode "none" -}}
{{- if gt (mul (int .Values.autoscaling.maxReplicas) $threads) $partitions -}}
{{- fail (printf "autoscaling.maxReplicas (%d) x pipeline.numStreamThreads (%d) exceeds topics.partitions (%d): pods beyond that get no partition and only cause rebalances" (int .Values.autoscaling.maxReplicas) $threads $partitions) -}}
{{- end -}}
{{- if gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas) -}}
{{- fail (printf "autoscaling.minReplicas (%d) exceeds autoscaling.maxReplicas (%d)" (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) -}}
{{- end -}}
{{- else if gt (mul (int .Values.replicas) $threads) $partitions -}}
{{- fail (printf "replicas (%d) x pipeline.numStreamThreads (%d) exceeds topics.partitions (%d)" (int .Values.replicas) $threads $partitions) -}}
{{- end -}}
{{- if and (hasPrefix "SASL_" .Values.kafka.securityProtocol) (not .Values.kafka.sasl.existingSecret) (not .Values.kafka.sasl.password) -}}
{{- fail "kafka.securityProtocol is SASL_*: set kafka.sasl.existingSecret, or kafka.sasl.username and kafka.sasl.password" -}}
{{- end -}}
{{- if and (hasPrefix "SASL_" .Values.kafka.securityProtocol) (not .Values.kafka.sasl.mechanism) -}}
{{- fail "kafka.securityProtocol is SASL_*: set kafka.sasl.mechanism (e.g. SCRAM-SHA-512)" -}}
{{- end -}}
{{- if gt (int .Values.topics.minInsyncReplicas) (int .Values.topics.replicationFactor) -}}
{{- fail (printf "topics.minInsyncReplicas (%d) exceeds topics.replicationFactor (%d): no write could succeed" (int .Values.topics.minInsyncReplicas) (int .Values.topics.replicationFactor)) -}}
{{- end -}}
{{- end -}}

{{/* The scaling behaviour shared by the HPA and KEDA's HPA (values.yaml "autoscaling"). */}}
{{- define "sensor.hpaBehavior" -}}
{{- $a := .Values.autoscaling -}}
scaleUp:
  stabilizationWindowSeconds: {{ $a.scaleUp.stabilizationSeconds }}
  selectPolicy: Max
  policies:
    - type: Pods
      value: {{ $a.scaleUp.podsPerStep }}
      periodSeconds: {{ $a.scaleUp.periodSeconds }}
scaleDown:
  stabilizationWindowSeconds: {{ $a.scaleDown.stabilizationSeconds }}
  selectPolicy: Min
  policies:
    - type: Pods
      value: {{ $a.scaleDown.podsPerStep }}
      periodSeconds: {{ $a.scaleDown.periodSeconds }}
{{- end -}}

{{/* Records of lag of the application, summed over its source partitions (input and
repartition topics). Each partition's owner exports its lag; max() keeps a partition counted
once while its old and new owner both still have a sample (one scrape after a rebalance). */}}
{{- define "sensor.lagQuery" -}}
sum(max by (topic, partition) (sluice_consumer_lag{namespace="{{ .Release.Namespace }}",application="{{ .Values.pipeline.applicationId }}"}))
{{- end -}}
