{{/* Names and labels. */}}
{{- define "warden.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "warden.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "warden.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "warden.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* The controller Pods (Deployment, Service, PDB, NetworkPolicies select these). */}}
{{- define "warden.selectorLabels" -}}
app.kubernetes.io/name: {{ include "warden.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end -}}

{{/* The session Pods the controller makes (the template carries them). */}}
{{- define "warden.sessionLabels" -}}
app.kubernetes.io/name: {{ include "warden.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: session
{{- end -}}

{{- define "warden.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "warden.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "warden.sessionServiceAccountName" -}}
{{- printf "%s-session" (include "warden.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "warden.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Which Secrets hold what (the chart's own, or the ones named in values). */}}
{{- define "warden.secretName" -}}
{{- include "warden.fullname" . -}}
{{- end -}}

{{- define "warden.hasExternalDatabase" -}}
{{- if or .Values.database.url .Values.database.existingSecret -}}true{{- end -}}
{{- end -}}

{{- define "warden.hasUpstreamKey" -}}
{{- if or .Values.upstream.apiKey .Values.upstream.existingSecret -}}true{{- end -}}
{{- end -}}

{{- define "warden.hasSigningKey" -}}
{{- $key := .Values.audit.signingKey -}}
{{- if or $key.existingSecret $key.keyId -}}true{{- end -}}
{{- end -}}

{{- define "warden.signingKeySecretName" -}}
{{- default (printf "%s-audit-key" (include "warden.fullname" .)) .Values.audit.signingKey.existingSecret -}}
{{- end -}}

{{/*
Rules that span several values. Each failure says what to set: rendering stops rather
than install something unsafe (two writers on one SQLite file, a signing key lost on
restart, session Pods sharing the controller's namespace).
*/}}
{{- define "warden.validate" -}}
{{- $external := include "warden.hasExternalDatabase" . -}}
{{- $replicas := int .Values.replicaCount -}}
{{- if and (gt $replicas 1) (not $external) -}}
{{- fail (printf "replicaCount=%d needs an external PostgreSQL: set database.url or database.existingSecret. SQLite is single-replica (one writer, one audit sequencer)." $replicas) -}}
{{- end -}}
{{- if and (gt $replicas 1) .Values.persistence.enabled -}}
{{- fail "replicaCount > 1: set persistence.enabled=false. Each replica keeps its own scratch data dir; state is in PostgreSQL and the signing key in a Secret." -}}
{{- end -}}
{{- if and (not .Values.persistence.enabled) (not $external) -}}
{{- fail "persistence.enabled=false needs an external PostgreSQL (database.url or database.existingSecret): the SQLite database would be lost with the Pod." -}}
{{- end -}}
{{- if and (not .Values.persistence.enabled) (not (include "warden.hasSigningKey" .)) -}}
{{- fail "persistence.enabled=false needs audit.signingKey (existingSecret, or keyId/privateKey/publicKey): a key made in a scratch dir is lost with the Pod, and checkpoints signed with it could no longer be verified. Make one with `warden audit keygen DIR`." -}}
{{- end -}}
{{- if and .Values.database.url .Values.database.existingSecret -}}
{{- fail "set database.url or database.existingSecret, not both" -}}
{{- end -}}
{{- if and .Values.database.url (not (regexMatch "^postgres(ql)?(\\+psycopg)?://" .Values.database.url)) -}}
{{- fail "database.url must be a postgresql:// URL (SQLite is what you get with no database.url)" -}}
{{- end -}}
{{- if and .Values.upstream.apiKey .Values.upstream.existingSecret -}}
{{- fail "set upstream.apiKey or upstream.existingSecret, not both" -}}
{{- end -}}
{{- $key := .Values.audit.signingKey -}}
{{- if and $key.existingSecret (or $key.keyId $key.privateKey $key.publicKey) -}}
{{- fail "set audit.signingKey.existingSecret or its keyId/privateKey/publicKey, not both" -}}
{{- end -}}
{{- if and (not $key.existingSecret) (or $key.keyId $key.privateKey $key.publicKey) (not (and $key.keyId $key.privateKey $key.publicKey)) -}}
{{- fail "audit.signingKey needs keyId, privateKey and publicKey together (from `warden audit keygen DIR`)" -}}
{{- end -}}
{{- if eq .Values.sessions.namespace .Release.Namespace -}}
{{- fail (printf "sessions.namespace must differ from the release namespace %q: its NetworkPolicy denies all traffic to every Pod in it, the controller's too" .Release.Namespace) -}}
{{- end -}}
{{- end -}}

{{/* PSS "restricted" container settings, for a container of a session Pod. */}}
{{- define "warden.sessionContainer" -}}
image: {{ .root.Values.sessions.image }}
imagePullPolicy: {{ .root.Values.sessions.imagePullPolicy }}
securityContext:
  {{- toYaml .root.Values.sessions.securityContext | nindent 2 }}
{{- end -}}
