{{/* Name of the release's objects. */}}
{{- define "nobackoff.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "nobackoff.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "nobackoff.labels" -}}
{{ include "nobackoff.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Secret holding the serving certificate (self and certManager modes). */}}
{{- define "nobackoff.tlsSecret" -}}
{{- if eq .Values.certs.mode "provided" -}}
{{- .Values.certs.provided.secretName -}}
{{- else -}}
{{- printf "%s-tls" (include "nobackoff.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* Namespaces never checked. */}}
{{- define "nobackoff.excluded" -}}
{{- $ns := list "kube-system" .Release.Namespace -}}
{{- range .Values.excludeNamespaces }}{{ $ns = append $ns . }}{{ end -}}
{{- toJson (uniq $ns) -}}
{{- end -}}

{{/* Fail on values that contradict each other. */}}
{{- define "nobackoff.validate" -}}
{{- if and (eq .Values.certs.mode "provided") (or (not .Values.certs.provided.secretName) (not .Values.certs.provided.caBundle)) -}}
{{- fail "certs.mode provided needs certs.provided.secretName and certs.provided.caBundle" -}}
{{- end -}}
{{- if and (ne .Values.certs.mode "provided") (or .Values.certs.provided.secretName .Values.certs.provided.caBundle) -}}
{{- fail (printf "certs.provided.* is set but certs.mode is %s" .Values.certs.mode) -}}
{{- end -}}
{{- range .Values.enforceNamespaces -}}
{{- if or (eq . "kube-system") (eq . $.Release.Namespace) (has . $.Values.excludeNamespaces) -}}
{{- fail (printf "namespace %s is both enforced and excluded" .) -}}
{{- end -}}
{{- end -}}
{{- end -}}
